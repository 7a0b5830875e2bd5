/**
 * Review: reload and stop interleavings. A stopped instance must stay stopped (no listener may
 * come back), and an admin `/load` that moves the admin address must still answer its caller.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { connect, Server } from 'node:net';
import { request } from 'undici';
import { createServer as createNetServer } from 'node:net';
import { freePort, startPortcullis } from './support/instance.ts';
import { rawRequest } from './support/raw-http.ts';
import { startUpstream } from './support/upstream.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 1000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * The instance has no handle on a listener that came back after stop() (stop() is memoised), so
 * the test closes it through the process's active handles, or the test process would never exit.
 */
function closeLeakedListener(port: number): void {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  for (const h of handles) {
    if (!(h instanceof Server)) continue;
    const a = h.address();
    if (a && typeof a === 'object' && a.port === port) {
      (h as Server & { closeAllConnections?(): void }).closeAllConnections?.();
      h.close();
    }
  }
}

const leftovers: (() => Promise<void>)[] = [];
after(async () => {
  for (const l of leftovers) await l().catch(() => undefined);
});

const site = (port: number) => `
{
	admin off
	grace_period 200ms
}
http://127.0.0.1:${port} {
	respond "ok"
}
`;

describe('reload and stop interleavings', () => {
  test('reload() after stop() is refused and opens no listener', async () => {
    const port = await freePort();
    const p = await startPortcullis(site(port));
    await p.instance.stop();
    const other = await freePort();
    writeFileSync(p.configFile, site(other));
    leftovers.push(() => p.stop());
    const outcome = await p.instance.reload().then(
      () => 'applied',
      () => 'refused',
    );
    const open = await listening(other);
    if (open) closeLeakedListener(other);
    assert.equal(open, false, `a stopped instance listens again on ${other} after reload (reload ${outcome})`);
  });

  test('stop() while a reload is opening a new listener leaves nothing listening', async () => {
    const port = await freePort();
    const p = await startPortcullis(site(port));
    const other = await freePort();
    writeFileSync(p.configFile, site(other));
    const reloading = p.instance.reload().catch(() => undefined);
    const stopping = p.instance.stop();
    await Promise.all([reloading, stopping]);
    await sleep(100);
    const open = await listening(other);
    if (open) closeLeakedListener(other);
    assert.equal(open, false, `port ${other} is listening after stop() resolved`);
  });

  test('POST /load that moves the admin address still answers 200 to its caller', async () => {
    const adminA = await freePort();
    const adminB = await freePort();
    const port = await freePort();
    const text = (admin: number) => `
{
	admin 127.0.0.1:${admin}
}
http://127.0.0.1:${port} {
	respond "ok"
}
`;
    const p = await startPortcullis(text(adminA));
    leftovers.push(() => p.stop());
    const { loadConfig } = await import('../src/config/index.ts');
    writeFileSync(p.configFile, text(adminB));
    const body = JSON.stringify(loadConfig(p.configFile));
    const outcome = await request(`http://127.0.0.1:${adminA}/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
      async (r) => `HTTP ${r.statusCode} ${await r.body.text()}`,
      (e: Error) => `failed: ${e.message}`,
    );
    assert.equal(p.instance.adminAddress()?.port, adminB, 'the admin API moved');
    assert.match(outcome, /^HTTP 200/, `the caller of /load got: ${outcome}`);
  });

  test('a reload whose new admin address cannot bind is not half-applied', async () => {
    const adminA = await freePort();
    const port = await freePort();
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const adminB = (blocker.address() as { port: number }).port;
    const text = (admin: number, body: string) => `
{
	admin 127.0.0.1:${admin}
}
http://127.0.0.1:${port} {
	respond "${body}"
}
`;
    const p = await startPortcullis(text(adminA, 'old'));
    leftovers.push(() => p.stop());
    leftovers.push(() => new Promise<void>((r) => blocker.close(() => r())));
    writeFileSync(p.configFile, text(adminB, 'new'));
    await assert.rejects(p.instance.reload());
    const served = (await rawRequest(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).text;
    const adminUp = await listening(adminA);
    // Either the reload took effect as a whole, or nothing changed; here the routes changed and
    // the admin API is gone, while the caller was told the reload failed.
    assert.ok(!/new$/.test(served) || adminUp, `reload reported failure, yet serves ${JSON.stringify(served.slice(-3))} and the admin API on ${adminA} is ${adminUp ? 'up' : 'gone'}`);
    assert.ok(adminUp, 'the admin API is gone after a failed reload');
  });

  test('stop() lets an in-flight request finish and closes its keep-alive connection', async () => {
    const up = await startUpstream((_req, res) => setTimeout(() => res.end('slow done'), 300));
    leftovers.push(() => up.close());
    const port = await freePort();
    const p = await startPortcullis(`
{
	admin off
	grace_period 3s
}
http://127.0.0.1:${port} {
	reverse_proxy 127.0.0.1:${up.port}
}
`);
    const inflight = rawRequest(port, 'GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 2500);
    await sleep(100);
    const started = Date.now();
    await p.stop();
    const res = await inflight;
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /slow done/);
    assert.ok(res.closed, 'the connection was closed after the response');
    assert.ok(Date.now() - started < 2000, 'stop() did not wait for the whole grace period');
  });
});

/**
 * An HTTPS site (internal CA, grace period 5 s) proxying to an upstream that answers
 * `slow done` after 400 ms: a request in flight while the instance stops.
 */
async function slowHttpsSite() {
  const up = await startUpstream((_req, res) => setTimeout(() => res.end('slow done'), 400));
  leftovers.push(() => up.close());
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${httpsPort}
	storage file_system $DIR/data
	grace_period 5s
}
localhost {
	tls internal
	reverse_proxy 127.0.0.1:${up.port}
}
`);
  const ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
  return { p, httpsPort, ca };
}

describe('graceful stop over HTTPS/1.1', () => {
  // The TLS listener is node:http2's server, which has no closeIdleConnections: tls-connections.ts
  // decides which HTTP/1.1 connections are idle (no response being written) and sends HTTP/2
  // sessions a GOAWAY.
  test('stop() lets an in-flight HTTPS/1.1 request finish, closes an idle keep-alive connection at once', async () => {
    const { p, httpsPort, ca } = await slowHttpsSite();
    const get = (agent: HttpsAgent) =>
      new Promise<{ status: number; body: string; closed: Promise<void> }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', headers: { host: 'localhost' }, ca, agent, timeout: 4000 }, (res) => {
          // Taken now: a keep-alive agent detaches the socket from the response once it ends.
          const socket = res.socket;
          const closed = new Promise<void>((done) => socket.once('close', () => done()));
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body, closed }));
        });
        req.on('timeout', () => req.destroy(new Error('no answer in 4 s')));
        req.on('error', reject);
        req.end();
      });
    // One keep-alive connection left idle after a first answer, one with a slow answer in flight.
    const idleAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    const busyAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    leftovers.push(async () => {
      idleAgent.destroy();
      busyAgent.destroy();
    });
    const first = await get(idleAgent);
    assert.equal(first.status, 200);
    const inflight = get(busyAgent);
    let answered = false;
    void inflight.then(() => (answered = true), () => undefined);
    await sleep(100);
    const started = Date.now();
    const stopped = p.stop();
    // The idle connection goes at once: before the slow answer is done.
    await first.closed;
    assert.equal(answered, false, 'the idle connection was closed only after the in-flight answer');
    const res = await inflight;
    assert.deepEqual([res.status, res.body], [200, 'slow done']);
    await res.closed;
    await stopped;
    assert.ok(Date.now() - started < 3000, 'stop() did not wait for the whole grace period');
  });
});

