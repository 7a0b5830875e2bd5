/**
 * Security regression tests for file_server: path traversal (CWE-22), symlink escape (CWE-59),
 * symlink-swap races (CWE-367) and config file disclosure. Requests go over a raw socket so no
 * client normalises `..`, percent-encoding or backslashes before the server sees them. A secret
 * file lives OUTSIDE the root (and in a sibling directory whose name extends the root's); no
 * response may contain it, and every attempt must end in 400, 403 or 404.
 */
import { testDeps } from './support/handler-deps.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FileServerHandler } from '../src/config/types.ts';
import { ManualClock, type Clock } from '../src/kernel/clock.ts';
import { isPortcullisError } from '../src/kernel/errors.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import type { Handler } from '../src/proxy/context.ts';
import { createFileServer } from '../src/proxy/handlers/file-server.ts';
import { createRequestContext } from '../src/proxy/request-context.ts';
import { rawRequest } from './support/raw-http.ts';

const logger = silentLogger();
const SECRET = 'TOP-SECRET-' + randomBytes(12).toString('hex');
const CONFIG_SECRET = 'CONFIG-SECRET-' + randomBytes(12).toString('hex');

function fileServer(root: string, configFile: string, clock: Clock): Handler {
  const config: FileServerHandler = {
    handler: 'file_server',
    root,
    index_names: ['index.html'],
    browse: { enabled: true },
    hide: [],
    precompressed: ['gzip', 'br'],
    pass_thru: false,
  };
  return createFileServer(config, testDeps({ logger, clock, configFile }));
}

