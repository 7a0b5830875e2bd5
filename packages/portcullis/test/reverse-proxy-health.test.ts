/** reverse_proxy retries, passive and active health checks, 503 and the health gauge. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { deadAddress, proxyConfig, send, sleep, startProxy, startUpstream, type Proxy, type TestUpstream } from './reverse-proxy-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function named(name: string, status = 200): Promise<TestUpstream> {
  const up = await startUpstream((_req, res) => {
    res.statusCode = status;
    res.end(name);
  });
  cleanups.push(() => up.close());
  return up;
}

async function proxy(...args: Parameters<typeof startProxy>): Promise<Proxy> {
  const p = await startProxy(...args);
  cleanups.push(() => p.close());
  return p;
}

async function gauge(p: Proxy): Promise<Record<string, number>> {
  const metric = await p.metrics.getSingleMetric('portcullis_reverse_proxy_upstreams_healthy')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.upstream), v.value]));
}

describe('retries', () => {
  test('a GET is retried on the next upstream when dialing fails, within lb_try_duration', async () => {
    const dead = await deadAddress();
    const good = await named('good');
    const p = await proxy(proxyConfig([dead, good.dial], { load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 50 } }));
    const reply = await send(p.port);
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'good');
  });

  test('a POST whose body never left is retried after a dial error too (the body is untouched)', async () => {
    const dead = await deadAddress();
    const good = await named('good');
    const p = await proxy(proxyConfig([dead, good.dial], { load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 20 } }));
    const reply = await send(p.port, { method: 'POST', body: 'payload' });
    assert.equal(reply.status, 200);
    assert.equal(good.seen[0]!.body.toString(), 'payload');
  });

  test('a POST is never resent once its body started streaming to an upstream', async () => {
    let hits = 0;
    const breaker = await startUpstream(
      (req) => {
        hits++;
        req.once('data', () => req.socket.destroy());
      },
      true,
    );
    cleanups.push(() => breaker.close());
    const good = await named('good');
    const p = await proxy(proxyConfig([breaker.dial, good.dial], { load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 20 } }));
    const reply = await send(p.port, { method: 'POST', headers: { 'content-length': String(64 * 1024) }, body: Buffer.alloc(64 * 1024, 1) });
    assert.equal(reply.status, 502);
    assert.equal(hits, 1);
    assert.equal(good.seen.length, 0);
  });

  test('a GET that failed after it was sent is retried (Caddy retries GET by default)', async () => {
    const breaker = await startUpstream((req) => req.socket.destroy());
    cleanups.push(() => breaker.close());
    const good = await named('good');
    const p = await proxy(proxyConfig([breaker.dial, good.dial], { load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 20 } }));
    const reply = await send(p.port);
    assert.equal(reply.text, 'good');
    assert.equal(breaker.seen.length, 1);
  });

  test('retry_match decides for methods other than GET', async () => {
    const breaker = await startUpstream((req) => req.socket.destroy());
    cleanups.push(() => breaker.close());
    const good = await named('good');
    const p = await proxy(
      proxyConfig([breaker.dial, good.dial], {
        load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 20, retry_match: [{ method: ['DELETE'] }] },
      }),
    );
    assert.equal((await send(p.port, { method: 'DELETE' })).text, 'good');
    assert.equal((await send(p.port, { method: 'GET' })).status, 502, 'GET is not in retry_match');
  });

  test('request_buffers keeps a small body whole, so retry_match may resend it after an upstream read it', async () => {
    const breaker = await startUpstream((req) => req.socket.destroy());
    cleanups.push(() => breaker.close());
    const good = await named('good');
    const p = await proxy(
      proxyConfig([breaker.dial, good.dial], {
        request_buffers: 1024 * 1024,
        load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 20, retry_match: [{ method: ['POST'] }] },
      }),
    );
    const body = Buffer.alloc(200 * 1024, 'z');
    const reply = await send(p.port, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body });
    assert.equal(reply.text, 'good');
    assert.equal(breaker.seen[0]!.body.length, body.length, 'the first upstream read the whole body');
    assert.deepEqual(good.seen[0]!.body, body, 'the second got it again, whole');
  });

  test('a body larger than request_buffers streams and is not resent', async () => {
    const breaker = await startUpstream((req) => req.socket.destroy());
    cleanups.push(() => breaker.close());
    const good = await named('good');
    const p = await proxy(
      proxyConfig([breaker.dial, good.dial], {
        request_buffers: 1024,
        load_balancing: { policy: 'first', try_duration_ms: 2000, try_interval_ms: 20, retry_match: [{ method: ['POST'] }] },
      }),
    );
    const body = Buffer.alloc(100 * 1024, 'q');
    const reply = await send(p.port, { method: 'POST', body });
    assert.equal(reply.status, 502);
    assert.deepEqual(breaker.seen[0]!.body, body, 'the buffered head and the streamed rest arrive in order');
    assert.equal(good.seen.length, 0);
  });

  test('without lb_try_duration there are no retries: 502 at once', async () => {
    const dead = await deadAddress();
    const good = await named('good');
    const p = await proxy(proxyConfig([dead, good.dial], { load_balancing: { policy: 'first' } }));
    assert.equal((await send(p.port)).status, 502);
    assert.equal(good.seen.length, 0);
  });

  test('retries stop when lb_try_duration is spent', async () => {
    const p = await proxy(proxyConfig([await deadAddress()], { load_balancing: { try_duration_ms: 400, try_interval_ms: 100 } }));
    const started = performance.now();
    const reply = await send(p.port);
    const elapsed = performance.now() - started;
    assert.equal(reply.status, 502);
    assert.ok(elapsed >= 350 && elapsed < 2000, `took ${elapsed} ms`);
  });
});

describe('passive health checks', () => {
  test('a failing upstream is out for fail_duration, then back', async () => {
    const dead = await deadAddress();
    const good = await named('good');
    const p = await proxy(
      proxyConfig([dead, good.dial], {
        load_balancing: { policy: 'first' },
        health_checks: { passive: { fail_duration_ms: 400, max_fails: 1, unhealthy_status: [] } },
      }),
    );
    assert.equal((await send(p.port)).status, 502, 'the first request finds out');
    assert.equal((await gauge(p))[dead], 0);
    assert.equal((await send(p.port)).text, 'good', 'the dead one is skipped');
    await sleep(600);
    assert.equal((await gauge(p))[dead], 1, 'back after fail_duration');
    assert.equal((await send(p.port)).status, 502, 'and tried again');
  });

  test('unhealthy_status counts towards max_fails; responses still reach the client', async () => {
    const sick = await named('sick', 500);
    const good = await named('good');
    const p = await proxy(
      proxyConfig([sick.dial, good.dial], {
        load_balancing: { policy: 'first' },
        health_checks: { passive: { fail_duration_ms: 5000, max_fails: 2, unhealthy_status: [5] } },
      }),
    );
    assert.equal((await send(p.port)).text, 'sick');
    assert.equal((await send(p.port)).text, 'sick');
    assert.equal((await send(p.port)).text, 'good');
    assert.equal((await gauge(p))[sick.dial], 0);
  });

  test('unhealthy_latency counts slow answers', async () => {
    const slow = await startUpstream((_req, res) => setTimeout(() => res.end('slow'), 150));
    cleanups.push(() => slow.close());
    const good = await named('good');
    const p = await proxy(
      proxyConfig([slow.dial, good.dial], {
        load_balancing: { policy: 'first' },
        health_checks: { passive: { fail_duration_ms: 5000, max_fails: 1, unhealthy_status: [], unhealthy_latency_ms: 100 } },
      }),
    );
    assert.equal((await send(p.port)).text, 'slow');
    assert.equal((await send(p.port)).text, 'good');
  });

  test('with no healthy upstream the answer is 503', async () => {
    const p = await proxy(
      proxyConfig([await deadAddress()], { health_checks: { passive: { fail_duration_ms: 5000, max_fails: 1, unhealthy_status: [] } } }),
    );
    assert.equal((await send(p.port)).status, 502);
    const reply = await send(p.port);
    assert.equal(reply.status, 503);
    assert.equal(reply.text, 'ERR_UPSTREAM_UNAVAILABLE');
  });

  test('unhealthy_request_count makes a busy upstream full', async () => {
    const slow = await startUpstream((_req, res) => setTimeout(() => res.end('slow'), 200));
    cleanups.push(() => slow.close());
    const other = await named('other');
    const p = await proxy(
      proxyConfig([slow.dial, other.dial], {
        load_balancing: { policy: 'first' },
        health_checks: { passive: { fail_duration_ms: 0, max_fails: 1, unhealthy_status: [], unhealthy_request_count: 1 } },
      }),
    );
    const [one, two] = await Promise.all([send(p.port), sleep(30).then(() => send(p.port))]);
    assert.equal(one.text, 'slow');
    assert.equal(two.text, 'other');
  });
});

describe('active health checks', () => {
  test('an upstream failing its health check is out until it passes again', async () => {
    let healthy = true;
    let checks = 0;
    const flaky = await startUpstream((req, res) => {
      if (req.url === '/health?deep=1') {
        checks++;
        assert.equal(req.headers['x-probe'], 'portcullis');
        res.statusCode = healthy ? 200 : 503;
        return res.end(healthy ? 'status: OK' : 'down');
      }
      res.end('flaky');
    });
    cleanups.push(() => flaky.close());
    const good = await startUpstream((req, res) => res.end(req.url === '/' ? 'good' : 'status: fine'));
    cleanups.push(() => good.close());
    const p = await proxy(
      proxyConfig([flaky.dial, good.dial], {
        load_balancing: { policy: 'first' },
        health_checks: { active: { uri: '/health?deep=1', interval_ms: 100, timeout_ms: 500, expect_body: '(?i)^status: (ok|FINE)\\z', headers: { 'X-Probe': ['portcullis'] } } },
      }),
    );
    assert.equal((await send(p.port)).text, 'flaky');
    healthy = false;
    await waitFor(async () => (await gauge(p))[flaky.dial] === 0);
    assert.equal((await send(p.port)).text, 'good');
    healthy = true;
    await waitFor(async () => (await gauge(p))[flaky.dial] === 1);
    assert.equal((await send(p.port)).text, 'flaky');
    assert.ok(checks >= 3);
  });

  test('expect_status, a separate health port, and a timeout', async () => {
    const app = await named('app');
    const health = await startUpstream((_req, res) => {
      res.statusCode = 204;
      res.end();
    });
    cleanups.push(() => health.close());
    const hanging = await startUpstream(() => {});
    cleanups.push(() => hanging.close());
    const p = await proxy(
      proxyConfig([app.dial, hanging.dial], {
        load_balancing: { policy: 'first' },
        health_checks: { active: { uri: '/hc', port: health.port, interval_ms: 100, timeout_ms: 200, expect_status: 204 } },
      }),
    );
    // Both upstreams are checked on the health port, which answers 204: both healthy.
    await sleep(300);
    assert.deepEqual(await gauge(p), { [app.dial]: 1, [hanging.dial]: 1 });
    assert.equal(health.seen.filter((s) => s.url === '/hc').length >= 2, true);

    const p2 = await proxy(
      proxyConfig([hanging.dial, app.dial], {
        load_balancing: { policy: 'first' },
        health_checks: { active: { uri: '/hc', interval_ms: 100, timeout_ms: 200 } },
      }),
    );
    // The hanging upstream never answers its check: out after the timeout.
    await waitFor(async () => (await gauge(p2))[hanging.dial] === 0);
    assert.equal((await send(p2.port)).text, 'app');
  });

  test('the health timers stop when the handler is disposed', async () => {
    let checks = 0;
    const up = await startUpstream((_req, res) => {
      checks++;
      res.end('ok');
    });
    cleanups.push(() => up.close());
    const p = await startProxy(proxyConfig([up.dial], { health_checks: { active: { uri: '/', interval_ms: 50, timeout_ms: 200 } } }));
    await sleep(200);
    await p.close();
    const seen = checks;
    assert.ok(seen >= 2);
    await sleep(200);
    assert.equal(checks, seen);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await condition()) return;
    await sleep(25);
  }
  assert.fail('condition not met in time');
}
