/** reverse_proxy load-balancing policies: how requests spread over upstreams. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ReverseProxyHandler } from '../src/config/types.ts';
import { proxyConfig, send, startProxy, startUpstream, type Proxy, type TestUpstream } from './reverse-proxy-harness.ts';

type Policy = ReverseProxyHandler['load_balancing']['policy'];

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Three upstreams that answer with their name, after `delayMs`. */
async function trio(delayMs = 0): Promise<TestUpstream[]> {
  const ups: TestUpstream[] = [];
  for (const name of ['a', 'b', 'c']) {
    const up = await startUpstream((_req, res) => {
      setTimeout(() => res.end(name), delayMs);
    });
    cleanups.push(() => up.close());
    ups.push(up);
  }
  return ups;
}

async function proxyFor(ups: TestUpstream[], policy: Policy, extra: Partial<ReverseProxyHandler['load_balancing']> = {}): Promise<Proxy> {
  const p = await startProxy(proxyConfig(ups.map((u) => u.dial), { load_balancing: { policy, ...extra } }));
  cleanups.push(() => p.close());
  return p;
}

async function tally(p: Proxy, n: number, options: (i: number) => Parameters<typeof send>[1] = () => ({})): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const reply = await send(p.port, options(i));
    counts[reply.text] = (counts[reply.text] ?? 0) + 1;
  }
  return counts;
}

describe('lb_policy', () => {
  test('random (default) reaches every upstream', async () => {
    const p = await proxyFor(await trio(), 'random');
    const counts = await tally(p, 90);
    assert.deepEqual(Object.keys(counts).sort(), ['a', 'b', 'c']);
    for (const n of Object.values(counts)) assert.ok(n >= 10, JSON.stringify(counts));
  });

  test('round_robin takes turns exactly', async () => {
    const p = await proxyFor(await trio(), 'round_robin');
    const order: string[] = [];
    for (let i = 0; i < 9; i++) order.push((await send(p.port)).text);
    assert.deepEqual(order.slice(0, 3).sort(), ['a', 'b', 'c']);
    assert.deepEqual(order.slice(3, 6), order.slice(0, 3));
    assert.deepEqual(order.slice(6, 9), order.slice(0, 3));
  });

  test('first always picks the first available upstream', async () => {
    const p = await proxyFor(await trio(), 'first');
    assert.deepEqual(await tally(p, 10), { a: 10 });
  });

  test('least_conn sends concurrent requests to idle upstreams', async () => {
    const p = await proxyFor(await trio(150), 'least_conn');
    const replies = await Promise.all([0, 1, 2].map(() => send(p.port)));
    assert.deepEqual(replies.map((r) => r.text).sort(), ['a', 'b', 'c']);
  });

  test('random_choose spreads concurrent requests', async () => {
    const p = await proxyFor(await trio(100), 'random_choose');
    const replies = await Promise.all([0, 1, 2, 3, 4, 5].map(() => send(p.port)));
    assert.ok(new Set(replies.map((r) => r.text)).size >= 2);
  });

  test('ip_hash keeps one client on one upstream', async () => {
    const p = await proxyFor(await trio(), 'ip_hash');
    const counts = await tally(p, 12);
    assert.equal(Object.keys(counts).length, 1);
  });

  test('uri_hash: one URI, one upstream; different URIs spread', async () => {
    const p = await proxyFor(await trio(), 'uri_hash');
    assert.equal(Object.keys(await tally(p, 6, () => ({ path: '/same?x=1' }))).length, 1);
    const spread = await tally(p, 60, (i) => ({ path: `/item/${i}` }));
    assert.equal(Object.keys(spread).length, 3, JSON.stringify(spread));
  });

  test('header: same value, same upstream; missing header falls back to random', async () => {
    const p = await proxyFor(await trio(), 'header', { policy_key: 'X-Tenant' });
    for (const tenant of ['t1', 't2', 't3', 't4']) {
      assert.equal(Object.keys(await tally(p, 5, () => ({ headers: { 'x-tenant': tenant } }))).length, 1);
    }
    const spread = await tally(p, 60, (i) => ({ headers: { 'x-tenant': `tenant-${i}` } }));
    assert.equal(Object.keys(spread).length, 3);
    const fallback = await tally(p, 60);
    assert.equal(Object.keys(fallback).length, 3, JSON.stringify(fallback));
  });

  test('cookie: the first response sets a sticky cookie; requests with it stay; a forged value is ignored', async () => {
    const p = await proxyFor(await trio(), 'cookie', { policy_key: 'lb', policy_secret: 's3cret' });
    const first = await send(p.port);
    const setCookie = first.headers['set-cookie'];
    assert.ok(Array.isArray(setCookie) && setCookie.length === 1, String(setCookie));
    const cookie = setCookie[0]!.split(';')[0]!;
    assert.match(cookie, /^lb=[0-9a-f]{64}$/);
    assert.match(setCookie[0]!, /Path=\//);
    for (let i = 0; i < 10; i++) {
      const again = await send(p.port, { headers: { cookie: `other=1; ${cookie}` } });
      assert.equal(again.text, first.text);
      assert.equal(again.headers['set-cookie'], undefined, 'no new cookie while the old one holds');
    }
    const forged = await send(p.port, { headers: { cookie: 'lb=0000' } });
    assert.ok(forged.headers['set-cookie'], 'a forged cookie is replaced');
  });

  test('cookie without a secret still pins (HMAC with an empty key, as Caddy)', async () => {
    const p = await proxyFor(await trio(), 'cookie');
    const first = await send(p.port);
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    assert.match(cookie, /^lb=/);
    assert.equal(Object.keys(await tally(p, 6, () => ({ headers: { cookie } }))).length, 1);
  });

  test('upstream cookies and the sticky cookie are both sent', async () => {
    const up = await startUpstream((_req, res) => {
      res.setHeader('set-cookie', ['session=abc; HttpOnly']);
      res.end('x');
    });
    cleanups.push(() => up.close());
    const p = await proxyFor([up], 'cookie');
    const reply = await send(p.port);
    const cookies = reply.headers['set-cookie']!;
    assert.equal(cookies.length, 2);
    assert.ok(cookies.some((c) => c.startsWith('session=abc')));
    assert.ok(cookies.some((c) => c.startsWith('lb=')));
  });
});