async function listen(handler: Handler): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger });
    if (ctx === null) {
      res.writeHead(400);
      res.end();
      return;
    }
    handler(ctx, async () => {
      res.writeHead(404);
      res.end();
    }).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(isPortcullisError(err) ? err.status : 500, isPortcullisError(err) ? err.headers : undefined);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function rawGet(port: number, target: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`, 3000);
}

describe('security regression: file_server path traversal and symlink escape (CWE-22, CWE-59, CWE-367)', () => {
  let base: string;
  let root: string;
  let server: { port: number; close(): Promise<void> };
  const BLOCKED = new Set([400, 403, 404]);

  before(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'pc-traversal-')));
    root = join(base, 'site');
    const outside = join(base, 'outside');
    const sibling = join(base, 'site-evil'); // shares the root's name as a prefix
    mkdirSync(root);
    mkdirSync(outside);
    mkdirSync(sibling);
    writeFileSync(join(outside, 'secret.txt'), SECRET);
    writeFileSync(join(outside, 'secret.txt.gz'), gzipSync(SECRET));
    writeFileSync(join(outside, 'index.html'), SECRET);
    writeFileSync(join(sibling, 'secret.txt'), SECRET);
    writeFileSync(join(root, 'Caddyfile'), `# ${CONFIG_SECRET}\nexample.com {\n  file_server browse\n}\n`);
    writeFileSync(join(root, 'page.html'), '<p>public</p>');
    mkdirSync(join(root, 'docs'));
    writeFileSync(join(root, 'docs', 'readme.txt'), 'public docs');
    symlinkSync('../outside/secret.txt', join(root, 'link-secret'));
    symlinkSync('../outside', join(root, 'link-dir'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'link-abs'));
    symlinkSync('../site-evil/secret.txt', join(root, 'link-sibling'));
    symlinkSync('Caddyfile', join(root, 'alias-config'));
    // A precompressed sidecar that is really a symlink to the secret.
    symlinkSync('../outside/secret.txt.gz', join(root, 'page.html.gz'));
    server = await listen(fileServer(root, join(root, 'Caddyfile'), new ManualClock(1_000_000)));
  });

  after(async () => {
    await server.close();
    rmSync(base, { recursive: true, force: true });
  });

  const targets: { target: string; headers?: Record<string, string> }[] = [
    { target: '/../outside/secret.txt' },
    { target: '/../../../../../../../../etc/passwd' },
    { target: '/%2e%2e/outside/secret.txt' },
    { target: '/%2E%2E/outside/secret.txt' },
    { target: '/%2e%2e%2foutside%2fsecret.txt' },
    { target: '/..%2foutside%2fsecret.txt' },
    { target: '/.%2e/outside/secret.txt' },
    { target: '/%2e./outside/secret.txt' },
    { target: '/%252e%252e/outside/secret.txt' },
    { target: '/%252e%252e%252foutside%252fsecret.txt' },
    { target: '/..%252foutside%252fsecret.txt' },
    { target: '/..\\outside\\secret.txt' },
    { target: '/..%5coutside%5csecret.txt' },
    { target: '/%2e%2e%5coutside%5csecret.txt' },
    { target: '/%5c..%5coutside%5csecret.txt' },
    { target: '/%c0%ae%c0%ae/outside/secret.txt' },
    { target: '/%c0%ae%c0%ae%c0%afoutside%c0%afsecret.txt' },
    { target: '/%e0%80%ae%e0%80%ae/outside/secret.txt' },
    { target: '/%uff0e%uff0e/outside/secret.txt' },
    { target: '/%ef%bc%8e%ef%bc%8e/outside/secret.txt' },
    { target: '/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd' },
    { target: '/./.././outside/secret.txt' },
    { target: '/docs/../../outside/secret.txt' },
    { target: '/docs/%2e%2e/%2e%2e/outside/secret.txt' },
    { target: '/.../outside/secret.txt' },
    { target: '/..../outside/secret.txt' },
    { target: '/..;/outside/secret.txt' },
    { target: '/%00../outside/secret.txt' },
    { target: '/page.html%00/../../outside/secret.txt' },
    { target: '/outside/secret.txt' },
    { target: '/link-secret' },
    { target: '/link-secret/' },
    { target: '/link-abs' },
    { target: '/link-sibling' },
    { target: '/link-dir/secret.txt' },
    { target: '/link-dir%2fsecret.txt' },
    { target: '/link-dir/' },
    { target: '/link-dir' },
    { target: '/link-dir/index.html' },
    { target: '/page.html', headers: { 'accept-encoding': 'gzip' } },
    { target: '/Caddyfile' },
    { target: '/Caddyfile/' },
    { target: '/./Caddyfile' },
    { target: '/%43addyfile' },
    { target: '/alias-config' },
    { target: '/docs/../Caddyfile' },
    { target: 'http://127.0.0.1/../outside/secret.txt' },
    { target: 'file:///etc/passwd' },
    { target: '../outside/secret.txt' },
    { target: '\\..\\outside\\secret.txt' },
  ];

  it('has a table of at least 25 hostile request targets', () => {
    assert.ok(targets.length >= 25);
  });

  for (const { target, headers } of targets) {
    it(`refuses ${JSON.stringify(target)}${headers ? ' with ' + JSON.stringify(headers) : ''}`, async () => {
      const reply = await rawGet(server.port, target, headers);
      assert.ok(!reply.text.includes(SECRET), `secret leaked for ${target}`);
      assert.ok(!reply.text.includes(CONFIG_SECRET), `config file leaked for ${target}`);
      assert.ok(!reply.text.includes('root:x:0:0'), `/etc/passwd leaked for ${target}`);
      if (target === '/page.html') {
        // The escaping sidecar is ignored; the real page is served uncompressed.
        assert.equal(reply.status, 200);
        assert.ok(!/content-encoding/i.test(reply.text));
        assert.ok(reply.text.includes('<p>public</p>'));
      } else {
        assert.ok(BLOCKED.has(reply.status), `${target} answered ${reply.status}`);
      }
    });
  }

  it('also refuses the absolute path of the secret sent as a request path', async () => {
    const reply = await rawGet(server.port, '/' + join(base, 'outside', 'secret.txt'));
    assert.ok(!reply.text.includes(SECRET));
    assert.ok(BLOCKED.has(reply.status));
    const doubled = await rawGet(server.port, '/' + join(base, 'outside', 'secret.txt').replaceAll('/', '%2f'));
    assert.ok(!doubled.text.includes(SECRET));
    assert.ok(BLOCKED.has(doubled.status));
  });

  it('leaves escaping symlinks and the config file out of directory listings', async () => {
    for (const accept of ['application/json', 'text/html']) {
      const reply = await rawGet(server.port, '/', { accept });
      assert.equal(reply.status, 200);
      assert.ok(!reply.text.includes('link-secret'));
      assert.ok(!reply.text.includes('link-dir'));
      assert.ok(!reply.text.includes('link-sibling'));
      assert.ok(!reply.text.includes('Caddyfile'));
      assert.ok(!reply.text.includes(SECRET));
      assert.ok(reply.text.includes('page.html'));
    }
  });

  it('still serves ordinary files (the table above is not passing by refusing everything)', async () => {
    const reply = await rawGet(server.port, '/docs/readme.txt');
    assert.equal(reply.status, 200);
    assert.ok(reply.text.includes('public docs'));
  });

  it('refuses a directory swapped for an outside symlink after the path was checked (TOCTOU)', { skip: process.platform !== 'linux' && 'the post-open check uses /proc/self/fd' }, async () => {
    // Large enough not to be held in memory, so every GET opens the file again.
    const inside = Buffer.alloc(2_000_000, 'i');
    const outsideBytes = Buffer.concat([Buffer.from(SECRET), Buffer.alloc(2_000_000, 's')]);
    const swapRoot = join(base, 'swap-root');
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(join(swapRoot, 'assets'), { recursive: true });
    mkdirSync(elsewhere);
    writeFileSync(join(swapRoot, 'assets', 'big.bin'), inside);
    writeFileSync(join(elsewhere, 'big.bin'), outsideBytes);
    // The clock stands still, so the resolution checked on the first request stays trusted.
    const swapServer = await listen(fileServer(swapRoot, join(base, 'none'), new ManualClock(1)));
    try {
      const first = await rawGet(swapServer.port, '/assets/big.bin');
      assert.equal(first.status, 200);
      renameSync(join(swapRoot, 'assets'), join(swapRoot, 'assets-old'));
      symlinkSync(elsewhere, join(swapRoot, 'assets'));
      const second = await rawGet(swapServer.port, '/assets/big.bin');
      assert.ok(!second.text.includes(SECRET), 'followed a swapped-in symlink');
      assert.equal(second.status, 404);
    } finally {
      await swapServer.close();
    }
  });
});
