/** `respond` / `redir` on a real socket: Location escaping, header-safe values, bodiless statuses. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { StaticResponseHandler } from '../../config/types.ts';
import { silentLogger } from '../../kernel/logger.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { createRequestContext } from '../request-context.ts';
import { createStaticResponse } from './static-response.ts';

/** One handler per first path segment: `/<name>/...` runs handlers[name]. */
const configs: Record<string, Omit<StaticResponseHandler, 'handler'>> = {
  slash: { status_code: 308, headers: { Location: ['{path}/'] } },
  uri: { status_code: 302, headers: { Location: ['{uri}'] } },
  cdn: { status_code: 302, headers: { Location: ['//cdn.example/{file}'] } },
  echo: { status_code: 200, body: 'ok', headers: { 'X-Path': ['{path}'], 'X-Fixed': ['fixed'] } },
  nocontent: { status_code: 204, body: 'ignored' },
  notmodified: { status_code: 304, body: 'ignored' },
  body: { status_code: 200, body: 'hello' },
};

function route(handlers: Record<string, Handler>): Server {
  return createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger: silentLogger() });
    const name = ctx?.path.split('/')[1] ?? '';
    const handler = handlers[name];
    if (ctx === null || handler === undefined) {
      res.writeHead(404).end();
      return;
    }
    handler(ctx, () => Promise.resolve()).catch(() => res.destroy());
  });
}

/** Sends `target` as is (no client normalisation) and returns the response head, bounded in time. */
function get(port: number, target: string): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), 2000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.slice(0, text.indexOf('\r\n\r\n') + 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), head });
    });
    socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

function header(head: string, name: string): string | null {
  return new RegExp(`\\r\\n${name}: ([^\\r\\n]*)\\r\\n`, 'i').exec(head)?.[1] ?? null;
}

describe('static_response', () => {
  let server: Server;
  let port: number;
  before(async () => {
    const handlers: Record<string, Handler> = {};
    for (const [name, config] of Object.entries(configs)) {
      handlers[name] = createStaticResponse({ handler: 'static_response', ...config }, {} as HandlerDeps);
    }
    server = route(handlers);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const target of ['/slash/%09/evil.example', '/slash/%5Cevil.example', '/slash/%5C%5Cevil.example']) {
    test(`open redirect regression: redir {path}/ stays on this host for ${target}`, async () => {
      const res = await get(port, target);
      assert.equal(res.status, 308, res.head);
      const location = header(res.head, 'location');
      assert.ok(location !== null, res.head);
      assert.match(location, /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/);
      assert.equal(new URL(location, 'https://site.test/x').host, 'site.test', location);
    });
  }

  test('open redirect regression: a {uri} that starts with // collapses to one /', async () => {
    const res = await get(port, '//uri/evil.example/?a=1');
    assert.equal(res.status, 302, res.head);
    assert.equal(header(res.head, 'location'), '/uri/evil.example/?a=1');
  });

  test('an operator-written protocol-relative Location is kept', async () => {
    const res = await get(port, '/cdn/lib.js');
    assert.equal(header(res.head, 'location'), '//cdn.example/lib.js');
  });

  test('CR/LF in {path} is percent-encoded in Location, not a 500 (CWE-113)', async () => {
    const res = await get(port, '/slash/a%0d%0aX-Evil:%20yes');
    assert.equal(res.status, 308, res.head);
    assert.equal(header(res.head, 'x-evil'), null);
    assert.equal(header(res.head, 'location'), '/slash/a%0d%0aX-Evil:%20yes/');
  });

  test('CR/LF in a placeholder drops that header value, the response still goes out', async () => {
    const res = await get(port, '/echo/a%0d%0aX-Evil:%20yes');
    assert.equal(res.status, 200, res.head);
    assert.equal(header(res.head, 'x-evil'), null);
    assert.equal(header(res.head, 'x-path'), null);
    assert.equal(header(res.head, 'x-fixed'), 'fixed');
    assert.equal(header((await get(port, '/echo/fine')).head, 'x-path'), '/echo/fine');
  });

  for (const [target, status] of [['/nocontent', 204], ['/notmodified', 304]] as const) {
    test(`${status} carries no Content-Type or Content-Length (RFC 9110 §8.6)`, async () => {
      const res = await get(port, target);
      assert.equal(res.status, status, res.head);
      assert.equal(header(res.head, 'content-length'), null, res.head);
      assert.equal(header(res.head, 'content-type'), null, res.head);
    });
  }

  test('a 200 with a body has both', async () => {
    const res = await get(port, '/body');
    assert.equal(header(res.head, 'content-length'), '5');
    assert.equal(header(res.head, 'content-type'), 'text/plain; charset=utf-8');
  });
});
