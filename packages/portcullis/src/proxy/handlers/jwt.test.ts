/**
 * The `jwt` handler on real sockets against a stand-in issuer on loopback: the handler run by a
 * node:http server the way the front door runs it (a thrown PortcullisError becomes its status
 * and headers), and a `next` that records the headers the rest of the chain sees.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ASYMMETRIC_ALGORITHMS } from '@portcullis/verify';
import type { JwtHandler, RouteConfig } from '../../config/types.ts';
import { JWT_ALGORITHMS } from '../../config/jwt-checks.ts';
import { PortcullisError } from '../../kernel/errors.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { ManualClock } from '../../kernel/clock.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { siteIdentityHeaders, stripIdentityHeaders } from '../identity-headers.ts';
import { createRequestContext } from '../request-context.ts';
import { createJwt } from './jwt.ts';
import { testDeps } from '../../../test/support/handler-deps.ts';
import { hs256WithPublicKey, makeKey, startFakeIssuer, unsignedToken, type FakeIssuer } from '../../../../verify/test/support/fake-issuer.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let idp: FakeIssuer;
before(async () => {
  idp = await startFakeIssuer();
  cleanups.push(() => idp.close());
});

function config(overrides: Partial<JwtHandler> = {}): JwtHandler {
  return {
    handler: 'jwt',
    issuer: idp.issuer,
    audience: [idp.issuer],
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    leewayMs: 30_000,
    typ: null,
    require: [],
    claimHeaders: [],
    stripAuthorization: false,
    ...overrides,
  };
}

interface Gate {
  port: number;
  /** The request headers `next` saw, once per request that got through. */
  passed: IncomingHttpHeaders[];
}

