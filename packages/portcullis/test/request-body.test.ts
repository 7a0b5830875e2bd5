/**
 * request_body max_size in front of reverse_proxy, and client bodies that break off: every way
 * a client can fail its body ends in a 413 or a cut connection and an aborted upstream request,
 * never in an unhandled 'error' that ends the process (regression: an oversized chunked body
 * crashed Portcullis). A crash here fails the whole file, since the instance runs in-process.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { startPortcullis, type Running } from './support/instance.ts';
import { rawRequest } from './support/raw-http.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** One request as the upstream saw it. */
interface Seen {
  url: string;
  body: string;
  /** Resolves true when the request's body ended whole, false when it was cut off (aborted). */
  outcome: Promise<boolean>;
}

interface Probe {
  port: number;
  /** TCP connections the upstream accepted. */
  connections(): number;
  seen: Seen[];
  /** Resolves with the next request the upstream receives (bounded: rejects after 3 s). */
  nextRequest(): Promise<Seen>;
  close(): Promise<void>;
}

type Respond = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

/** Echoes the body once it ended; `respond` replaces that for a request. */
async function startProbe(respond?: Respond): Promise<Probe> {
  let connections = 0;
  const seen: Seen[] = [];
  const waiting: ((s: Seen) => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const entry: Seen = {
      url: req.url ?? '',
      body: '',
      outcome: new Promise<boolean>((resolve) => {
        req.on('data', (c: Buffer) => {
          chunks.push(c);
          entry.body = Buffer.concat(chunks).toString('latin1');
        });
        req.on('end', () => resolve(true));
        req.on('close', () => resolve(req.complete));
        req.on('error', () => resolve(false));
      }),
    };
    seen.push(entry);
    waiting.shift()?.(entry);
    if (respond) return respond(req, res, entry);
    void entry.outcome.then((whole) => {
      if (!whole) return;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(entry.body, 'latin1') });
      res.end(entry.body, 'latin1');
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const probe: Probe = {
    port: typeof address === 'object' && address ? address.port : 0,
    connections: () => connections,
    seen,
    nextRequest: () =>
      new Promise<Seen>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the upstream saw no request')), 3000);
        waiting.push((s) => {
          clearTimeout(timer);
          resolve(s);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  cleanups.push(() => probe.close());
  return probe;
}

async function portcullis(upstreamPort: number, options: { maxSize?: number; proxyBlock?: string; terminal?: string; extra?: string } = {}): Promise<Running> {
  const terminal = options.terminal ?? `reverse_proxy 127.0.0.1:${upstreamPort} {\n${options.proxyBlock ?? ''}\n\t}`;
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	request_body {
		max_size ${options.maxSize ?? 10}
	}
	${terminal}
	${options.extra ?? ''}
}
`);
  cleanups.push(() => p.stop());
  return p;
}

/** A raw client connection: write when the test says, read everything, know when it closed. */
interface Client {
  socket: Socket;
  text(): string;
  /** Resolves true once the received text matches `re`, false after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<boolean>;
  /** Resolves true once the server closed the connection, false after timeoutMs. */
  waitClosed(timeoutMs?: number): Promise<boolean>;
}

function openClient(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let closed = false;
    const listeners = new Set<() => void>();
    const changed = () => {
      for (const listener of listeners) listener();
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      changed();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      changed();
    });
    const until = (check: () => boolean, timeoutMs: number): Promise<boolean> =>
      new Promise((done) => {
        if (check()) return done(true);
        const timer = setTimeout(() => {
          listeners.delete(listener);
          done(false);
        }, timeoutMs);
        const listener = () => {
          if (!check()) return;
          clearTimeout(timer);
          listeners.delete(listener);
          done(true);
        };
        listeners.add(listener);
      });
    socket.once('connect', () =>
      resolve({
        socket,
        text: () => received,
        waitFor: (re, timeoutMs = 3000) => until(() => re.test(received), timeoutMs),
        waitClosed: (timeoutMs = 3000) => until(() => closed, timeoutMs),
      }),
    );
    socket.once('error', reject);
    cleanups.push(async () => void socket.destroy());
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the promise's value, or `fallback` after timeoutMs. */
async function within<T>(promise: Promise<T>, timeoutMs: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), timeoutMs)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const chunked = (path: string): string => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
const chunk = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n`;
const LAST = '0\r\n\r\n';

/** The process still answers a fresh request end to end through the upstream. */
async function stillServing(p: Running): Promise<void> {
  const res = await rawRequest(p.port(), `POST /after HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`);
  assert.equal(res.status, 200, res.text);
  assert.match(res.text, /\r\n\r\nok$/);
}

describe('request_body max_size (regression: an oversized chunked body crashed the process)', () => {
  test('a declared Content-Length over the limit is refused with 413 before the upstream is contacted', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port);
    const res = await rawRequest(p.port(), `POST /big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\nxxxxxxxxxxx`);
    assert.equal(res.status, 413, res.text);
    assert.match(res.text, /\r\nconnection: close\r\n/i, 'the unread body makes the connection unusable');
    assert.equal(res.closed, true);
    assert.equal(up.connections(), 0, 'the upstream must not be contacted');
    await stillServing(p);
  });

  test('an oversized chunked body gets 413 and the upstream never receives it whole', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port);
    const x = 'x'.repeat(64);
    const res = await rawRequest(p.port(), chunked('/big') + chunk(x) + chunk(x) + LAST);
    assert.equal(res.status, 413, res.text);
    assert.equal(res.closed, true, 'the connection closes after the 413');
    for (const s of up.seen) {
      assert.equal(await within(s.outcome, 3000, null), false, 'an upstream request must be aborted, not completed');
      assert.ok(s.body.length <= 10, `the upstream got ${s.body.length} bytes`);
    }
    await stillServing(p);
  });

  test('an oversized chunked body that crosses the limit over several writes gets 413', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port, { maxSize: 10 });
    const client = await openClient(p.port());
    client.socket.write(chunked('/slow') + chunk('12345'));
    const seen = await up.nextRequest();
    client.socket.write(chunk('678901'));
    assert.equal(await client.waitFor(/^HTTP\/1\.1 413 /), true, client.text());
    assert.equal(await client.waitClosed(), true);
    assert.equal(await within(seen.outcome, 3000, null), false, 'the upstream request is aborted');
    assert.ok(seen.body.length <= 10, `the upstream got ${seen.body.length} bytes`);
    await stillServing(p);
  });

  test('the 413 for a chunked body goes through the error path: handle_errors answers it', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port, { extra: 'handle_errors {\n\t\trespond "refused {err.status_code}" 413\n\t}' });
    const x = 'x'.repeat(64);
    const res = await rawRequest(p.port(), chunked('/big') + chunk(x) + chunk(x) + LAST);
    assert.equal(res.status, 413, res.text);
    assert.match(res.text, /\r\n\r\nrefused 413$/);
    assert.equal(res.closed, true);
  });

  test('a body exactly at the limit passes intact, chunked or with Content-Length', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port);
    const viaChunks = await rawRequest(p.port(), chunked('/exact') + chunk('12345') + chunk('67890') + LAST);
    assert.equal(viaChunks.status, 200, viaChunks.text);
    assert.match(viaChunks.text, /\r\n\r\n1234567890$/);
    const viaLength = await rawRequest(p.port(), `POST /exact HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcdefghij`);
    assert.equal(viaLength.status, 200, viaLength.text);
    assert.match(viaLength.text, /\r\n\r\nabcdefghij$/);
  });

  test('with request_buffers, an oversized chunked body still gets 413 (not an empty 200)', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port, { proxyBlock: '\t\trequest_buffers 1KB' });
    const x = 'x'.repeat(64);
    const res = await rawRequest(p.port(), chunked('/buffered') + chunk(x) + LAST);
    assert.equal(res.status, 413, res.text);
    assert.equal(up.connections(), 0, 'a body refused while buffering never reaches the upstream');
    const fits = await rawRequest(p.port(), chunked('/buffered') + chunk('0123456789') + LAST);
    assert.equal(fits.status, 200, fits.text);
    assert.match(fits.text, /\r\n\r\n0123456789$/);
  });

  test('a limit passed after the upstream answered cuts the connection and aborts the upstream request', async () => {
    const up = await startProbe((req, res, seen) => {
      if (req.url !== '/early') {
        void seen.outcome.then((whole) => whole && res.end(seen.body));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const p = await portcullis(up.port, { proxyBlock: '\t\tflush_interval -1' });
    const client = await openClient(p.port());
    client.socket.write(chunked('/early') + chunk('12345'));
    const seen = await up.nextRequest();
    assert.equal(await client.waitFor(/partial/), true, client.text());
    client.socket.write(chunk('x'.repeat(64)));
    assert.equal(await client.waitClosed(), true, 'the connection is cut');
    assert.doesNotMatch(client.text(), /\r\n0\r\n\r\n$/, 'a cut response must not look complete');
    assert.equal(await within(seen.outcome, 3000, null), false, 'the upstream request is aborted');
    await stillServing(p);
  });

  test('a handler that never reads the body: the refusal is absorbed and the connection closes', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port, { terminal: 'respond "ignored the body"' });
    const x = 'x'.repeat(64);
    const res = await rawRequest(p.port(), chunked('/respond') + chunk(x) + chunk(x) + LAST);
    assert.ok(res.status === 200 || res.status === 413, res.text);
    assert.equal(res.closed, true);
    const next = await rawRequest(p.port(), 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(next.status, 200, next.text);
  });
});

