/** `rate_limit` on a real socket: the 429 and its Retry-After, zone order, and what keys hold. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { RateLimitHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { testDeps } from '../../../test/support/handler-deps.ts';
import type { Handler } from '../context.ts';
import type { RateLimiter } from '../ports.ts';
import { createRequestContext } from '../request-context.ts';
import { createRateLimit } from './rate-limit.ts';

type Zone = RateLimitHandler['zones'][number];

/** A limiter that records each take and answers the wait the test set for the zone. */
function scriptedLimiter(): RateLimiter & { calls: { zone: string; key: string }[]; waits: Map<string, number> } {
  const calls: { zone: string; key: string }[] = [];
  const waits = new Map<string, number>();
  return {
    calls,
    waits,
    take(zone, key) {
      calls.push({ zone, key });
      return waits.get(zone) ?? 0;
    },
  };
}

function zone(name: string, key: string, events = 5, windowMs = 1000): Zone {
  return { name, key, events, windowMs, burst: 0 };
}

/** Serves `handler`; `x-test-client` plays the resolved client IP. Errors become their status and headers. */
function serve(handler: Handler): Server {
  return createServer((req, res) => {
    const ctx = createRequestContext(req, res, { scheme: 'http', logger: silentLogger() });
    if (ctx === null) return void res.writeHead(400).end();
    const client = req.headers['x-test-client'];
    if (typeof client === 'string') ctx.clientIp = client;
    handler(ctx, async () => void res.writeHead(200).end('passed')).catch((error: unknown) => {
      if (!(error instanceof PortcullisError)) return void res.destroy();
      res.writeHead(error.status, { ...error.headers, 'x-code': error.code }).end(error.message);
    });
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('rate_limit handler', () => {
  const limiter = scriptedLimiter();
  const server = serve(
    createRateLimit(
      {
        handler: 'rate_limit',
        zones: [
          zone('loose', '{client_ip}', 100, 1000),
          zone('tight', 'all', 1, 1000),
          zone('by_header', '{header.X-Api-Key}|{remote_host}|\\{remote_host\\}', 10, 1000),
        ],
      },
      testDeps({ rateLimiter: limiter }),
    ),
  );
  let url = '';
  before(async () => {
    url = await listen(server);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('asks the tightest zone first, then the others, and passes when all allow', async () => {
    limiter.calls.length = 0;
    limiter.waits.clear();
    const res = await get(url, { 'x-test-client': '203.0.113.9', 'x-api-key': 'k1' });
    assert.deepEqual([res.status, res.body], [200, 'passed']);
    assert.deepEqual(
      limiter.calls.map((c) => c.zone),
      ['tight', 'by_header', 'loose'],
    );
  });

  test('keys: {client_ip} is the resolved client, {remote_host} counts as it, an escaped brace stays literal', async () => {
    limiter.calls.length = 0;
    limiter.waits.clear();
    await get(url, { 'x-test-client': '198.51.100.7', 'x-api-key': 'secret' });
    const keys = Object.fromEntries(limiter.calls.map((c) => [c.zone, c.key]));
    assert.deepEqual(keys, { tight: 'all', by_header: 'secret|198.51.100.7|{remote_host}', loose: '198.51.100.7' });
  });

  test('the first zone that refuses stops the request: 429, its code, Retry-After rounded up to whole seconds', async () => {
    for (const [waitMs, expected] of [
      [1, '1'],
      [999.5, '1'],
      [1000, '1'],
      [1000.001, '2'],
      [29_999, '30'],
    ] as const) {
      limiter.calls.length = 0;
      limiter.waits.clear();
      limiter.waits.set('tight', waitMs);
      const res = await get(url);
      assert.equal(res.status, 429);
      assert.equal(res.headers['x-code'], ErrorCodes.ERR_HTTP_TOO_MANY_REQUESTS);
      assert.equal(res.headers['retry-after'], expected, `wait ${waitMs}ms`);
      assert.deepEqual(
        limiter.calls.map((c) => c.zone),
        ['tight'],
        'later zones are not counted',
      );
    }
  });

  test('a later zone refusing: the earlier zones have counted, the handler does not pass', async () => {
    limiter.calls.length = 0;
    limiter.waits.clear();
    limiter.waits.set('loose', 200);
    const res = await get(url);
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(limiter.calls.length, 3);
  });
});

test('rate_limit without a rate limiter fails to compile (never a handler that lets everything through)', () => {
  assert.throws(
    () => createRateLimit({ handler: 'rate_limit', zones: [zone('z', '{client_ip}')] }, testDeps()),
    (error: unknown) => error instanceof PortcullisError && error.code === ErrorCodes.ERR_INTERNAL,
  );
});
