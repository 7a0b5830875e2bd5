/** reverse_proxy streaming: no buffering either way, backpressure, large bodies, aborts. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, describe, test } from 'node:test';
import { proxyConfig, send, sleep, startProxy, startUpstream, type Proxy, type TestUpstream } from './reverse-proxy-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function upstream(handle: Parameters<typeof startUpstream>[0], raw = false): Promise<TestUpstream> {
  const u = await startUpstream(handle, raw);
  cleanups.push(() => u.close());
  return u;
}

async function proxy(...args: Parameters<typeof startProxy>): Promise<Proxy> {
  const p = await startProxy(...args);
  cleanups.push(() => p.close());
  return p;
}

/** A promise with its resolver, bounded so a broken proxy fails the test instead of hanging it. */
function signal(timeoutMs = 3000): { promise: Promise<boolean>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    fire = () => {
      clearTimeout(timer);
      resolve(true);
    };
  });
  return { promise, fire };
}

/** The promise's value, or `fallback` after timeoutMs (the timer does not outlive the race). */
async function within<T>(promise: Promise<T>, timeoutMs: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), timeoutMs)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a request and resolves with the response object, unread. */
function open(port: number, path = '/', method = 'GET'): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, resolve);
    req.setTimeout(5000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('streaming', () => {
  test('the client receives the first chunk before the upstream sends the last', async () => {
    const gotFirst = signal();
    let lastSentBeforeClientSawFirst = false;
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      void gotFirst.promise.then((inTime) => {
        lastSentBeforeClientSawFirst = !inTime;
        res.end('last');
      });
    });
    const p = await proxy(proxyConfig([up.dial]));
    const res = await open(p.port);
    let body = '';
    for await (const chunk of res) {
      body += String(chunk);
      gotFirst.fire();
    }
    assert.equal(body, 'first;last');
    assert.equal(lastSentBeforeClientSawFirst, false, 'the first chunk was held back until the end');
  });

  test('Server-Sent Events: the head reaches the client before the first event', async () => {
    const gotHead = signal();
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      void gotHead.promise.then((inTime) => res.end(inTime ? 'data: hello\n\n' : 'data: too-late\n\n'));
    });
    const p = await proxy(proxyConfig([up.dial]));
    const res = await open(p.port);
    gotHead.fire();
    assert.equal(res.headers['content-type'], 'text/event-stream');
    let body = '';
    for await (const chunk of res) body += String(chunk);
    assert.equal(body, 'data: hello\n\n');
  });

  test('flush_interval -1 sends the head at once for any streaming response', async () => {
    const gotHead = signal();
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.flushHeaders();
      void gotHead.promise.then((inTime) => res.end(inTime ? 'in time' : 'too late'));
    });
    const p = await proxy(proxyConfig([up.dial], { flush_interval_ms: -1 }));
    const res = await open(p.port);
    gotHead.fire();
    let body = '';
    for await (const chunk of res) body += String(chunk);
    assert.equal(body, 'in time');
  });

  test('a request body streams to the upstream before the client has sent all of it', async () => {
    const upstreamGotFirst = signal();
    const up = await upstream((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += String(c);
        upstreamGotFirst.fire();
      });
      req.on('end', () => res.end(`got ${body}`));
    }, true);
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: p.port, method: 'POST', path: '/', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += String(c)));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write('part1;');
      void upstreamGotFirst.promise.then((inTime) => req.end(inTime ? 'part2' : 'held-back'));
    });
    assert.equal(reply, 'got part1;part2');
  });
});