describe('graceful stop over HTTP/2', () => {
  // Stopping closes each HTTP/2 session with a GOAWAY (node:http2's server.close() does, and
  // tls-connections.ts's session.close() for any left): the streams already open finish, new
  // ones are refused, the HTTP/2 form of draining (RFC 9113 section 6.8). Cutting the session
  // instead fails the in-flight stream, which this test checks.
  test('stop() sends GOAWAY, lets the stream in flight finish, refuses a new stream, and closes the session', async () => {
    const { p, httpsPort, ca } = await slowHttpsSite();
    const session = http2Connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: 'localhost' });
    leftovers.push(async () => void session.destroy());
    session.on('error', () => undefined);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const sessionClosed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const inflight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/slow', ':authority': 'localhost' });
      const timer = setTimeout(() => stream.close(), 4000);
      let status = 0;
      let body = '';
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (d: Buffer) => (body += d.toString()));
      stream.on('end', () => {
        clearTimeout(timer);
        resolve({ status, body });
      });
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    await sleep(100);
    const started = Date.now();
    const stopped = p.stop();
    await within(goaway, 3000, 'a GOAWAY after stop()');
    // After GOAWAY the client may open no stream: Node refuses it on the client side, and the
    // server would refuse one that raced the GOAWAY (its id is above the last one accepted).
    const late = session.request({ ':path': '/late', ':authority': 'localhost' });
    const refused = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('no error in 2 s'), 2000);
      late.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(err.code ?? err.message);
      });
      late.once('response', () => {
        clearTimeout(timer);
        resolve('answered');
      });
    });
    assert.equal(refused, 'ERR_HTTP2_GOAWAY_SESSION');
    const res = await inflight;
    assert.deepEqual([res.status, res.body], [200, 'slow done']);
    await within(sessionClosed, 3000, 'the session to close');
    await stopped;
    assert.ok(Date.now() - started < 3000, 'stop() did not wait for the whole grace period');
  });
});

/** `promise`, or a rejection naming `what` after `ms`: a missing event fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
