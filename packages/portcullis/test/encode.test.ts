/**
 * The `encode` handler over real HTTP: a node:http server on 127.0.0.1:0 builds a RequestContext,
 * runs encode, then a terminal picked by path that answers the way file_server, respond or
 * reverse_proxy would (with or without Content-Length, in one piece or streamed).
 */
import { testDeps } from './support/handler-deps.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { EncodeHandler } from '../src/config/types.ts';
import type { RequestContext } from '../src/proxy/context.ts';
import type { HandlerDeps } from '../src/proxy/handler-deps.ts';
import { createRequestContext } from '../src/proxy/request-context.ts';
import { writeHead } from '../src/proxy/response.ts';
import { createEncode, negotiateEncoding, isCompressibleType } from '../src/proxy/handlers/encode.ts';

const deps: HandlerDeps = testDeps();

const hasZstd = typeof zlib.createZstdCompress === 'function';

/** Deterministic, compressible text of `size` bytes. */
function text(size: number): Buffer {
  const line = Buffer.from('The quick brown fox jumps over the lazy dog. 0123456789\n');
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(out, i, 0, Math.min(line.length, size - i));
  return out;
}

/** The SSE terminal parks its response here until the test lets it finish. */
let sseRelease: (() => void) | null = null;

function terminal(ctx: RequestContext): Promise<void> | void {
  const res = ctx.res;
  const params = new URLSearchParams(ctx.query);
  const size = Number(params.get('size') ?? 4096);
  const type = params.get('type') ?? 'text/plain; charset=utf-8';
  const body = text(size);
  switch (ctx.path) {
    case '/whole': // Content-Length known, one write
      res.setHeader('Content-Type', type);
      res.setHeader('Content-Length', body.length);
      for (const h of params.getAll('h')) res.setHeader(h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1));
      writeHead(ctx, Number(params.get('status') ?? 200));
      res.end(body);
      return;
    case '/chunked': {
      // No Content-Length; written in pieces, as a proxied chunked response arrives
      res.setHeader('Content-Type', type);
      writeHead(ctx, 200);
      const pieces = Number(params.get('pieces') ?? 4);
      const step = Math.ceil(body.length / pieces);
      for (let i = 0; i < body.length; i += step) res.write(body.subarray(i, i + step));
      res.end();
      return;
    }
    case '/end-only': // implicit head: no writeHead, just end(body)
      res.setHeader('Content-Type', type);
      res.end(body);
      return;
    case '/piped': {
      // A big streamed body through pipe(): exercises backpressure through the compressor
      res.setHeader('Content-Type', type);
      writeHead(ctx, 200);
      let sent = 0;
      const source = new Readable({
        read() {
          if (sent >= body.length) return void this.push(null);
          const n = Math.min(64 * 1024, body.length - sent);
          this.push(body.subarray(sent, sent + n));
          sent += n;
        },
      });
      return new Promise((resolve) => {
        source.pipe(res);
        res.on('finish', resolve);
        res.on('close', resolve);
      });
    }
    case '/sse':
      res.setHeader('Content-Type', 'text/event-stream');
      res.setHeader('Cache-Control', 'no-cache');
      writeHead(ctx, 200);
      res.write('data: first\n\n');
      return new Promise((resolve) => {
        const timer = setTimeout(() => sseRelease?.(), 5000);
        sseRelease = () => {
          clearTimeout(timer);
          sseRelease = null;
          res.end('data: last\n\n');
          resolve();
        };
      });
    case '/trickle': {
      // No Content-Length and less than minimum_length so far, then a pause: must not stall
      res.setHeader('Content-Type', 'application/json');
      writeHead(ctx, 200);
      res.write('{"a":');
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          res.end('1}');
          resolve();
        }, 300);
        res.on('close', () => clearTimeout(timer));
      });
    }
    default:
      res.setHeader('Content-Length', 0);
      writeHead(ctx, 404);
      res.end();
  }
}