describe('client bodies that break off', () => {
  test('a client that aborts mid-upload: the upstream request is aborted and the process keeps serving', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port, { maxSize: 1000 });
    const client = await openClient(p.port());
    client.socket.write(chunked('/upload') + chunk('hello'));
    const seen = await up.nextRequest();
    client.socket.destroy();
    assert.equal(await within(seen.outcome, 3000, null), false, 'the upstream request is aborted');
    await stillServing(p);
  });

  test('a client that aborts mid-upload while its body is buffered (request_buffers)', async () => {
    const up = await startProbe();
    const p = await portcullis(up.port, { maxSize: 1000, proxyBlock: '\t\trequest_buffers 1KB' });
    const client = await openClient(p.port());
    client.socket.write(chunked('/upload') + chunk('hello'));
    await sleep(100);
    client.socket.destroy();
    await sleep(100);
    assert.equal(up.connections(), 0, 'a body that never completed is not sent');
    await stillServing(p);
  });

  test('a client that aborts while its request waits for an upstream connection (body destroyed before the first read)', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(async () => release());
    const up = await startProbe((req, res, seen) => {
      if (req.url !== '/hold') {
        void seen.outcome.then((whole) => whole && res.end(seen.body));
        return;
      }
      req.resume();
      void held.then(() => res.end('held'));
    });
    const p = await portcullis(up.port, { maxSize: 1000, proxyBlock: '\t\ttransport http {\n\t\t\tmax_conns_per_host 1\n\t\t}' });
    // The only upstream connection is busy, so the next request queues inside the pool.
    const holder = rawRequest(p.port(), 'GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 5000);
    await up.nextRequest();
    const client = await openClient(p.port());
    client.socket.write(chunked('/queued') + chunk('hello'));
    await sleep(100);
    client.socket.destroy();
    await sleep(100);
    // The queued request now gets the connection with a body whose client is gone.
    release();
    const held1 = await holder;
    assert.equal(held1.status, 200, held1.text);
    await sleep(100);
    assert.equal(
      up.seen.some((s) => s.url === '/queued' && s.body === 'hello'),
      false,
      'the abandoned body must not reach the upstream as a complete request',
    );
    await stillServing(p);
  });

  test('a chunked body over the limit while the request waits for an upstream connection gets 413', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(async () => release());
    const up = await startProbe((req, res, seen) => {
      if (req.url !== '/hold') {
        void seen.outcome.then((whole) => whole && res.end(seen.body));
        return;
      }
      req.resume();
      void held.then(() => res.end('held'));
    });
    const p = await portcullis(up.port, { proxyBlock: '\t\ttransport http {\n\t\t\tmax_conns_per_host 1\n\t\t}' });
    const holder = rawRequest(p.port(), 'GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 5000);
    await up.nextRequest();
    const client = await openClient(p.port());
    client.socket.write(chunked('/queued') + chunk('x'.repeat(64)) + LAST);
    await sleep(100);
    release();
    assert.equal((await holder).status, 200);
    assert.equal(await client.waitFor(/^HTTP\/1\.1 413 /), true, client.text());
    assert.equal(await client.waitClosed(), true);
    await stillServing(p);
  });
});
