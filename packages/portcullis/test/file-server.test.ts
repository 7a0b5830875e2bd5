/**
 * file_server over real HTTP: a node:http server on 127.0.0.1:0 builds a RequestContext for each
 * request and runs the handler against a temp root full of fixtures.
 */
import { testDeps } from './support/handler-deps.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import type { FileServerHandler } from '../src/config/types.ts';
import { ManualClock, systemClock, type Clock } from '../src/kernel/clock.ts';
import { httpError, isPortcullisError, type PortcullisError } from '../src/kernel/errors.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import type { Handler } from '../src/proxy/context.ts';
import type { HandlerDeps } from '../src/proxy/handler-deps.ts';
import { createRequestContext } from '../src/proxy/request-context.ts';
import { createFileServer } from '../src/proxy/handlers/file-server.ts';

const logger = silentLogger();

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Running {
  port: number;
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Reply>;
  close(): Promise<void>;
}

interface ServeOptions {
  vars?: Record<string, unknown>;
  /** Runs the handler as a handle_errors route for this error. */
  error?: PortcullisError;
}

function deps(configFile: string | null, clock: Clock = systemClock): HandlerDeps {
  return testDeps({ logger, clock, configFile });
}

function fileServerConfig(root: string, overrides: Partial<FileServerHandler> = {}): FileServerHandler {
  return {
    handler: 'file_server',
    root,
    index_names: ['index.html', 'index.txt'],
    browse: null,
    hide: [],
    precompressed: [],
    pass_thru: false,
    ...overrides,
  };
}

/** Plain GET/HEAD/... over node:http, bytes untouched (fetch would decode Content-Encoding). */
function send(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function serve(handler: Handler, options: ServeOptions = {}): Promise<Running> {
  const server: Server = createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger });
    if (ctx === null) {
      res.writeHead(400);
      res.end();
      return;
    }
    if (options.vars) Object.assign(ctx.vars, options.vars);
    if (options.error) ctx.error = options.error;
    const next = async () => {
      res.writeHead(200, { 'x-from': 'next' });
      res.end('from next');
    };
    handler(ctx, next).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(isPortcullisError(err) ? err.status : 500, isPortcullisError(err) ? err.headers : undefined);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get: (path, headers, method) => send(port, path, headers, method),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function caddyEtag(file: string): string {
  const st = statSync(file, { bigint: true });
  return `"${st.mtimeNs.toString(36)}-${st.size.toString(36)}"`;
}

