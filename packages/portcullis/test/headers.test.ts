/**
 * The `header` handler over real HTTP: a node:http server on 127.0.0.1:0 builds a RequestContext,
 * runs the handler, then a terminal that reports the request headers it saw and answers with
 * headers and a status chosen by the test.
 */
import { testDeps } from './support/handler-deps.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HeadersHandler } from '../src/config/types.ts';
import type { RequestContext } from '../src/proxy/context.ts';
import type { HandlerDeps } from '../src/proxy/handler-deps.ts';
import { createRequestContext } from '../src/proxy/request-context.ts';
import { writeHead } from '../src/proxy/response.ts';
import { createHeaders } from '../src/proxy/handlers/headers.ts';

const deps: HandlerDeps = testDeps();

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The terminal: echoes the request headers; `?status=` picks the status, `?h=Name:value` adds response headers. */
function terminal(ctx: RequestContext): void {
  const params = new URLSearchParams(ctx.query);
  for (const h of params.getAll('h')) {
    const colon = h.indexOf(':');
    ctx.res.appendHeader(h.slice(0, colon), h.slice(colon + 1));
  }
  const body = JSON.stringify(ctx.req.headers);
  ctx.res.setHeader('Content-Type', 'application/json');
  ctx.res.setHeader('Content-Length', Buffer.byteLength(body));
  writeHead(ctx, Number(params.get('status') ?? 200));
  ctx.res.end(body);
}

async function serve(config: HeadersHandler): Promise<{ port: number; server: Server }> {
  const handler = createHeaders(config, deps);
  const server = createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger: deps.logger });
    if (ctx === null) {
      res.writeHead(400).end();
      return;
    }
    handler(ctx, async () => terminal(ctx)).catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('header handler over HTTP', () => {
  let port = 0;
  let server: Server;

  before(async () => {
    ({ port, server } = await serve({
      handler: 'headers',
      request: {
        set: { 'X-Real-Path': ['{path}'] },
        add: { 'X-Added': ['a'] },
        delete: ['X-Strip-*'],
        replace: { 'X-Version': [{ search_regexp: '^v(\\d+)$', replace: 'version-$1' }] },
      },
      response: {
        set: { 'X-Frame-Options': ['DENY'], Server: ['portcullis'] },
        add: { 'X-Trace': ['{http.request.id}'] },
        delete: ['X-Powered-By'],
        replace: { Location: [{ search: 'http://backend:8080', replace: 'https://{host}' }] },
        default: { 'Cache-Control': ['public, max-age=60'] },
      },
    }));
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('edits request headers before the terminal runs', async () => {
    const reply = await get(port, '/a/%62', { 'x-strip-me': '1', 'X-Strip-Too': '2', 'x-added': 'z', 'x-version': 'v7' });
    const seen = JSON.parse(reply.body) as Record<string, string>;
    assert.equal(seen['x-real-path'], '/a/b');
    assert.equal(seen['x-added'], 'z, a');
    assert.equal(seen['x-strip-me'], undefined);
    assert.equal(seen['x-strip-too'], undefined);
    assert.equal(seen['x-version'], 'version-7');
  });

  it('response set, add, delete, replace and default apply when the head is written', async () => {
    const reply = await get(port, `/?h=${encodeURIComponent('Server:upstream')}&h=${encodeURIComponent('X-Powered-By:php')}&h=${encodeURIComponent('Location:http://backend:8080/next')}&status=302`);
    assert.equal(reply.status, 302);
    // set wins over what the terminal produced, because it runs last
    assert.equal(reply.headers['server'], 'portcullis');
    assert.equal(reply.headers['x-frame-options'], 'DENY');
    assert.match(String(reply.headers['x-trace']), /^[0-9a-f]{16}$/);
    assert.equal(reply.headers['x-powered-by'], undefined);
    assert.equal(reply.headers['location'], 'https://127.0.0.1/next');
    assert.equal(reply.headers['cache-control'], 'public, max-age=60');
  });

  it('default leaves an existing header alone', async () => {
    const reply = await get(port, `/?h=${encodeURIComponent('Cache-Control:no-store')}`);
    assert.equal(reply.headers['cache-control'], 'no-store');
  });

  it('a header value built from hostile input cannot split the response', async () => {
    const reply = await get(port, '/x%0d%0aSet-Cookie:%20pwned=1');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['set-cookie'], undefined);
    const seen = JSON.parse(reply.body) as Record<string, string>;
    assert.equal(seen['x-real-path'], undefined);
  });
});

describe('header handler with a require condition', () => {
  let port = 0;
  let server: Server;

  before(async () => {
    ({ port, server } = await serve({
      handler: 'headers',
      response: {
        set: { 'X-Error-Page': ['yes'] },
        require: { status_code: [4, 503] },
      },
    }));
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('applies only to matching statuses', async () => {
    for (const [status, expected] of [
      [200, undefined],
      [301, undefined],
      [404, 'yes'],
      [418, 'yes'],
      [500, undefined],
      [503, 'yes'],
    ] as const) {
      const reply = await get(port, `/?status=${status}`);
      assert.equal(reply.status, status);
      assert.equal(reply.headers['x-error-page'], expected, String(status));
    }
  });
});

describe('header handler require on response headers', () => {
  let port = 0;
  let server: Server;

  before(async () => {
    ({ port, server } = await serve({
      handler: 'headers',
      response: {
        set: { 'Cache-Control': ['no-store'] },
        require: { headers: { 'X-Private': [] } },
      },
    }));
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('applies only when the response has the header', async () => {
    const marked = await get(port, `/?h=${encodeURIComponent('X-Private:1')}&h=${encodeURIComponent('Cache-Control:public')}`);
    assert.equal(marked.headers['cache-control'], 'no-store');
    const plain = await get(port, `/?h=${encodeURIComponent('Cache-Control:public')}`);
    assert.equal(plain.headers['cache-control'], 'public');
  });
});