/** Serves `handler` on loopback as the front door would, for site `api.test`. */
async function serve(handler: Handler): Promise<Gate> {
  const passed: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger: silentLogger() });
    if (ctx === null) return void res.writeHead(400).end();
    ctx.siteName = 'api.test';
    const next = async (): Promise<void> => {
      passed.push({ ...req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('passed');
    };
    handler(ctx, next).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (!(error instanceof PortcullisError)) return void res.writeHead(500).end(String(error));
      res.writeHead(error.status, { 'x-error-code': error.code, ...error.headers }).end(error.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, passed };
}

/** The handler as a site runs it: the site first removes client copies of its claim headers (runtime.ts). */
async function gate(overrides: Partial<JwtHandler> = {}, deps: HandlerDeps = testDeps()): Promise<Gate> {
  const handlerConfig = config(overrides);
  const route = { handle: [handlerConfig] } as RouteConfig;
  return serve(stripIdentityHeaders(siteIdentityHeaders([route]), null, createJwt(handlerConfig, deps)));
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request; headers as a flat list so a test can send one field twice or in two spellings. Bounded in time. */
function send(port: number, headers: Record<string, string> | string[] = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/reports', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A 401 that says invalid_token, in the RFC 6750 §3 form. */
function assertInvalidToken(reply: Reply, description = /The access token/): void {
  assert.equal(reply.status, 401, reply.body);
  assert.equal(reply.headers['x-error-code'], 'ERR_HTTP_UNAUTHORIZED');
  const challenge = String(reply.headers['www-authenticate']);
  assert.match(challenge, /^Bearer realm="api\.test", error="invalid_token", error_description="[^"]+"$/);
  assert.match(challenge, description);
}

describe('jwt: tokens that pass', () => {
  test('RS256, ES256 and EdDSA tokens from the issuer pass; the Authorization header goes on unchanged', async () => {
    const g = await gate();
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
      const token = await idp.sign({ sub: `svc-${alg}` }, { alg });
      const reply = await send(g.port, bearer(token));
      assert.equal(reply.status, 200, `${alg}: ${reply.body}`);
      assert.equal(g.passed.at(-1)!.authorization, `Bearer ${token}`);
    }
  });

  test('strip_authorization keeps the token from the upstream', async () => {
    const g = await gate({ stripAuthorization: true });
    assert.equal((await send(g.port, bearer(await idp.sign({})))).status, 200);
    assert.equal(g.passed[0]!.authorization, undefined);
  });

  test('the scheme name is case-insensitive (RFC 7235 §2.1)', async () => {
    const g = await gate();
    assert.equal((await send(g.port, { authorization: `bEaReR ${await idp.sign({})}` })).status, 200);
  });
});

describe('jwt: 401 for no token or a bad one (RFC 6750 §3.1)', () => {
  test('no Authorization header, or another scheme: a challenge without an error code', async () => {
    const g = await gate();
    for (const headers of [{}, { authorization: 'Basic YWxpY2U6c2VjcmV0' }] as Record<string, string>[]) {
      const reply = await send(g.port, headers);
      assert.equal(reply.status, 401);
      assert.equal(reply.headers['www-authenticate'], 'Bearer realm="api.test"');
      assert.equal(reply.body, 'A bearer token is required');
    }
    assert.equal(g.passed.length, 0);
  });

  test('a malformed Bearer header, garbage, a token with a bad signature', async () => {
    const g = await gate();
    const good = await idp.sign({});
    const [h, p] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: idp.issuer, aud: idp.issuer, sub: 'admin', iat: 1, exp: 4_000_000_000 })).toString('base64url')}.${good.split('.')[2]}`;
    for (const value of ['Bearer', 'Bearer  two-spaces', `Bearer ${good} extra`, 'Bearer not.a.jwt', `Bearer ${h}.${p}.`, `Bearer ${tampered}`]) {
      assertInvalidToken(await send(g.port, { authorization: value }));
    }
    assert.equal(g.passed.length, 0);
  });

  test('expired beyond the leeway; within the leeway it passes; nbf in the future', async () => {
    const clock = new ManualClock(Date.now());
    const g = await gate({ leewayMs: 10_000 }, testDeps({ clock }));
    const now = Math.floor(clock.now() / 1000);
    const token = await idp.sign({ exp: now + 60 }, { now });
    assert.equal((await send(g.port, bearer(token))).status, 200);
    clock.advance(65_000);
    assert.equal((await send(g.port, bearer(token))).status, 200, 'within the 10s leeway (and no longer from the cache: it ends at exp)');
    clock.advance(10_000);
    assertInvalidToken(await send(g.port, bearer(token)), /expired/);
    assertInvalidToken(await send(g.port, bearer(await idp.sign({ nbf: now + 3600 }, { now }))));
  });

  test('wrong audience, wrong issuer, a token without exp', async () => {
    const g = await gate({ audience: ['https://api.example.com'] });
    assertInvalidToken(await send(g.port, bearer(await idp.sign({}))), /not meant for this resource/);
    assert.equal((await send(g.port, bearer(await idp.sign({ aud: ['other', 'https://api.example.com'] })))).status, 200);
    assertInvalidToken(await send(g.port, bearer(await idp.sign({ aud: 'https://api.example.com', iss: 'https://evil.example' }))), /another issuer/);
    assertInvalidToken(await send(g.port, bearer(await idp.sign({ aud: 'https://api.example.com', exp: undefined }))));
  });

  test('regression: algorithm confusion (HS256 keyed with the public key) and alg none are refused', async () => {
    const g = await gate();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.issuer, aud: idp.issuer, sub: 'admin', iat: now, exp: now + 300 };
    const forged = [
      await hs256WithPublicKey(claims, idp.keys.RS256.publicKey, idp.keys.RS256.kid),
      await hs256WithPublicKey(claims, idp.keys.RS256.publicJwk, idp.keys.RS256.kid),
      unsignedToken(claims),
      unsignedToken(claims, { kid: idp.keys.RS256.kid, typ: 'at+jwt' }),
      `${unsignedToken(claims)}${Buffer.from('x').toString('base64url')}`,
    ];
    for (const token of forged) assertInvalidToken(await send(g.port, bearer(token)));
    // A genuine key pair, but not the issuer's, under the issuer's kid.
    const stranger = await makeKey('RS256', idp.keys.RS256.kid);
    assertInvalidToken(await send(g.port, bearer(await idp.sign({}, { key: stranger }))));
    assert.equal(g.passed.length, 0);
  });

  test('algorithms: a token in an algorithm not listed is refused', async () => {
    const g = await gate({ algorithms: ['ES256'] });
    assertInvalidToken(await send(g.port, bearer(await idp.sign({}, { alg: 'RS256' }))), /algorithm/);
    assert.equal((await send(g.port, bearer(await idp.sign({}, { alg: 'ES256' })))).status, 200);
  });

  test('typ at+jwt: an ID token (no typ, or JWT) is no access token (RFC 9068 §4)', async () => {
    const g = await gate({ typ: 'at+jwt' });
    assertInvalidToken(await send(g.port, bearer(await idp.sign({}))));
    assertInvalidToken(await send(g.port, bearer(await idp.sign({}, { typ: 'JWT' }))));
    assert.equal((await send(g.port, bearer(await idp.sign({}, { typ: 'at+jwt' })))).status, 200);
    assert.equal((await send(g.port, bearer(await idp.sign({}, { typ: 'application/at+jwt' })))).status, 200);
  });

  test('the config’s algorithm list is the SDK’s', () => {
    assert.deepEqual([...JWT_ALGORITHMS], [...ASYMMETRIC_ALGORITHMS]);
  });
});

describe('jwt: require (403 insufficient_scope, RFC 6750 §3.1)', () => {
  test('scope: every listed scope; the challenge names all the route needs', async () => {
    const g = await gate({ require: [{ kind: 'scope', values: ['reports'] }, { kind: 'scope', values: ['invoices:read'] }] });
    assert.equal((await send(g.port, bearer(await idp.sign({ scope: 'invoices:read openid reports' })))).status, 200);
    for (const scope of ['reports', 'invoices:read', undefined, 'reportsinvoices:read']) {
      const reply = await send(g.port, bearer(await idp.sign({ scope })));
      assert.equal(reply.status, 403, String(scope));
      assert.equal(reply.headers['x-error-code'], 'ERR_HTTP_FORBIDDEN');
      assert.equal(
        reply.headers['www-authenticate'],
        'Bearer realm="api.test", error="insufficient_scope", error_description="The access token does not grant access to this resource", scope="reports invoices:read"',
      );
    }
  });

  test('group: any one of the listed groups', async () => {
    const g = await gate({ require: [{ kind: 'group', values: ['admins', 'ops'] }] });
    assert.equal((await send(g.port, bearer(await idp.sign({ groups: ['staff', 'ops'] })))).status, 200);
    for (const groups of [['staff'], [], undefined]) {
      const reply = await send(g.port, bearer(await idp.sign({ groups })));
      assert.equal(reply.status, 403);
      assert.match(String(reply.headers['www-authenticate']), /error="insufficient_scope"/);
      assert.doesNotMatch(String(reply.headers['www-authenticate']), /scope="/);
    }
    // A signed token whose groups claim is not a list of strings is refused, not half-read.
    assertInvalidToken(await send(g.port, bearer(await idp.sign({ groups: 'admins' }))));
  });

  test('claim: equals one value, or as a list contains one; numbers and booleans by their text', async () => {
    const g = await gate({
      require: [
        { kind: 'claim', claim: 'tenant', values: ['acme', 'globex'] },
        { kind: 'claim', claim: 'https://example.com/roles', values: ['editor'] },
        { kind: 'claim', claim: 'email_verified', values: ['true'] },
      ],
    });
    const good = { tenant: 'globex', 'https://example.com/roles': ['viewer', 'editor'], email_verified: true };
    assert.equal((await send(g.port, bearer(await idp.sign(good)))).status, 200);
    const bad: Record<string, unknown>[] = [
      { ...good, tenant: 'initech' },
      { ...good, tenant: ['initech'] },
      { ...good, tenant: undefined },
      { ...good, tenant: { name: 'acme' } },
      { ...good, 'https://example.com/roles': 'viewer' },
      { ...good, email_verified: false },
      { ...good, email_verified: 'yes' },
    ];
    for (const claims of bad) assert.equal((await send(g.port, bearer(await idp.sign(claims)))).status, 403, JSON.stringify(claims));
  });

  test('a claim the token lacks never matches what Object.prototype has', async () => {
    const g = await gate({ require: [{ kind: 'claim', claim: 'toString', values: ['function toString() { [native code] }'] }] });
    assert.equal((await send(g.port, bearer(await idp.sign({})))).status, 403);
  });
});

describe('jwt: claim headers', () => {
  const claimHeaders = [
    { claim: 'sub', header: 'X-Jwt-Sub' },
    { claim: 'groups', header: 'X-Jwt-Groups' },
    { claim: 'scope', header: 'X-Jwt-Scope' },
    { claim: 'level', header: 'X-Jwt-Level' },
    { claim: 'address', header: 'X-Jwt-Address' },
    { claim: 'name', header: 'X-Jwt-Name' },
    { claim: 'tenant', header: 'X_Jwt_Tenant' },
  ];

  test('claims go upstream: strings as they are, lists joined with ",", numbers as text; objects and absent claims not at all', async () => {
    const g = await gate({ claimHeaders });
    const token = await idp.sign({ sub: 'svc', groups: ['a', 'b'], scope: 'reports openid', level: 3, address: { street: 'x' } });
    assert.equal((await send(g.port, bearer(token))).status, 200);
    const seen = g.passed[0]!;
    assert.equal(seen['x-jwt-sub'], 'svc');
    assert.equal(seen['x-jwt-groups'], 'a,b');
    assert.equal(seen['x-jwt-scope'], 'reports openid');
    assert.equal(seen['x-jwt-level'], '3');
    assert.equal(seen['x-jwt-address'], undefined);
    assert.equal(seen['x-jwt-name'], undefined);
    assert.equal(seen['x_jwt_tenant'], undefined);
  });

  test('regression: header spoofing — client-sent copies, in any case and with _ for -, never pass', async () => {
    const g = await gate({ claimHeaders });
    const token = await idp.sign({ sub: 'svc', tenant: 'acme' });
    const spoofed = [
      'Host', 'api.test',
      'Authorization', `Bearer ${token}`,
      'X-Jwt-Sub', 'admin',
      'x_jwt_sub', 'admin',
      'X-JWT-SUB', 'admin',
      'X-Jwt-Name', 'Administrator',
      'X-Jwt-Groups', 'admins',
      'X-Jwt-Tenant', 'globex',
    ];
    assert.equal((await send(g.port, spoofed)).status, 200);
    const seen = g.passed[0]!;
    assert.equal(seen['x-jwt-sub'], 'svc');
    assert.equal(seen['x_jwt_sub'], undefined);
    assert.equal(seen['x-jwt-name'], undefined, 'absent from the token, so absent upstream');
    assert.equal(seen['x-jwt-groups'], undefined);
    assert.equal(seen['x_jwt_tenant'], 'acme');
    assert.equal(seen['x-jwt-tenant'], undefined);
  });

  test('values cannot inject headers: control characters are dropped, UTF-8 goes as bytes', async () => {
    const g = await gate({ claimHeaders });
    const token = await idp.sign({ sub: 'svc\r\nX-Admin: yes', name: 'Zoë' });
    assert.equal((await send(g.port, bearer(token))).status, 200);
    const seen = g.passed[0]!;
    assert.equal(seen['x-jwt-sub'], 'svcX-Admin: yes');
    assert.equal(seen['x-admin'], undefined);
    assert.equal(Buffer.from(String(seen['x-jwt-name']), 'latin1').toString('utf8'), 'Zoë');
  });
});

describe('jwt: the issuer', () => {
  test('nothing is fetched until the first request; one discovery and one key set for many tokens and every handler of a load with the same settings', async () => {
    const other = await startFakeIssuer();
    cleanups.push(() => other.close());
    const deps = testDeps();
    const settings = config({ issuer: other.issuer, audience: [other.issuer] });
    const a = await serve(createJwt(settings, deps));
    const b = await serve(createJwt({ ...settings, require: [{ kind: 'scope', values: ['x'] }] }, deps));
    assert.deepEqual(other.requests, { discovery: 0, jwks: 0 }, 'a config load does not touch the network');
    for (let i = 0; i < 5; i++) {
      const token = await other.sign({ sub: `svc-${i}`, scope: 'x' });
      assert.equal((await send(a.port, bearer(token))).status, 200);
      assert.equal((await send(b.port, bearer(token))).status, 200);
    }
    assert.deepEqual(other.requests, { discovery: 1, jwks: 1 });
    // Another load (a reload) starts afresh: keys rotated meanwhile are fetched.
    const c = await serve(createJwt(settings, testDeps()));
    assert.equal((await send(c.port, bearer(await other.sign({})))).status, 200);
    assert.deepEqual(other.requests, { discovery: 2, jwks: 2 });
  });

  test('an issuer that cannot be reached is a 503 with Retry-After, not a 401, and is not asked again per request', async () => {
    const down = await startFakeIssuer();
    cleanups.push(() => down.close());
    down.setDiscovery(500);
    const g = await gate({ issuer: down.issuer, audience: [down.issuer] });
    const token = await down.sign({});
    for (let i = 0; i < 3; i++) {
      const reply = await send(g.port, bearer(token));
      assert.equal(reply.status, 503);
      assert.equal(reply.headers['x-error-code'], 'ERR_HTTP_UNAVAILABLE');
      assert.equal(reply.headers['retry-after'], '5');
      assert.equal(reply.headers['www-authenticate'], undefined);
    }
    assert.equal(down.requests.discovery, 1, 'failures are remembered for 5 s');
    // Without a token the answer is still the 401: nothing needs the issuer for that.
    assert.equal((await send(g.port)).status, 401);
  });

  test('a discovery document naming another issuer is refused (mix-up, OpenID Connect Discovery §4.3)', async () => {
    const liar = await startFakeIssuer();
    cleanups.push(() => liar.close());
    liar.setDiscovery({ issuer: idp.issuer, jwks_uri: `${liar.issuer}/jwks` });
    const g = await gate({ issuer: liar.issuer, audience: [liar.issuer] });
    assert.equal((await send(g.port, bearer(await liar.sign({})))).status, 503);
    assert.equal(liar.requests.jwks, 0);
  });
});
