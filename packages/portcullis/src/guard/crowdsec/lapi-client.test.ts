/** The LAPI client against a fake LAPI on loopback: what it sends, and what it makes of odd, hostile or failing answers. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../kernel/clock.ts';
import { PortcullisError } from '../../kernel/errors.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { capturingLogger, fakeToken, lapiDecision, startFakeLapi, type FakeLapi } from '../../../test/support/crowdsec.ts';
import { createLapiClient, formatGoDuration, isLapiError, parseGoDuration, type LapiAlert, type LapiClientOptions, type LapiDecision, type StreamList } from './lapi-client.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('Go durations', () => {
  it('reads what the LAPI sends', () => {
    assert.equal(parseGoDuration('3h59m58.123s'), 14_398_123);
    assert.equal(parseGoDuration('59m59.511724813s'), 3_599_511.724813);
    assert.equal(parseGoDuration('-1s'), -1000);
    assert.equal(parseGoDuration('-19.557293ms'), -19.557293);
    assert.equal(parseGoDuration('1h0m0s'), 3_600_000);
    assert.equal(parseGoDuration('300ms'), 300);
    assert.equal(parseGoDuration('1.5h'), 5_400_000);
    assert.equal(parseGoDuration('0s'), 0);
    for (const bad of ['', 'abc', '1', '1x', 'h', '--1s', '1h 2m', '9'.repeat(70) + 's']) assert.equal(parseGoDuration(bad), null, bad);
  });

  it('writes whole seconds, rounded up, that Go reads back', () => {
    assert.equal(formatGoDuration(1), '1s');
    assert.equal(formatGoDuration(0), '1s');
    assert.equal(formatGoDuration(59_001), '1m0s');
    assert.equal(formatGoDuration(90_500), '1m31s');
    assert.equal(formatGoDuration(3_600_000), '1h0m0s');
    assert.equal(formatGoDuration(14_398_123), '3h59m59s');
    assert.equal(parseGoDuration(formatGoDuration(87_600 * 3_600_000)), 87_600 * 3_600_000);
  });
});

describe('decision stream', () => {
  let fake: FakeLapi;
  before(async () => {
    fake = await startFakeLapi();
  });
  after(() => fake.close());

  const client = (extra: Partial<LapiClientOptions> = {}) =>
    createLapiClient({ url: `${fake.url}/`, apiKey: 'bouncer-key', clock: new ManualClock(NOW), logger: silentLogger(), ...extra });

  /** Streams once; the decisions by list. */
  async function pull(options: { startup?: boolean; maxElements?: number; extra?: Partial<LapiClientOptions> } = {}) {
    const c = client(options.extra);
    const got: { list: StreamList; d: LapiDecision }[] = [];
    try {
      const summary = await c.streamDecisions({ startup: options.startup ?? true, maxElements: options.maxElements ?? 1000, onDecision: (list, d) => got.push({ list, d }) });
      return { summary, got };
    } finally {
      await c.close();
    }
  }

  async function pullError(extra: Partial<LapiClientOptions> = {}): Promise<PortcullisError & { lapiStatus: number | null }> {
    try {
      await pull({ extra });
    } catch (error) {
      assert.ok(isLapiError(error), String(error));
      return error;
    }
    assert.fail('expected the stream to fail');
  }

  it('sends the key and the startup flag, and reads both lists', async () => {
    fake.stream = () => ({
      body: {
        deleted: [lapiDecision(1, '192.0.2.1', { duration: '-2.5s' })],
        new: [lapiDecision(2, '198.51.100.0/24', { scope: 'Range', type: 'captcha', scenario: 'crowdsecurity/http-probing', origin: 'crowdsec' })],
      },
    });
    const { summary, got } = await pull({ startup: true });
    const req = fake.requests.at(-1)!;
    assert.equal(req.url, '/v1/decisions/stream?startup=true');
    assert.equal(req.headers['x-api-key'], 'bouncer-key');
    assert.deepEqual(summary, { new: 1, deleted: 1, skipped: 0, truncated: false });
    assert.deepEqual(got, [
      { list: 'deleted', d: { id: 1, type: 'ban', scope: 'Ip', value: '192.0.2.1', durationMs: -2500, scenario: "manual 'ban' from 'test'", origin: 'cscli' } },
      { list: 'new', d: { id: 2, type: 'captcha', scope: 'Range', value: '198.51.100.0/24', durationMs: 14_398_123.456789, scenario: 'crowdsecurity/http-probing', origin: 'crowdsec' } },
    ]);
    await pull({ startup: false });
    assert.equal(fake.requests.at(-1)!.url, '/v1/decisions/stream?startup=false');
  });

  it('takes the literal null for the body and for either list (LAPI 1.4), and empty lists', async () => {
    for (const body of ['null', ' null\n', '{"deleted":null,"new":null}', '{"new":[],"deleted":[]}', '{}', '{"deleted":null}']) {
      fake.stream = () => ({ body });
      const { summary, got } = await pull();
      assert.deepEqual(summary, { new: 0, deleted: 0, skipped: 0, truncated: false }, body);
      assert.equal(got.length, 0);
    }
  });

  it('skips unknown keys and fields, and elements it cannot read, without failing', async () => {
    const good = lapiDecision(7, '2001:db8::1', { until: '2030-01-01T00:00:00Z' } as Record<string, string>);
    fake.stream = () => ({
      body: JSON.stringify({
        extra: { nested: ['"]}', { deep: [1, 2, { x: '\\"' }] }], s: 'a"b' },
        deleted: [null, 5, 'x', [], { id: 'nine', type: 'ban', scope: 'Ip', value: '1.2.3.4', duration: '1s' }],
        new: [
          good,
          { ...good, id: -3 },
          { ...good, id: 1.5 },
          { ...good, duration: 'forever' },
          { ...good, duration: 5 },
          { ...good, value: '' },
          { ...good, type: null },
          { ...good, scope: 'x'.repeat(2000) },
          { ...good, id: 8, padding: 'y'.repeat(20_000) },
          { ...good, id: 9, note: 'unicode é ✓ \u2028' },
        ],
        more: 123,
        flag: true,
        nothing: null,
      }),
    });
    const { summary, got } = await pull();
    assert.deepEqual(
      got.map((g) => [g.list, g.d.id]),
      [
        ['new', 7],
        ['new', 9],
      ],
    );
    assert.deepEqual(summary, { new: 2, deleted: 0, skipped: 13, truncated: false });
  });

  it('reads a reply however it is cut into chunks', async () => {
    const body = JSON.stringify({ deleted: [lapiDecision(1, '192.0.2.1', { scenario: 'a\\"}]b' })], new: [lapiDecision(2, '192.0.2.2'), lapiDecision(3, '192.0.2.3')] });
    fake.stream = () => ({ chunks: [...body].map((ch) => Buffer.from(ch)) });
    const { summary, got } = await pull();
    assert.deepEqual(summary, { new: 2, deleted: 1, skipped: 0, truncated: false });
    assert.equal(got[0]!.d.scenario, 'a\\"}]b');
    // And cut inside multi-byte characters.
    const bytes = Buffer.from(JSON.stringify({ new: [lapiDecision(4, '192.0.2.4', { scenario: 'été ✓' })] }));
    fake.stream = () => ({ chunks: Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)) });
    const second = await pull();
    assert.equal(second.got[0]!.d.scenario, 'été ✓');
  });

  it('stops reading at maxElements', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => lapiDecision(i + 1, `10.0.${i >> 8}.${i & 255}`));
    fake.stream = () => ({ body: { deleted: null, new: many } });
    const { summary, got } = await pull({ maxElements: 100 });
    assert.equal(summary.truncated, true);
    assert.ok(got.length >= 100 && got.length < 5000, `${got.length} read`);
  });

  it('garbage, a body cut short, and one too large are errors that name the LAPI', async () => {
    for (const [body, expected] of [
      ['<html>oops</html>', /is not the JSON a LAPI sends: expected an object/],
      ['[1,2]', /is not the JSON a LAPI sends/],
      ['{"new":[{"id":1}', /the reply ended early/],
      ['{"new":[]} {"new":[]}', /expected the end of the reply/],
      ['{"new" [] }', /expected ":"/],
      ['nul', /the reply ended early/],
      ['', /the reply ended early/],
    ] as const) {
      fake.stream = () => ({ body });
      const error = await pullError();
      assert.equal(error.code, 'ERR_UPSTREAM_FAILED', body);
      assert.match(error.message, new RegExp(`^CrowdSec LAPI ${fake.url}: the decision stream`), body);
      assert.match(error.message, expected, body);
    }
    fake.stream = () => ({ chunks: ['{"new":[', 'x'.repeat(3000)] });
    const tooLarge = await pullError({ maxStreamBytes: 2048 });
    assert.match(tooLarge.message, /larger than 2048 bytes/);
    fake.stream = () => ({ chunks: ['{"new":[', JSON.stringify(lapiDecision(1, '192.0.2.1'))], abort: true });
    const cut = await pullError();
    assert.match(cut.message, /the decision stream failed/);
  });

  it('403 (a revoked or wrong key) says so, with the status', async () => {
    fake.stream = () => ({ status: 403, body: { message: 'access forbidden' } });
    const error = await pullError();
    assert.equal(error.lapiStatus, 403);
    assert.equal(error.code, 'ERR_UPSTREAM_FAILED');
    assert.match(error.message, /the decision stream answered 403: access forbidden \(the bouncer API key is not accepted/);
    fake.stream = () => ({ status: 500, body: 'x'.repeat(200_000) });
    const big = await pullError();
    assert.equal(big.lapiStatus, 500);
    assert.match(big.message, /answered 500$/);
  });

  it('a slow LAPI times out; an absent one is unavailable', async () => {
    fake.stream = () => ({ delayMs: 1500, body: null });
    const slow = await pullError({ timeoutMs: 200 });
    assert.equal(slow.code, 'ERR_UPSTREAM_TIMEOUT');
    assert.equal(slow.lapiStatus, null);
    fake.stream = () => ({ chunks: ['{"new":[', '{}'], chunkDelayMs: 1500 });
    const dripping = await pullError({ streamTimeoutMs: 300 });
    assert.equal(dripping.code, 'ERR_UPSTREAM_TIMEOUT');
    const absent = createLapiClient({ url: 'http://127.0.0.1:1', apiKey: 'k', clock: new ManualClock(NOW), logger: silentLogger() });
    await assert.rejects(absent.streamDecisions({ startup: true, maxElements: 10, onDecision: () => undefined }), (error: unknown) => {
      assert.ok(isLapiError(error));
      assert.equal(error.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.match(error.message, /^CrowdSec LAPI http:\/\/127\.0\.0\.1:1: the decision stream failed: ECONNREFUSED/);
      return true;
    });
    await absent.close();
  });

  it('logs skipped elements at debug, a few per reply', async () => {
    const { logger, lines } = capturingLogger();
    fake.stream = () => ({ body: { new: Array.from({ length: 50 }, () => ({ id: 'bad' })) } });
    await pull({ extra: { logger } });
    const debug = lines('debug');
    assert.equal(debug.length, 5);
    assert.equal(debug[0]!.msg, 'CrowdSec: skipped an element of the decision stream');
  });
});

