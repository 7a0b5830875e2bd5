/**
 * `jwt` end to end: one Portcullis serving the identity provider and an API site whose routes
 * need an access token from it, in front of a real upstream that records what it receives.
 * Tokens are real client_credentials tokens (RFC 9068 JWTs); forged ones are made from the
 * provider's published keys. The provider's access tokens live 1 s here so that an expired
 * one is a real one; the default 30 s leeway keeps the fresh tokens of the other tests good.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { importJWK, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';
import { hs256WithPublicKey, startFakeIssuer, unsignedToken, type FakeIssuer } from '../../verify/test/support/fake-issuer.ts';
import { relyingParty } from './identity/harness.ts';

const SERVICE = { id: 'service', secret: 'service-secret-0123456789abcdef', scope: 'reports' };
const BILLING = { id: 'billing', secret: 'billing-secret-0123456789abcdef', scope: 'invoices' };

let running: Running;
let upstream: Upstream;
let issuer: string;
let api: string;

before(async () => {
  upstream = await startUpstream();
  const [idpPort, apiPort] = await Promise.all([freePort(), freePort()]);
  issuer = `http://127.0.0.1:${idpPort}`;
  api = `http://127.0.0.1:${apiPort}`;
  const to = `reverse_proxy 127.0.0.1:${upstream.port}`;
  running = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
	database sqlite $DIR/identity.db
	identity {
		issuer ${issuer}
		access_token_ttl 1s
		client ${SERVICE.id} {
			secret ${SERVICE.secret}
			grant_types client_credentials
			scopes ${SERVICE.scope}
		}
		client ${BILLING.id} {
			secret ${BILLING.secret}
			grant_types client_credentials
			scopes ${BILLING.scope}
		}
	}
}
${issuer} {
	identity_provider
}
${api} {
	handle /open/* {
		${to}
	}
	handle /strict/* {
		jwt {
			leeway 0s
		}
		${to}
	}
	handle /billing/* {
		jwt {
			audience https://billing.example.com
		}
		${to}
	}
	handle {
		jwt {
			typ at+jwt
			require scope reports
			claim_header sub X-Jwt-Sub
			claim_header client_id X-Jwt-Client
			claim_header scope X-Jwt-Scope
			claim_header groups X-Jwt-Groups
		}
		${to}
	}
}
`);
});

after(async () => {
  await running?.stop();
  await upstream?.close();
});

async function accessToken(client: { id: string; secret: string; scope: string }): Promise<string> {
  const config = await relyingParty(issuer, client.id, client.secret);
  return (await oidc.clientCredentialsGrant(config, { scope: client.scope })).access_token;
}

interface Reply {
  status: number;
  challenge: string | null;
  body: string;
  /** What the upstream received, when the request got there. */
  upstream: Upstream['seen'][number] | undefined;
}

async function call(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const before = upstream.seen.length;
  const res = await fetch(`${api}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body, upstream: upstream.seen.length > before ? upstream.seen.at(-1) : undefined };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function assertInvalidToken(reply: Reply, description = /The access token/): void {
  assert.equal(reply.status, 401, reply.body);
  assert.match(String(reply.challenge), new RegExp(`^Bearer realm="${api}", error="invalid_token", error_description="[^"]+"$`));
  assert.match(String(reply.challenge), description);
  assert.equal(reply.upstream, undefined, 'the upstream never sees the request');
}

/** The provider's current RSA signing key as published, for forgeries. */
async function publishedRsaKey(): Promise<JWK> {
  const jwks = (await (await fetch(`${issuer}/jwks`, { signal: AbortSignal.timeout(10_000) })).json()) as { keys: JWK[] };
  const rsa = jwks.keys.find((k) => k.kty === 'RSA');
  assert.ok(rsa, 'the provider publishes an RSA key');
  return rsa;
}