async function serve(config: EncodeHandler): Promise<{ port: number; server: Server }> {
  const handler = createEncode(config, deps);
  const server = createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger: deps.logger });
    if (ctx === null) {
      res.writeHead(400).end();
      return;
    }
    handler(ctx, async () => terminal(ctx)).catch((error: unknown) => {
      res.destroy(error as Error);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: Buffer;
}

function decode(encoding: string | undefined, raw: Buffer): Buffer {
  switch (encoding) {
    case undefined:
    case 'identity':
      return raw;
    case 'gzip':
      return zlib.gunzipSync(raw);
    case 'br':
      return zlib.brotliDecompressSync(raw);
    case 'zstd':
      return zlib.zstdDecompressSync(raw);
    default:
      throw new Error(`unexpected encoding ${encoding}`);
  }
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false, timeout: 10000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        try {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body: decode(res.headers['content-encoding'], raw) });
        } catch (error) {
          reject(error as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('encode over HTTP', () => {
  let port = 0;
  let server: Server;

  before(async () => {
    ({ port, server } = await serve({ handler: 'encode', encodings: hasZstd ? ['zstd', 'br', 'gzip'] : ['br', 'gzip'], minimum_length: 512 }));
  });
  after(() => {
    sseRelease?.();
    server.closeAllConnections();
    server.close();
  });

  for (const encoding of ['gzip', 'br', 'zstd'] as const) {
    it(`${encoding}: a body with Content-Length decodes to the original`, { skip: encoding === 'zstd' && !hasZstd ? 'no zstd in this Node.js' : false }, async () => {
      const reply = await get(port, '/whole?size=100000', { 'accept-encoding': encoding });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['content-encoding'], encoding);
      assert.equal(reply.headers['content-length'], undefined);
      assert.equal(reply.headers['vary'], 'Accept-Encoding');
      assert.ok(reply.raw.length < 10000, `compressed to ${reply.raw.length}`);
      assert.ok(reply.body.equals(text(100000)));
    });

    it(`${encoding}: a streamed body without Content-Length decodes to the original`, { skip: encoding === 'zstd' && !hasZstd ? 'no zstd in this Node.js' : false }, async () => {
      const reply = await get(port, '/chunked?size=70000&pieces=7', { 'accept-encoding': encoding });
      assert.equal(reply.headers['content-encoding'], encoding);
      assert.equal(reply.headers['transfer-encoding'], 'chunked');
      assert.ok(reply.body.equals(text(70000)));
    });
  }

  it('a large piped body survives backpressure', async () => {
    const size = 8 * 1024 * 1024 + 123;
    const reply = await get(port, `/piped?size=${size}`, { 'accept-encoding': 'gzip' });
    assert.equal(reply.headers['content-encoding'], 'gzip');
    assert.equal(reply.body.length, size);
    // Buffer.equals: a failing deepEqual would try to diff megabytes
    assert.ok(reply.body.equals(text(size)));
  });

  it('the implicit head of end(body) is handled', async () => {
    const reply = await get(port, '/end-only?size=5000', { 'accept-encoding': 'gzip' });
    assert.equal(reply.headers['content-encoding'], 'gzip');
    assert.deepEqual(reply.body, text(5000));
    const small = await get(port, '/end-only?size=100', { 'accept-encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.headers['content-length'], '100');
    assert.deepEqual(small.body, text(100));
  });

  it('bodies under minimum_length go out as they are, with Vary', async () => {
    const whole = await get(port, '/whole?size=511', { 'accept-encoding': 'gzip' });
    assert.equal(whole.headers['content-encoding'], undefined);
    assert.equal(whole.headers['content-length'], '511');
    assert.equal(whole.headers['vary'], 'Accept-Encoding');
    assert.deepEqual(whole.body, text(511));
    // unknown length, but the whole body arrives before the decision
    const chunked = await get(port, '/chunked?size=300&pieces=3', { 'accept-encoding': 'gzip' });
    assert.equal(chunked.headers['content-encoding'], undefined);
    assert.equal(chunked.headers['content-length'], '300');
    assert.deepEqual(chunked.body, text(300));
    const atLimit = await get(port, '/whole?size=512', { 'accept-encoding': 'gzip' });
    assert.equal(atLimit.headers['content-encoding'], 'gzip');
  });

  it('incompressible types are not compressed and get no Vary', async () => {
    for (const type of ['image/png', 'video/mp4', 'application/zip', 'font/woff2', 'application/octet-stream']) {
      const reply = await get(port, `/whole?size=20000&type=${encodeURIComponent(type)}`, { 'accept-encoding': 'gzip, br' });
      assert.equal(reply.headers['content-encoding'], undefined, type);
      assert.equal(reply.headers['vary'], undefined, type);
      assert.equal(reply.headers['content-length'], '20000', type);
    }
    for (const type of ['application/json', 'application/javascript', 'image/svg+xml', 'application/wasm', 'application/ld+json', 'text/css']) {
      const reply = await get(port, `/whole?size=20000&type=${encodeURIComponent(type)}`, { 'accept-encoding': 'gzip' });
      assert.equal(reply.headers['content-encoding'], 'gzip', type);
    }
  });

  it('q-values: q=0 refuses, the highest q wins, ties go to the configured order', async () => {
    const cases: [string, string | undefined][] = [
      ['gzip;q=0', undefined],
      ['gzip;q=0, br;q=0.5', 'br'],
      ['gzip, br;q=0', 'gzip'],
      ['gzip;q=1, br;q=0.9', 'gzip'],
      ['gzip, br', 'br'],
      ['*', hasZstd ? 'zstd' : 'br'],
      ['*;q=0.5, br;q=0', hasZstd ? 'zstd' : 'gzip'],
      ['identity', undefined],
      ['deflate', undefined],
      ['x-gzip', 'gzip'],
      ['GZIP', 'gzip'],
      ['gzip;q=garbage', undefined],
      ['', undefined],
    ];
    for (const [accept, expected] of cases) {
      const reply = await get(port, '/whole?size=5000', accept === '' ? {} : { 'accept-encoding': accept });
      assert.equal(reply.headers['content-encoding'], expected, accept);
      assert.deepEqual(reply.body, text(5000), accept);
      // caches must key on Accept-Encoding whether or not this client got a compressed body
      assert.equal(reply.headers['vary'], 'Accept-Encoding', accept);
    }
  });

  it('already-encoded, ranged, no-transform, HEAD, 204 and 304 responses are left alone', async () => {
    const encoded = await get(port, `/whole?size=5000&h=${encodeURIComponent('Content-Encoding:identity')}`, { 'accept-encoding': 'gzip' });
    assert.equal(encoded.headers['content-encoding'], 'identity');
    assert.equal(encoded.headers['content-length'], '5000');
    const noTransform = await get(port, `/whole?size=5000&h=${encodeURIComponent('Cache-Control:public, no-transform')}`, { 'accept-encoding': 'gzip' });
    assert.equal(noTransform.headers['content-encoding'], undefined);
    const partial = await get(port, `/whole?size=5000&status=206&h=${encodeURIComponent('Content-Range:bytes 0-4999/10000')}`, { 'accept-encoding': 'gzip' });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers['content-encoding'], undefined);
    const head = await get(port, '/whole?size=5000', { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(head.headers['content-length'], '5000');
    const notModified = await get(port, '/whole?size=0&status=304', { 'accept-encoding': 'gzip' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers['content-encoding'], undefined);
    assert.equal(notModified.headers['vary'], 'Accept-Encoding');
    const noContent = await get(port, '/whole?size=0&status=204', { 'accept-encoding': 'gzip' });
    assert.equal(noContent.status, 204);
    assert.equal(noContent.headers['content-encoding'], undefined);
  });

  it('strong ETags become weak, Accept-Ranges goes, an existing Vary is extended', async () => {
    const path = `/whole?size=5000&h=${encodeURIComponent('ETag:"abc"')}&h=${encodeURIComponent('Accept-Ranges:bytes')}&h=${encodeURIComponent('Vary:Origin')}`;
    const reply = await get(port, path, { 'accept-encoding': 'gzip' });
    assert.equal(reply.headers['etag'], 'W/"abc"');
    assert.equal(reply.headers['accept-ranges'], undefined);
    assert.equal(reply.headers['vary'], 'Origin, Accept-Encoding');
    const weak = await get(port, `/whole?size=5000&h=${encodeURIComponent('ETag:W/"x"')}`, { 'accept-encoding': 'gzip' });
    assert.equal(weak.headers['etag'], 'W/"x"');
    const identity = await get(port, `/whole?size=5000&h=${encodeURIComponent('ETag:"abc"')}`);
    assert.equal(identity.headers['etag'], '"abc"');
  });

  it('an event stream is compressed and flushed as events arrive', async () => {
    const events = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      const req = request({ host: '127.0.0.1', port, path: '/sse', headers: { 'accept-encoding': 'gzip' }, agent: false, timeout: 10000 }, (res: IncomingMessage) => {
        try {
          assert.equal(res.headers['content-encoding'], 'gzip');
        } catch (error) {
          reject(error as Error);
          return;
        }
        const gunzip = zlib.createGunzip();
        res.pipe(gunzip);
        let buffered = '';
        gunzip.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          // The first event reached us while the server still holds the response open.
          if (buffered.includes('data: first\n\n') && seen.length === 0) {
            seen.push('first');
            sseRelease?.();
          }
        });
        gunzip.on('end', () => {
          if (buffered.includes('data: last\n\n')) seen.push('last');
          resolve(seen);
        });
        gunzip.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(events, ['first', 'last']);
  });

  it('a trickling stream is not held back waiting for minimum_length', async () => {
    const started = performance.now();
    const firstByte = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/trickle', headers: { 'accept-encoding': 'gzip' }, agent: false, timeout: 10000 }, (res) => {
        const elapsed = performance.now() - started;
        res.resume();
        res.on('end', () => resolve(elapsed));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
    // the head arrived well before the terminal's 300 ms pause ended
    assert.ok(firstByte < 250, `head after ${firstByte} ms`);
    const reply = await get(port, '/trickle', { 'accept-encoding': 'gzip' });
    assert.equal(reply.body.toString(), '{"a":1}');
  });

  it('a client that goes away mid-stream does not break the server', async () => {
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/piped?size=20000000', headers: { 'accept-encoding': 'br' }, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
      req.end();
    });
    const reply = await get(port, '/whole?size=5000', { 'accept-encoding': 'gzip' });
    assert.deepEqual(reply.body, text(5000));
  });
});

describe('encode configuration', () => {
  it('levels out of range are config errors', () => {
    assert.throws(() => createEncode({ handler: 'encode', encodings: ['gzip'], minimum_length: 512, levels: { gzip: 12 } }, deps), /level/);
    assert.throws(() => createEncode({ handler: 'encode', encodings: ['br'], minimum_length: 512, levels: { br: 1.5 } }, deps), /level/);
  });

  it('minimum_length 0 compresses even tiny bodies', async () => {
    const { port, server } = await serve({ handler: 'encode', encodings: ['gzip'], minimum_length: 0, levels: { gzip: 9 } });
    try {
      const reply = await get(port, '/whole?size=10', { 'accept-encoding': 'gzip' });
      assert.equal(reply.headers['content-encoding'], 'gzip');
      assert.deepEqual(reply.body, text(10));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('negotiateEncoding and isCompressibleType', () => {
    assert.equal(negotiateEncoding('br;q=0.8, gzip;q=0.8', ['gzip', 'br']), 'gzip');
    assert.equal(negotiateEncoding('br;q=1.0, gzip;q=0.999', ['gzip', 'br']), 'br');
    assert.equal(negotiateEncoding('gzip;q=1.5', ['gzip']), null);
    assert.equal(negotiateEncoding(undefined, ['gzip']), null);
    assert.equal(isCompressibleType('Text/HTML; charset=utf-8'), true);
    assert.equal(isCompressibleType('application/vnd.api+json'), true);
    assert.equal(isCompressibleType('image/jpeg'), false);
    assert.equal(isCompressibleType('font/ttf'), true);
  });
});
