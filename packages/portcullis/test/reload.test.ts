/**
 * Reload under load: keep-alive clients hammer the server while the config is swapped several
 * times. No request may fail and no connection may be closed: the listeners stay, only the
 * compiled routes behind them change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Pool, request } from 'undici';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

function configText(port: number, adminPort: number, upstreamPort: number, version: number): string {
  return `
{
	admin 127.0.0.1:${adminPort}
	grace_period 5s
}
http://127.0.0.1:${port} {
	handle /slow {
		reverse_proxy 127.0.0.1:${upstreamPort}
	}
	respond "version ${version}"
}
`;
}

describe('graceful reload', () => {
  let p: Running;
  let up: Upstream;
  let port: number;
  let adminPort: number;
  before(async () => {
    up = await startUpstream((_req, res) => setTimeout(() => res.end('slow done'), 300));
    port = await freePort();
    adminPort = await freePort();
    p = await startPortcullis(configText(port, adminPort, up.port, 0));
  });
  after(async () => {
    await p.stop();
    await up.close();
  });

  test('a reload during a bounded load run fails no request and resets no connection', async () => {
    const connections = 8;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
    let connects = 0;
    let disconnects = 0;
    pool.on('connect', () => connects++);
    pool.on('disconnect', () => disconnects++);
    const seen = new Set<string>();
    let ok = 0;
    let failed = 0;
    const deadline = Date.now() + 3000;
    const worker = async () => {
      for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
        try {
          const res = await pool.request({ path: '/', method: 'GET' });
          const text = await res.body.text();
          if (res.statusCode === 200) {
            ok++;
            seen.add(text);
          } else failed++;
        } catch {
          failed++;
        }
      }
    };
    // One slow request is in flight across the reloads and must complete on the old config.
    const slow = request(`http://127.0.0.1:${port}/slow`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    const reloads = (async () => {
      for (let version = 1; version <= 4; version++) {
        await new Promise((r) => setTimeout(r, 400));
        writeFileSync(p.configFile, configText(port, adminPort, up.port, version));
        if (version % 2 === 1) await p.instance.reload();
        else {
          // The other path: the admin API, as `portcullis reload` uses it.
          const { loadConfig } = await import('../src/config/index.ts');
          const res = await request(`http://127.0.0.1:${adminPort}/load`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(loadConfig(p.configFile)),
          });
          assert.equal(res.statusCode, 200, await res.body.text());
        }
      }
    })();
    await Promise.all([...Array.from({ length: connections }, worker), reloads]);
    const slowResult = await slow;
    // Counted before our own close, which disconnects every client by design.
    const serverClosed = disconnects;
    await pool.close();
    assert.equal(failed, 0, 'failed requests');
    assert.ok(ok > 500, `enough requests ran (${ok})`);
    assert.equal(serverClosed, 0, 'no keep-alive connection was closed by the server');
    assert.equal(connects, connections);
    assert.ok(seen.has('version 0') && seen.has('version 4'), `saw ${[...seen].join(', ')}`);
    assert.deepEqual(slowResult, { status: 200, body: 'slow done' });
  });

  test('a bad config is refused and the old one keeps serving', async () => {
    writeFileSync(p.configFile, configText(port, adminPort, up.port, 5).replace('respond', 'respnd'));
    await assert.rejects(p.instance.reload(), /respnd/);
    const res = await request(`http://127.0.0.1:${port}/`);
    assert.match(await res.body.text(), /^version \d$/);
    const admin = await request(`http://127.0.0.1:${adminPort}/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sites": 7}' });
    assert.equal(admin.statusCode, 400);
    assert.match(await admin.body.text(), /sites/);
  });

  test('admin API refuses non-loopback Host and cross-site Origin (DNS rebinding / CSRF regression)', async () => {
    const rebinding = await request(`http://127.0.0.1:${adminPort}/config`, { headers: { host: 'evil.example' } });
    assert.equal(rebinding.statusCode, 403);
    await rebinding.body.text();
    const csrf = await request(`http://127.0.0.1:${adminPort}/load`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(csrf.statusCode, 403);
    await csrf.body.text();
    const ok = await request(`http://127.0.0.1:${adminPort}/config`);
    assert.equal(ok.statusCode, 200);
    assert.ok(Array.isArray((await ok.body.json() as { sites: unknown[] }).sites));
  });
});

describe('graceful shutdown', () => {
  test('requests in flight finish; new connections are refused', async () => {
    const up = await startUpstream((_req, res) => setTimeout(() => res.end('finished'), 400));
    const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	reverse_proxy 127.0.0.1:${up.port}
}
`);
    const url = p.url;
    const inflight = request(url).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await new Promise((r) => setTimeout(r, 100));
    const stopping = p.stop();
    assert.deepEqual(await inflight, { status: 200, body: 'finished' });
    await stopping;
    await assert.rejects(request(url));
    await up.close();
  });
});
