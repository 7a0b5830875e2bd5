/**
 * The adapters: the node/Express middleware behind a real node:http server, the Fastify hook and
 * the Hono middleware with objects shaped like those frameworks' (no framework installed).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  createVerifier,
  expressMiddleware,
  fastifyPreHandler,
  honoMiddleware,
  nodeMiddleware,
  sendVerifyError,
  VerifyError,
  type FastifyLikeReply,
  type NodeLikeRequest,
  type VerifiedClaims,
  type Verifier,
} from '../src/index.ts';
import { startFakeIssuer, type FakeIssuer } from './support/fake-issuer.ts';

let idp: FakeIssuer;
let verifier: Verifier;
let good: string;
let wrongAudience: string;
before(async () => {
  idp = await startFakeIssuer();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.issuer, realm: 'orders', typ: 'at+jwt' });
  good = await idp.sign({ scope: 'orders:read', groups: ['ops'], client_id: 'billing' }, { typ: 'at+jwt' });
  wrongAudience = await idp.sign({ aud: 'elsewhere' }, { typ: 'at+jwt' });
});
after(() => idp.close());

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('node:http / Express middleware', () => {
  let server: Server;
  let base: string;
  before(async () => {
    const read = nodeMiddleware(verifier);
    const admin = expressMiddleware(verifier, { scopes: ['orders:read'], groups: ['admins'] });
    const write = nodeMiddleware(verifier, { scopes: ['orders:write'] });
    server = createServer((req, res) => {
      const auth = req.url === '/admin' ? admin : req.url === '/write' ? write : read;
      const request = req as typeof req & NodeLikeRequest;
      void auth(request, res, (error) => {
        if (error !== undefined) {
          res.statusCode = 500;
          res.end();
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ sub: request.auth?.sub, scopes: request.auth?.scopes }));
      });
    });
    base = await listen(server);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('a good token reaches the handler with req.auth', async () => {
    const res = await fetch(`${base}/`, { headers: { authorization: `Bearer ${good}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { sub: 'alice', scopes: ['orders:read'] });
  });

  test('no token: 401 with a bare challenge', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="orders"');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await res.json(), { error: 'unauthorized', error_description: 'A bearer token is required' });
  });

  test('a bad token: 401 invalid_token', async () => {
    for (const authorization of [`Bearer ${good}x`, `Bearer ${wrongAudience}`, 'Bearer  two-spaces', 'Bearer not.a.jwt']) {
      const res = await fetch(`${base}/`, { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="orders", error="invalid_token", error_description="[^"]+"$/);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
    }
  });

  test('missing scope: 403 insufficient_scope naming it; missing group: 403', async () => {
    const write = await fetch(`${base}/write`, { headers: { authorization: `Bearer ${good}` } });
    assert.equal(write.status, 403);
    assert.match(write.headers.get('www-authenticate')!, /error="insufficient_scope".*scope="orders:write"$/);
    assert.equal(((await write.json()) as { error: string }).error, 'insufficient_scope');
    const admin = await fetch(`${base}/admin`, { headers: { authorization: `Bearer ${good}` } });
    assert.equal(admin.status, 403);
    await admin.body?.cancel();
  });

  test('discovery down: 503 with Retry-After and no challenge', async () => {
    const broken = createVerifier({ issuer: idp.issuer, audience: idp.issuer });
    idp.setDiscovery(500);
    try {
      let status = 0;
      const headers: Record<string, string> = {};
      let body = '';
      const res = {
        headersSent: false,
        set statusCode(value: number) {
          status = value;
        },
        get statusCode() {
          return status;
        },
        setHeader(name: string, value: string) {
          headers[name] = value;
        },
        end(text: string) {
          body = text;
        },
      };
      let nextCalled = false;
      await nodeMiddleware(broken)({ headers: { authorization: `Bearer ${good}` } }, res, () => {
        nextCalled = true;
      });
      assert.equal(nextCalled, false);
      assert.equal(status, 503);
      assert.equal(headers['www-authenticate'], undefined);
      assert.equal(headers['retry-after'], '5');
      assert.equal((JSON.parse(body) as { error: string }).error, 'temporarily_unavailable');
    } finally {
      idp.setDiscovery({ issuer: idp.issuer, jwks_uri: `${idp.issuer}/jwks` });
    }
  });

  test('verifyRequest + sendVerifyError for hand-written node handlers', async () => {
    const claims = await verifier.verifyRequest({ headers: { authorization: `Bearer ${good}` } });
    assert.equal(claims.client_id, 'billing');
    await assert.rejects(verifier.verifyRequest({ headers: {} }), VerifyError);
    const sent: string[] = [];
    sendVerifyError({ headersSent: true, statusCode: 200, setHeader: () => sent.push('h'), end: () => sent.push('e') }, new VerifyError('ERR_VERIFY_INVALID_TOKEN', 'x'), 'api');
    assert.deepEqual(sent, [], 'nothing written once headers went out');
  });
});

describe('Fastify preHandler', () => {
  function fakeReply() {
    const state = { status: 200, headers: {} as Record<string, string>, payload: undefined as unknown, sent: false };
    const reply: FastifyLikeReply = {
      code(status) {
        state.status = status;
        return reply;
      },
      header(name, value) {
        state.headers[name] = value;
        return reply;
      },
      send(payload) {
        state.payload = payload;
        state.sent = true;
        return reply;
      },
    };
    return { reply, state };
  }

  test('sets request.auth and lets the route run', async () => {
    const { reply, state } = fakeReply();
    const request: { headers: { authorization: string }; auth: VerifiedClaims | null } = { headers: { authorization: `Bearer ${good}` }, auth: null };
    const result = await fastifyPreHandler(verifier, { scopes: ['orders:read'] })(request, reply);
    assert.equal(result, undefined);
    assert.equal(state.sent, false);
    assert.equal(request.auth?.sub, 'alice');
  });

  test('sends 401 and returns the reply so the route does not run', async () => {
    const { reply, state } = fakeReply();
    const request = { headers: {}, auth: null };
    const result = await fastifyPreHandler(verifier)(request, reply);
    assert.equal(result, reply);
    assert.equal(state.status, 401);
    assert.equal(state.headers['www-authenticate'], 'Bearer realm="orders"');
    assert.deepEqual(state.payload, { error: 'unauthorized', error_description: 'A bearer token is required' });
    assert.equal(request.auth, null);
  });

  test('403 for a missing group', async () => {
    const { reply, state } = fakeReply();
    await fastifyPreHandler(verifier, { groups: ['admins'] })({ headers: { authorization: `Bearer ${good}` } }, reply);
    assert.equal(state.status, 403);
    assert.match(state.headers['www-authenticate']!, /insufficient_scope/);
  });
});

describe('Hono middleware', () => {
  function fakeContext(authorization?: string) {
    const vars = new Map<string, unknown>();
    return {
      vars,
      c: {
        req: { header: (name: string) => (name.toLowerCase() === 'authorization' ? authorization : undefined) },
        set: (key: 'auth', value: VerifiedClaims) => {
          vars.set(key, value);
        },
      },
    };
  }

  test('sets auth and calls next', async () => {
    const { c, vars } = fakeContext(`Bearer ${good}`);
    let nextCalled = false;
    const result = await honoMiddleware(verifier)(c, async () => {
      nextCalled = true;
    });
    assert.equal(result, undefined);
    assert.equal(nextCalled, true);
    assert.equal((vars.get('auth') as VerifiedClaims).sub, 'alice');
  });

  test('answers a 401 Response without calling next', async () => {
    const { c, vars } = fakeContext(`Bearer ${wrongAudience}`);
    let nextCalled = false;
    const result = await honoMiddleware(verifier)(c, async () => {
      nextCalled = true;
    });
    assert.equal(nextCalled, false);
    assert.equal(vars.size, 0);
    assert.ok(result instanceof Response);
    assert.equal(result.status, 401);
    assert.match(result.headers.get('www-authenticate')!, /error="invalid_token"/);
    assert.equal(result.headers.get('content-type'), 'application/json');
    assert.equal(((await result.json()) as { error: string }).error, 'invalid_token');
  });

  test('403 with scope= for a missing scope', async () => {
    const { c } = fakeContext(`Bearer ${good}`);
    const result = await honoMiddleware(verifier, { scopes: ['orders:write'] })(c, async () => {});
    assert.equal(result?.status, 403);
    assert.match(result!.headers.get('www-authenticate')!, /scope="orders:write"/);
  });
});
