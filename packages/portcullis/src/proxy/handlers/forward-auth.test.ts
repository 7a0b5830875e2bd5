/**
 * forward_auth on real sockets: a node:http auth server, the handler run by a node:http server
 * the way the front door runs it, and a `next` that records what the rest of the chain sees.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ForwardAuthHandler } from '../../config/types.ts';
import { PortcullisError } from '../../kernel/errors.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { createRequestContext } from '../request-context.ts';
import { createForwardAuth } from './forward-auth.ts';
import { testDeps } from '../../../test/support/handler-deps.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closer(server: Server): () => Promise<void> {
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

interface AuthSeen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface AuthServer {
  dial: string;
  seen: AuthSeen[];
  /** TCP connections accepted so far. */
  connections(): number;
}

/** A real auth server: records each request (body included), then answers with `answer`. */
async function authServer(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<AuthServer> {
  const seen: AuthSeen[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      answer(req, res);
    });
  });
  server.on('connection', () => connections++);
  const port = await listen(server);
  cleanups.push(closer(server));
  return { dial: `127.0.0.1:${port}`, seen, connections: () => connections };
}

function config(dials: string[], overrides: Partial<ForwardAuthHandler> = {}): ForwardAuthHandler {
  return {
    handler: 'forward_auth',
    uri: '/verify',
    copy_headers: [],
    upstreams: dials.map((dial) => ({ dial, scheme: 'http' })),
    load_balancing: { policy: 'first', try_duration_ms: 0, try_interval_ms: 50 },
    health_checks: { active: null, passive: null },
    headers: {},
    transport: { dial_timeout_ms: 1000, response_header_timeout_ms: 0, read_timeout_ms: 0, write_timeout_ms: 0, keepalive_idle_ms: 0, max_conns_per_host: 0, tls: null },
    ...overrides,
  };
}

interface Passed {
  headers: IncomingHttpHeaders;
  body: string;
}

interface Gate {
  port: number;
  /** What `next` saw, once per request that got through. */
  passed: Passed[];
}

/** Runs the handler; `next` reads the client's body and answers 200 "passed". */
async function gate(cfg: ForwardAuthHandler, trustedProxies: string[] = []): Promise<Gate> {
  const disposers: (() => void | Promise<void>)[] = [];
  const deps = testDeps({ trustedProxies, onDispose: (fn) => void disposers.push(fn) });
  const handler = createForwardAuth(cfg, deps);
  const passed: Passed[] = [];
  const server = createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger: silentLogger() });
    if (ctx === null) return void res.writeHead(400).end();
    const next = (): Promise<void> =>
      new Promise((resolve) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          passed.push({ headers: { ...req.headers }, body: Buffer.concat(chunks).toString() });
          res.writeHead(200, { 'content-type': 'text/plain' }).end('passed');
          resolve();
        });
      });
    handler(ctx, next).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof PortcullisError) res.writeHead(error.status, { 'x-error-code': error.code }).end();
      else res.writeHead(500).end(String(error));
    });
  });
  const port = await listen(server);
  cleanups.push(async () => {
    await closer(server)();
    for (const dispose of disposers) await dispose();
  });
  return { port, passed };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** One request; `rawHeaders` lets a test send one field twice, in two spellings. Bounded in time. */