const HOSTILE = '<img src=x onerror=alert(1)>.txt';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('file_server', () => {
  let base: string;
  let root: string;
  let configFile: string;
  let big: Buffer;
  const bundle = 'export const answer = 42;\n'.repeat(200);

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'pc-file-server-'));
    root = join(base, 'site');
    mkdirSync(root);
    configFile = join(root, 'Caddyfile');
    writeFileSync(configFile, 'example.com {\n  file_server\n}\n');
    writeFileSync(join(root, 'index.html'), '<h1>home</h1>');
    writeFileSync(join(root, 'style.css'), 'body { color: red }');
    writeFileSync(join(root, 'app.mjs'), 'export default 1;');
    writeFileSync(join(root, 'data.json'), '{"ok":true}');
    writeFileSync(join(root, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    writeFileSync(join(root, 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(root, 'notes.txt'), '0123456789abcdefghij');
    writeFileSync(join(root, 'font.woff2'), 'wOF2');
    writeFileSync(join(root, 'blob.unknownext'), 'bytes');
    writeFileSync(join(root, 'empty.txt'), '');
    mkdirSync(join(root, 'docs'));
    writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
    mkdirSync(join(root, 'plain'));
    writeFileSync(join(root, 'plain', 'index.txt'), 'plain index');
    mkdirSync(join(root, 'empty'));
    mkdirSync(join(root, 'listing'));
    writeFileSync(join(root, 'listing', HOSTILE), 'x');
    writeFileSync(join(root, 'listing', 'a&b.txt'), 'ab');
    writeFileSync(join(root, 'listing', 'big.dat'), Buffer.alloc(5000));
    writeFileSync(join(root, 'listing', 'small.dat'), Buffer.alloc(10));
    writeFileSync(join(root, 'listing', 'secret.key'), 'k');
    mkdirSync(join(root, 'listing', 'zsub'));
    mkdirSync(join(root, 'listing', '.git'));
    mkdirSync(join(root, '.well-known'));
    writeFileSync(join(root, '.well-known', 'security.txt'), 'Contact: mailto:x@example.com');
    writeFileSync(join(root, '.env'), 'SECRET=1');
    mkdirSync(join(root, 'private'));
    writeFileSync(join(root, 'private', 'data.txt'), 'private');
    writeFileSync(join(root, 'bundle.js'), bundle);
    writeFileSync(join(root, 'bundle.js.gz'), gzipSync(bundle));
    writeFileSync(join(root, 'bundle.js.br'), brotliCompressSync(bundle));
    big = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(join(root, 'big.bin'), big);
    symlinkSync('notes.txt', join(root, 'alias.txt'));
    mkdirSync(join(root, '\\evil.com'));
    writeFileSync(join(root, '\\evil.com', 'index.html'), 'not evil');
  });

  after(() => {
    rmSync(base, { recursive: true, force: true });
  });

  describe('serving files', () => {
    let s: Running;
    before(async () => {
      s = await serve(createFileServer(fileServerConfig(root), deps(configFile)));
    });
    after(() => s.close());

    it('serves content with the type of its extension', async () => {
      const cases: [string, string][] = [
        ['/index.html', 'text/html; charset=utf-8'],
        ['/style.css', 'text/css; charset=utf-8'],
        ['/app.mjs', 'text/javascript; charset=utf-8'],
        ['/data.json', 'application/json'],
        ['/logo.png', 'image/png'],
        ['/icon.svg', 'image/svg+xml'],
        ['/notes.txt', 'text/plain; charset=utf-8'],
        ['/font.woff2', 'font/woff2'],
        ['/blob.unknownext', 'application/octet-stream'],
      ];
      for (const [path, type] of cases) {
        const r = await s.get(path);
        assert.equal(r.status, 200, path);
        assert.equal(r.headers['content-type'], type, path);
        assert.equal(r.headers['content-length'], String(r.body.length), path);
        assert.deepEqual(r.body, readFileSync(join(root, path)), path);
        assert.equal(r.headers['x-content-type-options'], undefined, 'Caddy does not set nosniff');
      }
    });

    it('sets Caddy-compatible validators and cache headers', async () => {
      const r = await s.get('/notes.txt');
      assert.equal(r.headers.etag, caddyEtag(join(root, 'notes.txt')));
      assert.equal(r.headers['last-modified'], new Date(Math.floor(statSync(join(root, 'notes.txt')).mtimeMs / 1000) * 1000).toUTCString());
      assert.equal(r.headers.vary, 'Accept-Encoding');
      assert.equal(r.headers['accept-ranges'], 'bytes');
    });

    it('serves an empty file with Content-Length 0', async () => {
      const r = await s.get('/empty.txt');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], '0');
      assert.equal(r.body.length, 0);
    });

    it('serves dotfiles unless hidden, as Caddy does', async () => {
      const r = await s.get('/.well-known/security.txt');
      assert.equal(r.status, 200);
      assert.match(r.body.toString(), /Contact/);
    });

    it('follows symlinks that stay inside the root', async () => {
      const r = await s.get('/alias.txt');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), '0123456789abcdefghij');
    });

    it('serves index files and canonicalises trailing slashes with 308', async () => {
      assert.equal((await s.get('/')).body.toString(), '<h1>home</h1>');
      assert.equal((await s.get('/docs/')).body.toString(), '<h1>docs</h1>');
      assert.equal((await s.get('/plain/')).body.toString(), 'plain index');
      const toDir = await s.get('/docs?x=1&y=%20');
      assert.equal(toDir.status, 308);
      assert.equal(toDir.headers.location, '/docs/?x=1&y=%20');
      const toFile = await s.get('/notes.txt/');
      assert.equal(toFile.status, 308);
      assert.equal(toFile.headers.location, '/notes.txt');
      // Caddy serves /index.html itself; only directories and trailing slashes are canonicalised.
      const index = await s.get('/index.html');
      assert.equal(index.status, 200);
      assert.equal(index.body.toString(), '<h1>home</h1>');
    });

    it('percent-encodes redirect targets so a directory named \\evil.com is no open redirect', async () => {
      const r = await s.get('/%5Cevil.com');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, '/%5Cevil.com/');
    });

    it('answers 404 for missing files and for directories without index when browse is off', async () => {
      assert.equal((await s.get('/nope.txt')).status, 404);
      assert.equal((await s.get('/empty/')).status, 404);
      assert.equal((await s.get('/notes.txt/extra')).status, 404);
    });

    it('never serves the config file', async () => {
      assert.equal((await s.get('/Caddyfile')).status, 404);
    });

    it('allows only GET and HEAD on files (405 with Allow)', async () => {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const r = await s.get('/notes.txt', {}, method);
        assert.equal(r.status, 405, method);
        assert.equal(r.headers.allow, 'GET, HEAD');
      }
      assert.equal((await s.get('/nope.txt', {}, 'POST')).status, 404, 'a missing file is 404 first, as in Caddy');
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const r = await s.get('/big.bin', {}, 'HEAD');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(big.length));
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(r.body.length, 0);
    });

    it('answers conditional requests with 304 and 412', async () => {
      const first = await s.get('/style.css');
      const etag = first.headers.etag!;
      const lastModified = first.headers['last-modified']!;
      const notModified = await s.get('/style.css', { 'if-none-match': etag });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.body.length, 0);
      assert.equal(notModified.headers.etag, etag);
      assert.equal(notModified.headers['content-type'], undefined);
      assert.equal((await s.get('/style.css', { 'if-none-match': `"other", W/${etag}` })).status, 304, 'weak comparison');
      assert.equal((await s.get('/style.css', { 'if-none-match': '*' })).status, 304);
      assert.equal((await s.get('/style.css', { 'if-none-match': '"other"' })).status, 200);
      assert.equal((await s.get('/style.css', { 'if-modified-since': lastModified })).status, 304);
      assert.equal((await s.get('/style.css', { 'if-modified-since': 'Thu, 01 Jan 2004 00:00:00 GMT' })).status, 200);
      assert.equal(
        (await s.get('/style.css', { 'if-none-match': '"other"', 'if-modified-since': lastModified })).status,
        200,
        'If-Modified-Since is ignored when If-None-Match is present',
      );
      assert.equal((await s.get('/style.css', { 'if-match': '"other"' })).status, 412);
      assert.equal((await s.get('/style.css', { 'if-match': `W/${etag}` })).status, 412, 'If-Match compares strongly');
      assert.equal((await s.get('/style.css', { 'if-match': etag })).status, 200);
      assert.equal((await s.get('/style.css', { 'if-unmodified-since': 'Thu, 01 Jan 2004 00:00:00 GMT' })).status, 412);
      assert.equal((await s.get('/style.css', { 'if-unmodified-since': lastModified })).status, 200);
    });

    it('serves single ranges as 206 and unsatisfiable ones as 416', async () => {
      const r = await s.get('/notes.txt', { range: 'bytes=2-5' });
      assert.equal(r.status, 206);
      assert.equal(r.body.toString(), '2345');
      assert.equal(r.headers['content-range'], 'bytes 2-5/20');
      assert.equal(r.headers['content-length'], '4');
      assert.equal((await s.get('/notes.txt', { range: 'bytes=-3' })).body.toString(), 'hij');
      assert.equal((await s.get('/notes.txt', { range: 'bytes=15-' })).body.toString(), 'fghij');
      assert.equal((await s.get('/notes.txt', { range: 'bytes=15-999' })).headers['content-range'], 'bytes 15-19/20');
      const bad = await s.get('/notes.txt', { range: 'bytes=20-30' });
      assert.equal(bad.status, 416);
      assert.equal(bad.headers['content-range'], 'bytes */20');
      assert.equal(bad.headers.etag, undefined);
      assert.equal((await s.get('/notes.txt', { range: 'bytes=-0' })).status, 416);
      // Malformed or unknown-unit headers are ignored (RFC 9110 §14.2).
      for (const range of ['bytes=5-2', 'bytes=x-y', 'items=0-1', 'bytes=']) {
        const whole = await s.get('/notes.txt', { range });
        assert.equal(whole.status, 200, range);
        assert.equal(whole.body.length, 20, range);
      }
    });

    it('honours If-Range only when the validator still matches', async () => {
      const etag = (await s.get('/notes.txt')).headers.etag!;
      assert.equal((await s.get('/notes.txt', { range: 'bytes=0-1', 'if-range': etag })).status, 206);
      const stale = await s.get('/notes.txt', { range: 'bytes=0-1', 'if-range': '"stale"' });
      assert.equal(stale.status, 200);
      assert.equal(stale.body.length, 20);
    });

    it('serves several ranges as multipart/byteranges', async () => {
      const r = await s.get('/notes.txt', { range: 'bytes=0-1, 10-12' });
      assert.equal(r.status, 206);
      const type = r.headers['content-type']!;
      const boundary = /^multipart\/byteranges; boundary=([0-9a-f]+)$/.exec(type)?.[1];
      assert.ok(boundary, type);
      assert.equal(r.headers['content-length'], String(r.body.length));
      const text = r.body.toString();
      assert.equal(
        text,
        `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/20\r\n\r\n01` +
          `\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 10-12/20\r\n\r\nabc` +
          `\r\n--${boundary}--\r\n`,
      );
      // Overlapping ranges are an amplification trick: answered with the whole file.
      const overlapping = await s.get('/notes.txt', { range: 'bytes=0-10, 5-15' });
      assert.equal(overlapping.status, 200);
      assert.equal(overlapping.body.length, 20);
    });

    it('streams a large file with the right bytes, whole and in ranges', async () => {
      const whole = await s.get('/big.bin');
      assert.equal(whole.status, 200);
      assert.equal(whole.headers['content-length'], String(big.length));
      assert.equal(sha256(whole.body), sha256(big));
      const mid = await s.get('/big.bin', { range: 'bytes=1000000-1999999' });
      assert.equal(mid.status, 206);
      assert.deepEqual(mid.body, big.subarray(1_000_000, 2_000_000));
      const multi = await s.get('/big.bin', { range: 'bytes=0-9,3000000-3000009' });
      assert.equal(multi.status, 206);
      assert.equal(multi.headers['content-length'], String(multi.body.length));
      assert.ok(multi.body.includes(big.subarray(3_000_000, 3_000_010)));
    });

    it('closes the file when a client aborts a large download (no fd leak)', { skip: process.platform !== 'linux' && 'needs /proc/self/fd' }, async () => {
      const openFds = () => readdirSync('/proc/self/fd').length;
      await s.get('/big.bin', { range: 'bytes=0-0' }); // warm the resolution cache
      const before = openFds();
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: s.port, path: '/big.bin', agent: false }, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
          req.end();
        });
      }
      let after = openFds();
      for (let i = 0; i < 50 && after > before; i++) {
        await new Promise((r) => setTimeout(r, 20));
        after = openFds();
      }
      assert.ok(after <= before, `fds before ${before}, after ${after}`);
    });

    it('serves a FIFO in the root as 404 without hanging', { skip: process.platform === 'win32' && 'no mkfifo' }, async (t) => {
      try {
        execFileSync('mkfifo', [join(root, 'pipe.txt')]);
      } catch {
        t.skip('mkfifo not available');
        return;
      }
      assert.equal((await s.get('/pipe.txt')).status, 404);
    });

    it('answers 403 for a file it may not read', { skip: isRoot && 'root reads every file' }, async () => {
      const locked = join(root, 'locked.txt');
      writeFileSync(locked, 'locked');
      chmodSync(locked, 0o000);
      try {
        assert.equal((await s.get('/locked.txt')).status, 403);
      } finally {
        chmodSync(locked, 0o644);
      }
    });
  });

  describe('browse', () => {
    let s: Running;
    before(async () => {
      s = await serve(
        createFileServer(fileServerConfig(root, { browse: { enabled: true }, hide: ['*.key', '.git'] }), deps(configFile)),
      );
    });
    after(() => s.close());

    it('lists a directory as HTML with hostile names escaped and no script', async () => {
      const r = await s.get('/listing/');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      const html = r.body.toString();
      assert.ok(!html.includes('<img'), 'raw tag in listing');
      assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;.txt'));
      assert.ok(html.includes(`href="./${encodeURIComponent(HOSTILE)}"`));
      assert.ok(html.includes('a&amp;b.txt'));
      assert.ok(!/<script/i.test(html), 'inline script');
      assert.ok(!/\son[a-z]+=/i.test(html.replaceAll('onerror=alert', '')), 'event handler attribute');
      assert.ok(html.includes('zsub/'));
      assert.ok(!html.includes('secret.key'), 'hidden glob listed');
      assert.ok(!html.includes('.git'), 'hidden name listed');
      assert.ok(html.includes('href="../"'));
    });

    it('lists as Caddy-shaped JSON when Accept asks for it', async () => {
      const r = await s.get('/listing/', { accept: 'application/json' });
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      assert.ok(!r.body.toString().includes('<'), 'JSON escapes < as Go does');
      const items = JSON.parse(r.body.toString()) as Record<string, unknown>[];
      const names = items.map((i) => i.name);
      assert.deepEqual(names, ['zsub/', '<img src=x onerror=alert(1)>.txt', 'a&b.txt', 'big.dat', 'small.dat'], 'directories first, by name');
      const big = items.find((i) => i.name === 'big.dat')!;
      assert.deepEqual(Object.keys(big).sort(), ['is_dir', 'is_symlink', 'mod_time', 'mode', 'name', 'size', 'url']);
      assert.equal(big.size, 5000);
      assert.equal(big.url, './big.dat');
      assert.equal(big.is_dir, false);
      assert.equal(typeof big.mode, 'number');
      assert.ok(!Number.isNaN(Date.parse(String(big.mod_time))));
      const sub = items.find((i) => i.name === 'zsub/')!;
      assert.equal(sub.is_dir, true);
      assert.equal(sub.url, './zsub/');
      assert.ok((sub.mode as number) >= 2 ** 31, 'Go ModeDir bit');
    });

    it('sorts by size and order from the query', async () => {
      const r = await s.get('/listing/?sort=size&order=desc', { accept: 'application/json' });
      const names = (JSON.parse(r.body.toString()) as { name: string }[]).map((i) => i.name);
      assert.deepEqual(names.slice(0, 2), ['big.dat', 'small.dat']);
      assert.equal(names.at(-1), 'zsub/');
      const byName = await s.get('/listing/?sort=name&order=asc&limit=2', { accept: 'application/json' });
      assert.deepEqual((JSON.parse(byName.body.toString()) as { name: string }[]).map((i) => i.name), ['<img src=x onerror=alert(1)>.txt', 'a&b.txt']);
    });

    it('redirects a directory without trailing slash and prefers the index', async () => {
      const r = await s.get('/listing');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, '/listing/');
      assert.equal((await s.get('/docs/')).body.toString(), '<h1>docs</h1>');
    });

    it('never lists the config file or hidden files, and does not serve them', async () => {
      const html = (await s.get('/')).body.toString();
      assert.equal(html, '<h1>home</h1>');
      const listing = (await s.get('/empty/', { accept: 'application/json' })).body.toString();
      assert.equal(listing, '[]');
      const rootListing = createFileServer(fileServerConfig(root, { browse: { enabled: true }, index_names: [] }), deps(configFile));
      const s2 = await serve(rootListing);
      try {
        const items = JSON.parse((await s2.get('/', { accept: 'application/json' })).body.toString()) as { name: string }[];
        assert.ok(items.length > 5);
        assert.ok(!items.some((i) => i.name === 'Caddyfile'), 'config file listed');
      } finally {
        await s2.close();
      }
      assert.equal((await s.get('/listing/secret.key')).status, 404);
    });
  });

  describe('hide', () => {
    let s: Running;
    before(async () => {
      s = await serve(createFileServer(fileServerConfig(root, { hide: ['.env', 'private', '*.key', join(root, 'docs')] }), deps(null)));
    });
    after(() => s.close());

    it('hides names and globs at any depth and absolute paths with everything below', async () => {
      assert.equal((await s.get('/.env')).status, 404);
      assert.equal((await s.get('/private/data.txt')).status, 404);
      assert.equal((await s.get('/private/')).status, 404);
      assert.equal((await s.get('/listing/secret.key')).status, 404);
      assert.equal((await s.get('/docs/')).status, 404);
      assert.equal((await s.get('/docs/index.html')).status, 404);
      assert.equal((await s.get('/notes.txt')).status, 200);
    });
  });

  describe('precompressed', () => {
    let s: Running;
    before(async () => {
      s = await serve(createFileServer(fileServerConfig(root, { precompressed: ['br', 'gzip'] }), deps(null)));
    });
    after(() => s.close());

    it('serves the sidecar the client accepts, with the original type', async () => {
      const br = await s.get('/bundle.js', { 'accept-encoding': 'gzip, deflate, br' });
      assert.equal(br.status, 200);
      assert.equal(br.headers['content-encoding'], 'br', 'equal q: configured order wins');
      assert.equal(br.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal(br.headers.vary, 'Accept-Encoding');
      assert.equal(br.headers.etag, caddyEtag(join(root, 'bundle.js.br')));
      assert.deepEqual(br.body, brotliCompressSync(bundle));
      const gz = await s.get('/bundle.js', { 'accept-encoding': 'br;q=0.5, gzip' });
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(gz.headers['content-length'], String(gz.body.length));
      const noBr = await s.get('/bundle.js', { 'accept-encoding': 'br;q=0, gzip;q=0' });
      assert.equal(noBr.headers['content-encoding'], undefined, 'q=0 means not acceptable');
      assert.equal(noBr.body.toString(), bundle);
      const none = await s.get('/bundle.js');
      assert.equal(none.headers['content-encoding'], undefined);
      assert.equal(none.headers.vary, 'Accept-Encoding', 'Vary even when not compressed');
      assert.equal(none.body.toString(), bundle);
      const star = await s.get('/bundle.js', { 'accept-encoding': '*' });
      assert.equal(star.headers['content-encoding'], 'br');
    });

    it('answers 304 per representation', async () => {
      const br = await s.get('/bundle.js', { 'accept-encoding': 'br' });
      assert.equal((await s.get('/bundle.js', { 'accept-encoding': 'br', 'if-none-match': br.headers.etag! })).status, 304);
      assert.equal((await s.get('/bundle.js', { 'if-none-match': br.headers.etag! })).status, 200);
    });
  });

  describe('pass_thru, status_code, error context and root var', () => {
    it('calls the next handler instead of answering 404 with pass_thru', async () => {
      const s = await serve(createFileServer(fileServerConfig(root, { pass_thru: true }), deps(null)));
      try {
        const r = await s.get('/nope.txt');
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-from'], 'next');
        assert.equal((await s.get('/notes.txt')).body.toString(), '0123456789abcdefghij');
      } finally {
        await s.close();
      }
    });

    it('uses status_code for successful responses and then ignores Range and conditionals', async () => {
      const s = await serve(createFileServer(fileServerConfig(root, { status_code: 404 }), deps(null)));
      try {
        const r = await s.get('/notes.txt', { range: 'bytes=0-1' });
        assert.equal(r.status, 404);
        assert.equal(r.body.toString(), '0123456789abcdefghij');
        const etag = r.headers.etag!;
        assert.equal((await s.get('/notes.txt', { 'if-none-match': etag })).status, 404);
      } finally {
        await s.close();
      }
    });

    it('serves error pages with the error status, whatever the method', async () => {
      const s = await serve(createFileServer(fileServerConfig(root), deps(null)), { error: httpError(503, 'down') });
      try {
        const r = await s.get('/notes.txt', {}, 'POST');
        assert.equal(r.status, 503);
        assert.equal(r.body.toString(), '0123456789abcdefghij');
      } finally {
        await s.close();
      }
    });

    it('takes the root from ctx.vars.root when the handler has none', async () => {
      const config = fileServerConfig(root);
      delete config.root;
      const s = await serve(createFileServer(config, deps(null)), { vars: { root: join(root, 'docs') } });
      try {
        assert.equal((await s.get('/')).body.toString(), '<h1>docs</h1>');
        assert.equal((await s.get('/notes.txt')).status, 404);
      } finally {
        await s.close();
      }
    });
  });

  describe('caching', () => {
    it('serves changed files once the one-second revalidation window has passed', async () => {
      const dir = join(base, 'cache-root');
      mkdirSync(dir);
      writeFileSync(join(dir, 'page.txt'), 'version one');
      const clock = new ManualClock(1_000_000);
      const s = await serve(createFileServer(fileServerConfig(dir), deps(null, clock)));
      try {
        assert.equal((await s.get('/page.txt')).body.toString(), 'version one');
        assert.equal((await s.get('/new.txt')).status, 404);
        writeFileSync(join(dir, 'page.txt'), 'version two, longer');
        writeFileSync(join(dir, 'new.txt'), 'new');
        const cached = await s.get('/page.txt');
        assert.equal(cached.body.toString(), 'version one', 'within the window the cached stat is trusted');
        assert.equal(cached.headers['content-length'], '11');
        clock.advance(1001);
        const fresh = await s.get('/page.txt');
        assert.equal(fresh.body.toString(), 'version two, longer');
        assert.equal(fresh.headers.etag, caddyEtag(join(dir, 'page.txt')));
        assert.equal((await s.get('/new.txt')).body.toString(), 'new');
        rmSync(join(dir, 'new.txt'));
        clock.advance(1001);
        assert.equal((await s.get('/new.txt')).status, 404);
      } finally {
        await s.close();
      }
    });

    it('never sends stale bytes under a fresh stat: same-size rewrite is re-read', async () => {
      const dir = join(base, 'cache-root-2');
      mkdirSync(dir);
      const file = join(dir, 'same.txt');
      writeFileSync(file, 'AAAA');
      const clock = new ManualClock(5_000_000);
      const s = await serve(createFileServer(fileServerConfig(dir), deps(null, clock)));
      try {
        assert.equal((await s.get('/same.txt')).body.toString(), 'AAAA');
        rmSync(file);
        writeFileSync(file, 'BBBB'); // new inode, same size
        clock.advance(1001);
        assert.equal((await s.get('/same.txt')).body.toString(), 'BBBB');
      } finally {
        await s.close();
      }
    });
  });
});
