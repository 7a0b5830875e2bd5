/**
 * The Caddyfile from the proxy-core issue runs unchanged except that hosts are pointed at
 * loopback ports (there is no HTTPS in this test): `example.com` becomes
 * `http://example.com:PORT`, upstreams become local servers, /srv a temp dir.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

const SNIPPET = readFileSync(new URL('./fixtures/issue-snippet.caddyfile', import.meta.url), 'utf8');

describe('the Caddyfile snippet from the issue', () => {
  let p: Running;
  let api: Upstream;
  let rss: Upstream;
  let port: number;
  before(async () => {
    api = await startUpstream();
    rss = await startUpstream((_req, res) => res.end('miniflux'));
    port = await freePort();
    const text =
      `{\n\tadmin off\n\tdefault_bind 127.0.0.1\n}\n` +
      SNIPPET.replace('example.com {', `http://example.com:${port} {`)
        .replace('api.example.com {', `http://api.example.com:${port} {`)
        .replace('rss.{$DOMAIN} {', `http://rss.{$DOMAIN}:${port} {`)
        .replace('/srv', '$DIR/srv')
        .replace('localhost:3000', `localhost:${api.port}`)
        .replace('miniflux:8080', `127.0.0.1:${rss.port}`);
    p = await startPortcullis(text, { env: { DOMAIN: 'example.org' } });
    mkdirSync(join(p.dir, 'srv'));
    writeFileSync(join(p.dir, 'srv', 'index.html'), '<h1>home</h1>');
    writeFileSync(join(p.dir, 'srv', 'app.css'), 'body{}');
  });
  after(async () => {
    await p.stop();
    await api.close();
    await rss.close();
  });

  const get = async (host: string, path: string) => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  test('example.com serves files, with Cache-Control only on matching paths', async () => {
    const css = await get('example.com', '/app.css');
    assert.equal(css.status, 200);
    assert.equal(css.body, 'body{}');
    assert.equal(css.headers['cache-control'], 'max-age=3600');
    const index = await get('example.com', '/');
    assert.equal(index.body, '<h1>home</h1>');
    assert.equal(index.headers['cache-control'], undefined);
  });

  test('api.example.com is proxied', async () => {
    const res = await get('api.example.com', '/v1/things?id=3');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).url, '/v1/things?id=3');
  });

  test('rss.{$DOMAIN} takes its host from the environment and imports the snippet', async () => {
    assert.equal((await get('rss.example.org', '/')).body, 'miniflux');
    assert.equal((await get('rss.other.org', '/')).status, 404);
    // The unexpanded name is not even a valid Host: refused before routing.
    assert.equal((await get('rss.{$DOMAIN}', '/')).status, 400);
  });
});