describe('large bodies', () => {
  test('several MB up and down arrive intact (checked by hash)', async () => {
    const download = randomBytes(8 * 1024 * 1024);
    const up = await upstream((_req, res, body) => {
      res.setHeader('x-upload-sha256', createHash('sha256').update(body).digest('hex'));
      res.setHeader('x-upload-length', String(body.length));
      res.end(download);
    });
    const p = await proxy(proxyConfig([up.dial]));
    const upload = randomBytes(6 * 1024 * 1024 + 123);
    const reply = await send(p.port, { method: 'POST', body: upload, timeoutMs: 20_000 });
    assert.equal(reply.headers['x-upload-length'], String(upload.length));
    assert.equal(reply.headers['x-upload-sha256'], createHash('sha256').update(upload).digest('hex'));
    assert.equal(reply.body.length, download.length);
    assert.equal(createHash('sha256').update(reply.body).digest('hex'), createHash('sha256').update(download).digest('hex'));
  });

  test('a slow client holds back the upstream (backpressure), nothing is buffered whole', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let finished = false;
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-length': String(total) });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
        finished = true;
      };
      pump();
    });
    const p = await proxy(proxyConfig([up.dial]));
    const res = await open(p.port);
    res.pause();
    await sleep(500);
    assert.equal(finished, false, 'the upstream could send everything while the client read nothing');
    assert.ok(written < total / 2, `upstream wrote ${written} bytes while the client was paused`);
    let received = 0;
    for await (const chunk of res) received += (chunk as Buffer).length;
    assert.equal(received, total);
    assert.equal(finished, true);
  });
});

describe('aborts', () => {
  test('a client that disconnects mid-response aborts the upstream request', async () => {
    const upstreamSawAbort = signal();
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('some');
      const timer = setInterval(() => res.write('.'), 50);
      res.on('close', () => {
        clearInterval(timer);
        if (!res.writableFinished) upstreamSawAbort.fire();
      });
    });
    const p = await proxy(proxyConfig([up.dial]));
    const res = await open(p.port);
    await new Promise((resolve) => res.once('data', resolve));
    res.destroy();
    assert.equal(await upstreamSawAbort.promise, true);
  });

  test('a client that disconnects before the response aborts the upstream request', async () => {
    const upstreamSawAbort = signal();
    const arrived = signal();
    const up = await upstream((req, res) => {
      arrived.fire();
      req.on('close', () => {
        if (!res.headersSent) upstreamSawAbort.fire();
      });
    });
    const p = await proxy(proxyConfig([up.dial]));
    const req = httpRequest({ host: '127.0.0.1', port: p.port, path: '/', agent: false });
    req.on('error', () => {});
    req.end();
    assert.equal(await arrived.promise, true);
    req.destroy();
    assert.equal(await upstreamSawAbort.promise, true);
  });

  test('a client that breaks off its upload aborts the upstream request', async () => {
    const upstreamSawAbort = signal();
    const up = await upstream((req) => {
      req.on('data', () => {});
      req.on('error', () => {});
      req.on('close', () => {
        if (!req.complete) upstreamSawAbort.fire();
      });
    }, true);
    const p = await proxy(proxyConfig([up.dial]));
    const req = httpRequest({ host: '127.0.0.1', port: p.port, method: 'POST', path: '/', agent: false, headers: { 'content-length': '100000' } });
    req.on('error', () => {});
    req.write(Buffer.alloc(1000));
    await sleep(100);
    req.destroy();
    assert.equal(await upstreamSawAbort.promise, true);
  });

  test('write_timeout: an upstream that stops reading the request body is given up on with 504', async () => {
    const up = await upstream((req) => {
      // Never reads: the body backs up into the proxy.
      req.pause();
    }, true);
    const p = await proxy(proxyConfig([up.dial], { transport: { write_timeout_ms: 300 } }));
    const req = httpRequest({ host: '127.0.0.1', port: p.port, method: 'POST', path: '/', agent: false, headers: { 'transfer-encoding': 'chunked' } });
    req.on('error', () => {});
    const started = performance.now();
    const status = new Promise<number>((resolve) => req.on('response', (res) => resolve(res.statusCode ?? 0)));
    const chunk = Buffer.alloc(256 * 1024);
    let stop = false;
    const pump = (): void => {
      while (!stop && req.write(chunk));
      if (!stop) req.once('drain', pump);
    };
    pump();
    assert.equal(await within(status, 4000, -1), 504);
    assert.ok(performance.now() - started >= 300);
    stop = true;
    req.destroy();
  });
});
