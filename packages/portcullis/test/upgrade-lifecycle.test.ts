/**
 * Review: requests carrying `Upgrade` (WebSocket) that hit routes without reverse_proxy. Node
 * hands them to the 'upgrade' event with a bare socket; the front door wraps them in a
 * ServerResponse. They must still be accounted (access log, in-flight count so a reload can
 * dispose the old runtime) and their sockets must not outlive the instance.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startPortcullis } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** Sends an upgrade request and waits for the reply; with halfOpen the client never closes its side. */
function upgradeRequest(port: number, halfOpen: boolean): Promise<{ socket: Socket; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: halfOpen });
    let text = '';
    const timer = setTimeout(() => resolve({ socket, text }), 1500);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ socket, text });
    });
    socket.on('error', reject);
    socket.write(UPGRADE);
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('upgrade requests on routes without reverse_proxy', () => {
  test('an upgrade request answered by respond is written to the access log', async () => {
    const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	log {
		output file $DIR/access.log
	}
	respond /ws "no websockets here" 200
	respond "ok"
}
`);
    cleanups.push(() => p.stop());
    const control = await fetch(`${p.url}/plain`);
    await control.text();
    const { socket, text } = await upgradeRequest(p.port(), false);
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 200/);
    await sleep(300);
    const file = join(p.dir, 'access.log');
    const log = existsSync(file) ? readFileSync(file, 'utf8') : '';
    assert.match(log, /"uri":"\/plain"/, 'the ordinary request is logged');
    assert.match(log, /"uri":"\/ws"/, 'the upgrade request is missing from the access log');
  });

  test('after an upgrade request hit respond, a reload still disposes the old runtime (health checks stop)', async () => {
    let probes = 0;
    const up: Upstream = await startUpstream((req, res) => {
      if (req.url === '/health') probes++;
      res.end('up');
    });
    cleanups.push(() => up.close());
    const config = (health: boolean) => `
{
	admin off
}
http://127.0.0.1:0 {
	respond /ws "no websockets here" 200
	reverse_proxy 127.0.0.1:${up.port} {
		${health ? 'health_uri /health\n\t\thealth_interval 50ms' : ''}
	}
}
`;
    const p = await startPortcullis(config(true));
    cleanups.push(() => p.stop());
    for (let i = 0; i < 40 && probes === 0; i++) await sleep(50);
    assert.ok(probes > 0, 'health checks run');
    const { socket } = await upgradeRequest(p.port(), false);
    socket.destroy();
    await sleep(100);
    writeFileSync(p.configFile, config(false));
    await p.instance.reload();
    await sleep(200);
    const afterReload = probes;
    await sleep(500);
    assert.equal(probes, afterReload, `the replaced runtime still runs health checks (${probes - afterReload} probes after the reload): it was never disposed`);
  });

  test('stop() finishes within the grace period while a client holds an upgraded socket half-open', async () => {
    const p = await startPortcullis(`
{
	admin off
	grace_period 500ms
}
http://127.0.0.1:0 {
	respond "no websockets here" 200
}
`);
    const { socket, text } = await upgradeRequest(p.port(), true);
    assert.match(text, /^HTTP\/1\.1 200/);
    const stopped = p.stop().then(() => 'stopped' as const);
    const verdict = await Promise.race([stopped, sleep(3000).then(() => 'hung' as const)]);
    socket.destroy();
    if (verdict === 'hung') await stopped;
    assert.equal(verdict, 'stopped', 'stop() hangs past its grace period on an upgraded socket');
  });
});

describe('h2c upgrade requests', () => {
  for (const upgrade of ['h2c', 'websocket, h2c', 'H2C,foo']) test(`security: Upgrade: ${upgrade} is never tunnelled: a permissive upstream gets a plain request, so no further request can ride past the matchers`, async () => {
    const { createServer } = await import('node:http');
    const seen: { kind: string; url: string; upgrade: string | undefined }[] = [];
    // An upstream that would accept any upgrade and then read whatever the client sends next.
    const up = createServer((req, res) => {
      seen.push({ kind: 'request', url: req.url ?? '', upgrade: req.headers.upgrade });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('plain answer');
    });
    up.on('upgrade', (req, socket) => {
      seen.push({ kind: 'upgrade', url: req.url ?? '', upgrade: req.headers.upgrade });
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    });
    await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => { up.closeAllConnections(); up.close(() => resolve()); }));
    const upPort = (up.address() as { port: number }).port;
    const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	@admin path /admin*
	respond @admin "forbidden" 403
	reverse_proxy 127.0.0.1:${upPort}
}
`);
    cleanups.push(() => p.stop());
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect({ port: p.port(), host: '127.0.0.1' });
      let got = '';
      const timer = setTimeout(() => { socket.destroy(); resolve(got); }, 2000);
      socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
      socket.on('close', () => { clearTimeout(timer); resolve(got); });
      socket.on('error', reject);
      socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: ${upgrade}\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`);
      // What a smuggler sends through the tunnel it hoped for.
      setTimeout(() => socket.write('GET /admin/secret HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 200);
    });
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /plain answer/);
    assert.doesNotMatch(text, /101 Switching Protocols/);
    assert.deepEqual(seen, [{ kind: 'request', url: '/', upgrade: undefined }]);
  });
});