function send(port: number, options: { method?: string; path?: string; headers?: Record<string, string> | string[]; body?: string; agent?: false } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('forward_auth: 2xx', () => {
  test('copies the listed fields, renamed, onto the request; the rest of the chain runs with the body intact', async () => {
    const auth = await authServer((_req, res) => {
      res.writeHead(200, { 'Remote-User': 'alice', 'REMOTE-GROUPS': 'admins,dev', 'remote-email': 'alice@example.com', 'x-not-listed': 'no' });
      res.end('ok body that is dropped');
    });
    const g = await gate(config([auth.dial], { copy_headers: [{ from: 'Remote-User', to: 'Remote-User' }, { from: 'Remote-Groups', to: 'X-Groups' }, { from: 'Remote-Name', to: 'Remote-Name' }] }));
    const reply = await send(g.port, { method: 'POST', path: '/app?x=1', headers: { 'content-type': 'text/plain' }, body: 'the client body' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'passed');
    const passed = g.passed[0]!;
    assert.equal(passed.headers['remote-user'], 'alice');
    assert.equal(passed.headers['x-groups'], 'admins,dev');
    assert.equal(passed.headers['remote-groups'], undefined);
    assert.equal(passed.headers['x-not-listed'], undefined);
    assert.equal(passed.headers['remote-email'], undefined, 'not listed');
    assert.equal(passed.headers['remote-name'], undefined, 'listed but absent');
    assert.equal(passed.body, 'the client body');
  });

  test('the auth server gets a GET without a body, with X-Forwarded-Method and the raw X-Forwarded-Uri', async () => {
    const auth = await authServer((_req, res) => res.writeHead(204).end());
    const g = await gate(config([auth.dial]));
    const target = '/a%2Fb/%7Euser/x;v=1?q=%20y&z=1';
    const reply = await send(g.port, { method: 'PUT', path: target, headers: { 'content-type': 'application/json', host: 'app.example' }, body: '{"secret":1}' });
    assert.equal(reply.status, 200);
    const seen = auth.seen[0]!;
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/verify', 'the client query is not appended');
    assert.equal(seen.body, '');
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.headers['transfer-encoding'], undefined);
    assert.equal(seen.headers['x-forwarded-method'], 'PUT');
    assert.equal(seen.headers['x-forwarded-uri'], target);
    assert.equal(seen.headers['x-forwarded-host'], 'app.example');
    // With dot segments, the path the matchers saw (request-context.ts), never one the auth
    // server could resolve differently.
    await send(g.port, { path: '/public/x//../../admin?q=1', headers: { host: 'app.example' } });
    assert.equal(auth.seen[1]!.headers['x-forwarded-uri'], '/admin?q=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers.host, 'app.example');
    assert.equal(g.passed[0]!.body, '{"secret":1}');
  });

  test('a HEAD request is asked about with a GET', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200).end());
    const g = await gate(config([auth.dial]));
    await send(g.port, { method: 'HEAD', path: '/h' });
    assert.equal(auth.seen[0]!.method, 'GET');
    assert.equal(auth.seen[0]!.headers['x-forwarded-method'], 'HEAD');
  });

  test('several values of a copied field reach the request as one field', async () => {
    const auth = await authServer((_req, res) => {
      res.setHeader('x-role', ['reader', 'writer']);
      res.writeHead(200).end();
    });
    const g = await gate(config([auth.dial], { copy_headers: [{ from: 'X-Role', to: 'X-Role' }] }));
    await send(g.port);
    assert.equal(g.passed[0]!.headers['x-role'], 'reader, writer');
  });

  test('header_up edits the auth request, and may set X-Forwarded-Uri itself', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200).end());
    const g = await gate(config([auth.dial], { headers: { request: { set: { 'X-Site': ['app'], 'X-Forwarded-Uri': ['/fixed'] } } } }));
    await send(g.port, { path: '/real' });
    assert.equal(auth.seen[0]!.headers['x-site'], 'app');
    assert.equal(auth.seen[0]!.headers['x-forwarded-uri'], '/fixed');
  });

  test('the uri takes placeholders, each escaped for its part; the client query is not appended', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200).end());
    const g = await gate(config([auth.dial], { uri: '/check/{http.request.header.x-app}?path={path}&fixed=a b' }));
    await send(g.port, { path: '/p/q&r=1?mine=1', headers: { 'x-app': 'one two' } });
    assert.equal(auth.seen[0]!.url, '/check/one%20two?path=%2Fp%2Fq%26r%3D1&fixed=a%20b');
  });

  test('a placeholder value cannot climb above the literal start of the uri', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200).end());
    const g = await gate(config([auth.dial], { uri: '/check/{http.request.header.x-app}' }));
    const reply = await send(g.port, { headers: { 'x-app': '../../admin' } });
    assert.equal(reply.status, 400);
    assert.equal(auth.seen.length, 0);
    assert.equal(g.passed.length, 0);
    await send(g.port, { headers: { 'x-app': 'a/../b' } });
    assert.equal(auth.seen[0]!.url, '/check/b', 'dot segments are resolved before sending');
  });

  test('a 2xx body is read and dropped: one kept-alive connection serves every auth request', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(4096)));
    const g = await gate(config([auth.dial]));
    for (let i = 0; i < 5; i++) assert.equal((await send(g.port, { path: `/n${i}` })).status, 200);
    assert.equal(auth.seen.length, 5);
    assert.equal(auth.connections(), 1);
  });
});