describe('jwt in front of an API, with tokens from the identity provider', () => {
  test('a client_credentials token passes; the upstream gets the claim headers and the Authorization header', async () => {
    const token = await accessToken(SERVICE);
    const reply = await call('/reports/2024', { ...bearer(token), accept: 'application/json' });
    assert.equal(reply.status, 200, reply.body);
    const seen = reply.upstream!;
    assert.equal(seen.url, '/reports/2024');
    assert.equal(seen.headers['x-jwt-sub'], SERVICE.id, 'sub is the client id (RFC 9068 §2.2)');
    assert.equal(seen.headers['x-jwt-client'], SERVICE.id);
    assert.equal(seen.headers['x-jwt-scope'], 'reports');
    assert.equal(seen.headers['x-jwt-groups'], undefined, 'a client has no groups');
    assert.equal(seen.headers.authorization, `Bearer ${token}`);
  });

  test('no token: 401 with a Bearer challenge and no error code (RFC 6750 §3.1)', async () => {
    const reply = await call('/reports', { accept: 'application/json' });
    assert.equal(reply.status, 401);
    assert.equal(reply.challenge, `Bearer realm="${api}"`);
    assert.equal(JSON.parse(reply.body).error.code, 'ERR_HTTP_UNAUTHORIZED');
    assert.equal(reply.upstream, undefined);
    // Another scheme is no bearer token either.
    assert.equal((await call('/reports', { authorization: `Basic ${Buffer.from(`${SERVICE.id}:${SERVICE.secret}`).toString('base64')}` })).challenge, `Bearer realm="${api}"`);
  });

  test('regression: alg none is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: issuer, sub: 'admin', client_id: 'admin', scope: 'reports', iat: now, exp: now + 300 };
    const rsa = await publishedRsaKey();
    assertInvalidToken(await call('/reports', bearer(unsignedToken(claims, { typ: 'at+jwt', kid: rsa.kid }))));
    assertInvalidToken(await call('/reports', bearer(unsignedToken(claims, { typ: 'at+jwt' }) + 'c2ln')));
  });

  test('regression: algorithm confusion — HS256 signed with the provider’s public key is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: issuer, sub: 'admin', client_id: 'admin', scope: 'reports', iat: now, exp: now + 300 };
    const rsa = await publishedRsaKey();
    const publicKey = await importJWK(rsa, 'RS256');
    assert.ok(!(publicKey instanceof Uint8Array));
    for (const token of [await hs256WithPublicKey(claims, publicKey, rsa.kid), await hs256WithPublicKey(claims, rsa, rsa.kid)]) {
      assertInvalidToken(await call('/reports', bearer(token)));
    }
  });

  test('a token for another audience: 401', async () => {
    assertInvalidToken(await call('/billing/invoices', bearer(await accessToken(BILLING))), /not meant for this resource/);
  });

  test('a valid token without the scope: 403 insufficient_scope naming the scope', async () => {
    const reply = await call('/reports', bearer(await accessToken(BILLING)));
    assert.equal(reply.status, 403);
    assert.equal(reply.challenge, `Bearer realm="${api}", error="insufficient_scope", error_description="The access token does not grant access to this resource", scope="reports"`);
    assert.equal(reply.upstream, undefined);
  });

  test('regression: header spoofing — claim headers a client sends never reach the upstream, on the jwt route or any other', async () => {
    const spoofed = { 'X-Jwt-Sub': 'admin', 'x_jwt_client': 'admin', 'X-JWT-GROUPS': 'admins', 'X_Jwt_Scope': 'everything' };
    const gated = await call('/reports', { ...spoofed, ...bearer(await accessToken(SERVICE)) });
    assert.equal(gated.status, 200);
    const headers = gated.upstream!.headers;
    assert.equal(headers['x-jwt-sub'], SERVICE.id);
    assert.equal(headers['x-jwt-client'], SERVICE.id);
    assert.equal(headers['x-jwt-scope'], 'reports');
    for (const name of ['x-jwt-groups', 'x_jwt_client', 'x_jwt_scope']) assert.equal(headers[name], undefined, name);

    const open = await call('/open/page', spoofed);
    assert.equal(open.status, 200);
    for (const name of ['x-jwt-sub', 'x_jwt_client', 'x-jwt-groups', 'x_jwt_scope', 'x-jwt-client', 'x-jwt-scope']) assert.equal(open.upstream!.headers[name], undefined, name);
  });

  test('an expired token: 401 where there is no leeway; the default 30 s leeway still admits it', async () => {
    const token = await accessToken(SERVICE);
    assert.equal((await call('/strict/x', bearer(token))).status, 200);
    // The token lives 1 s from a whole-second iat: two seconds outlive it.
    await sleep(2100);
    assertInvalidToken(await call('/strict/x', bearer(token)), /expired/);
    assert.equal((await call('/reports', bearer(token))).status, 200);
  });
});

describe('jwt with another issuer, in a config without the identity provider', () => {
  let alone: Running;
  let other: FakeIssuer;
  let site: string;

  before(async () => {
    other = await startFakeIssuer();
    const port = await freePort();
    site = `http://127.0.0.1:${port}`;
    alone = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
}
${site} {
	handle /open/* {
		reverse_proxy 127.0.0.1:${upstream.port}
	}
	handle {
		jwt {
			issuer ${other.issuer}
			audience https://api.example.com
			require group ops
			claim_header sub X-Jwt-Sub
			claim_header groups X-Jwt-Groups
		}
		reverse_proxy 127.0.0.1:${upstream.port}
	}
}
`);
  });

  after(async () => {
    await alone?.stop();
    await other?.close();
  });

  async function get(path: string, headers: Record<string, string>): Promise<{ status: number; upstream: Upstream['seen'][number] | undefined }> {
    const before = upstream.seen.length;
    const res = await fetch(`${site}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return { status: res.status, upstream: upstream.seen.length > before ? upstream.seen.at(-1) : undefined };
  }

  test('its tokens pass, and client-sent claim headers are removed on every route of the site', async () => {
    const spoofed = { 'X-Jwt-Sub': 'admin', 'x_jwt_groups': 'admins' };
    const token = await other.sign({ aud: 'https://api.example.com', sub: 'svc', groups: ['ops'] });
    const gated = await get('/x', { ...spoofed, authorization: `Bearer ${token}` });
    assert.equal(gated.status, 200);
    assert.equal(gated.upstream!.headers['x-jwt-sub'], 'svc');
    assert.equal(gated.upstream!.headers['x-jwt-groups'], 'ops');
    assert.equal(gated.upstream!.headers['x_jwt_groups'], undefined);
    assert.equal((await get('/x', { authorization: `Bearer ${await other.sign({ aud: 'https://api.example.com', groups: ['staff'] })}` })).status, 403);

    const open = await get('/open/x', spoofed);
    assert.equal(open.status, 200);
    assert.equal(open.upstream!.headers['x-jwt-sub'], undefined);
    assert.equal(open.upstream!.headers['x_jwt_groups'], undefined);
    assert.equal(other.requests.discovery, 1);
  });
});