describe('watcher calls', () => {
  let fake: FakeLapi;
  before(async () => {
    fake = await startFakeLapi();
  });
  after(() => fake.close());

  const alert = (value: string): LapiAlert => ({
    scenario: 'portcullis/cli',
    scenario_hash: '',
    scenario_version: '',
    message: 'm',
    events_count: 1,
    start_at: new Date(NOW).toISOString(),
    stop_at: new Date(NOW).toISOString(),
    capacity: 0,
    leakspeed: '0',
    simulated: false,
    events: [],
    remediation: true,
    source: { scope: 'Ip', value, ip: value },
    decisions: [{ origin: 'crowdsec', type: 'ban', scope: 'Ip', value, duration: '1h0m0s', scenario: 'portcullis/cli' }],
  });

  it('logs in once, sends with the token, logs in again when it expires or is refused', async () => {
    const clock = new ManualClock(NOW);
    let n = 0;
    fake.login = (req) => {
      assert.deepEqual(JSON.parse(req.body), { machine_id: 'portcullis-1', password: 'pw', scenarios: [] });
      n++;
      return { body: { code: 200, expire: new Date(NOW + 3600_000).toISOString(), token: fakeToken(n) } };
    };
    const c = createLapiClient({ url: fake.url, machineId: 'portcullis-1', password: 'pw', clock, logger: silentLogger() });
    fake.requests.length = 0;
    assert.equal(await c.pushAlerts([alert('192.0.2.1'), alert('192.0.2.2')]), 2);
    assert.equal(await c.pushAlerts([alert('192.0.2.3')]), 1);
    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.url} ${r.headers.authorization ?? ''}`),
      ['POST /v1/watchers/login ', `POST /v1/alerts Bearer ${fakeToken(1)}`, `POST /v1/alerts Bearer ${fakeToken(1)}`],
    );
    assert.deepEqual((JSON.parse(fake.requests[1]!.body) as LapiAlert[]).map((a) => a.source.value), ['192.0.2.1', '192.0.2.2']);
    // A minute before the LAPI's expiry, a new token.
    clock.advance(3600_000 - 59_000);
    await c.pushAlerts([alert('192.0.2.4')]);
    assert.equal(fake.requests.at(-1)!.headers.authorization, `Bearer ${fakeToken(2)}`);
    // The LAPI forgot the token (a restart): 401, log in, send again.
    let refused = false;
    fake.alerts = (req) => {
      if (!refused) {
        refused = true;
        return { status: 401, body: { code: 401, message: 'Token is expired' } };
      }
      return { status: 201, body: (JSON.parse(req.body) as unknown[]).map(() => '9') };
    };
    assert.equal(await c.pushAlerts([alert('192.0.2.5')]), 1);
    assert.deepEqual(
      fake.requests.slice(-3).map((r) => `${r.url} ${r.headers.authorization ?? ''}`),
      [`/v1/alerts Bearer ${fakeToken(2)}`, '/v1/watchers/login ', `/v1/alerts Bearer ${fakeToken(3)}`],
    );
    await c.close();
  });

  it('a refused login, a reply without a token, and a refused alert are clear errors', async () => {
    const c = () => createLapiClient({ url: fake.url, machineId: 'm', password: 'wrong', clock: new ManualClock(NOW), logger: silentLogger() });
    fake.login = () => ({ status: 401, body: { code: 401, message: 'incorrect Username or Password' } });
    const one = c();
    await assert.rejects(one.pushAlerts([alert('192.0.2.1')]), (error: unknown) => {
      assert.ok(isLapiError(error));
      assert.equal(error.lapiStatus, 401);
      assert.match(error.message, /the watcher login answered 401: incorrect Username or Password \(machine "m" or its password is not accepted/);
      assert.doesNotMatch(error.message, /wrong/, 'the password is never in a message');
      return true;
    });
    fake.login = () => ({ body: { code: 200, token: 'not a jwt\r\nx-injected: 1' } });
    await assert.rejects(c().pushAlerts([alert('192.0.2.1')]), /the watcher login answered without a usable token/);
    fake.login = () => ({ body: { code: 200, token: fakeToken(1), expire: 'soon' } });
    fake.alerts = () => ({ status: 500, body: { message: 'validation failure list:\n0.capacity in body is required' } });
    await assert.rejects(c().pushAlerts([alert('192.0.2.1')]), (error: unknown) => {
      assert.ok(isLapiError(error));
      assert.equal(error.lapiStatus, 500);
      assert.match(error.message, /sending alerts answered 500: validation failure list: 0\.capacity in body is required$/);
      return true;
    });
    const noMachine = createLapiClient({ url: fake.url, apiKey: 'k', clock: new ManualClock(NOW), logger: silentLogger() });
    await assert.rejects(noMachine.pushAlerts([alert('192.0.2.1')]), /no watcher machine_id and password are configured/);
    await noMachine.close();
  });
});