describe('forward_auth: spoofed identity headers (GHSA-7r4p-vjf4-gxv4)', () => {
  test('a client-sent copy_headers field never reaches the chain when the 2xx answer lacks it', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200).end());
    const g = await gate(config([auth.dial], { copy_headers: [{ from: 'Remote-User', to: 'Remote-User' }, { from: 'Remote-Groups', to: 'X-Groups' }] }));
    const reply = await send(g.port, { headers: ['Remote-User', 'admin', 'remote-user', 'admin', 'X-Groups', 'admins', 'Host', '127.0.0.1'] });
    assert.equal(reply.status, 200);
    assert.equal(g.passed[0]!.headers['remote-user'], undefined);
    assert.equal(g.passed[0]!.headers['x-groups'], undefined);
  });

  test('when the auth server answers with the field, the chain sees its value only, once', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200, { 'remote-user': 'bob' }).end());
    const g = await gate(config([auth.dial], { copy_headers: [{ from: 'Remote-User', to: 'Remote-User' }] }));
    await send(g.port, { headers: ['Remote-User', 'admin', 'remote-user', 'root', 'Host', '127.0.0.1'] });
    assert.equal(g.passed[0]!.headers['remote-user'], 'bob');
  });

  test('an empty value from the auth server counts as absent', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200, { 'remote-user': '' }).end());
    const g = await gate(config([auth.dial], { copy_headers: [{ from: 'Remote-User', to: 'Remote-User' }] }));
    await send(g.port, { headers: { 'remote-user': 'admin' } });
    assert.equal(g.passed[0]!.headers['remote-user'], undefined);
  });

  test('a client cannot choose the URL the auth server judges: X-Forwarded-Uri/-Method and X-Original-* are ours', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200).end());
    const g = await gate(config([auth.dial]));
    await send(g.port, {
      method: 'DELETE',
      path: '/admin/delete',
      headers: { 'x-forwarded-uri': '/public', 'x-forwarded-method': 'GET', 'x-original-url': 'https://app.example/public', 'x-original-method': 'GET', 'x-forwarded-host': 'public.example' },
    });
    const seen = auth.seen[0]!.headers;
    assert.equal(seen['x-forwarded-uri'], '/admin/delete');
    assert.equal(seen['x-forwarded-method'], 'DELETE');
    assert.equal(seen['x-original-url'], undefined);
    assert.equal(seen['x-original-method'], undefined);
    assert.equal(seen['x-forwarded-host'], `127.0.0.1:${g.port}`, 'an untrusted client\'s X-Forwarded-Host is replaced');
  });
});

describe('forward_auth: behind a trusted proxy', () => {
  test('its X-Forwarded-Host/-Proto pass, but X-Forwarded-Uri/-Method are still ours and X-Original-URL still goes', async () => {
    const auth = await authServer((_req, res) => res.writeHead(200).end());
    const g = await gate(config([auth.dial]), ['127.0.0.1/32']);
    await send(g.port, {
      path: '/real?x=1',
      headers: { 'x-forwarded-host': 'app.example', 'x-forwarded-proto': 'https', 'x-forwarded-uri': '/other', 'x-original-url': 'https://app.example/other' },
    });
    const seen = auth.seen[0]!.headers;
    assert.equal(seen['x-forwarded-host'], 'app.example');
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-forwarded-uri'], '/real?x=1');
    assert.equal(seen['x-original-url'], undefined);
  });
});

describe('forward_auth: refusals', () => {
  test('a non-2xx answer (status, headers, cookies, body) goes to the client as it is; the chain stops', async () => {
    const auth = await authServer((_req, res) => {
      res.setHeader('set-cookie', ['auth_state=xyz; Path=/; HttpOnly', 'rd=1; Path=/']);
      res.writeHead(302, { location: 'https://auth.example/login?rd=https%3A%2F%2Fapp.example%2F', 'x-auth': 'deny', 'content-type': 'text/html' });
      res.end('<a href="https://auth.example/login">sign in</a>');
    });
    const g = await gate(config([auth.dial], { copy_headers: [{ from: 'Remote-User', to: 'Remote-User' }] }));
    const reply = await send(g.port, { path: '/private' });
    assert.equal(reply.status, 302);
    assert.equal(reply.headers.location, 'https://auth.example/login?rd=https%3A%2F%2Fapp.example%2F');
    assert.deepEqual(reply.headers['set-cookie'], ['auth_state=xyz; Path=/; HttpOnly', 'rd=1; Path=/']);
    assert.equal(reply.headers['x-auth'], 'deny');
    assert.equal(reply.body, '<a href="https://auth.example/login">sign in</a>');
    assert.equal(g.passed.length, 0);
  });

  test('a 401 with a chunked body is relayed whole; header_down edits it', async () => {
    const auth = await authServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"', server: 'authd' });
      res.write('part one, ');
      res.end('part two');
    });
    const g = await gate(config([auth.dial], { headers: { response: { delete: ['Server'] } } }));
    const reply = await send(g.port);
    assert.equal(reply.status, 401);
    assert.equal(reply.headers['www-authenticate'], 'Basic realm="x"');
    assert.equal(reply.headers.server, undefined);
    assert.equal(reply.body, 'part one, part two');
    assert.equal(g.passed.length, 0);
  });
});

describe('forward_auth: failures', () => {
  test('an auth server that is down is a 502; the chain never runs and spoofed fields are still removed', async () => {
    const dead = await authServer(() => {});
    const deadDial = dead.dial;
    // Stop it: connections are now refused.
    await cleanups.pop()!();
    const g = await gate(config([deadDial], { copy_headers: [{ from: 'Remote-User', to: 'Remote-User' }] }));
    const reply = await send(g.port, { headers: { 'remote-user': 'admin' } });
    assert.equal(reply.status, 502);
    assert.equal(reply.headers['x-error-code'], 'ERR_UPSTREAM_FAILED');
    assert.equal(g.passed.length, 0);
  });

  test('lb_try_duration moves on to the next auth upstream', async () => {
    const dead = await authServer(() => {});
    const deadDial = dead.dial;
    await cleanups.pop()!();
    const auth = await authServer((_req, res) => res.writeHead(200, { 'remote-user': 'carol' }).end());
    const g = await gate(
      config([deadDial, auth.dial], { copy_headers: [{ from: 'Remote-User', to: 'Remote-User' }], load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 10 } }),
    );
    const reply = await send(g.port);
    assert.equal(reply.status, 200);
    assert.equal(g.passed[0]!.headers['remote-user'], 'carol');
  });

  test('an auth server slower than response_header_timeout is a 504', async () => {
    const slow: ServerResponse[] = [];
    const auth = await authServer((_req, res) => void slow.push(res));
    const cfg = config([auth.dial]);
    cfg.transport.response_header_timeout_ms = 100;
    const g = await gate(cfg);
    const reply = await send(g.port);
    assert.equal(reply.status, 504);
    assert.equal(g.passed.length, 0);
    for (const res of slow) res.destroy();
  });

  test('a client that leaves while the auth server thinks ends the auth request', async () => {
    const held: ServerResponse[] = [];
    let closed = 0;
    const auth = await authServer((req, res) => {
      held.push(res);
      req.socket.on('close', () => closed++);
    });
    const g = await gate(config([auth.dial]));
    const socket: Socket = await new Promise((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: g.port, path: '/', agent: false });
      req.on('error', () => {});
      req.on('socket', (s) => resolve(s as Socket));
      req.end();
    });
    for (let i = 0; i < 100 && auth.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(auth.seen.length, 1);
    socket.destroy();
    for (let i = 0; i < 100 && closed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closed, 1, 'the auth connection was aborted');
    assert.equal(g.passed.length, 0);
    for (const res of held) res.destroy();
  });
});

describe('forward_auth: config', () => {
  test('bad copy_headers names and an unusable uri are config errors', () => {
    const deps = testDeps();
    assert.throws(() => createForwardAuth(config(['127.0.0.1:1'], { copy_headers: [{ from: 'Remote User', to: 'X' }] }), deps), /copy_headers/);
    assert.throws(() => createForwardAuth(config(['127.0.0.1:1'], { uri: '/%00' }), deps), /uri/);
    assert.throws(() => createForwardAuth(config([]), deps), /no upstreams/);
  });
});
