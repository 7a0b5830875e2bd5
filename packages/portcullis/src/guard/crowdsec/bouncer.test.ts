/** The CrowdSec bouncer against a fake LAPI on loopback, into a real DecisionIndex. */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../kernel/clock.ts';
import { silentLogger, type Logger } from '../../kernel/logger.ts';
import { createDecisionIndex, type DecisionIndex } from '../decision-index.ts';
import { capturingLogger, lapiDecision, startFakeLapi, type FakeLapi, type FakeReply } from '../../../test/support/crowdsec.ts';
import { createCrowdSecBouncer, type CrowdSecBouncerOptions } from './bouncer.ts';
import { createLapiClient, type LapiClient } from './lapi-client.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const HOUR = '1h0m0s';

describe('CrowdSec bouncer', () => {
  let fake: FakeLapi;
  let clock: ManualClock;
  let index: DecisionIndex;
  let clients: LapiClient[] = [];
  /** Replies the stream gives, in order; the last one repeats. */
  let replies: FakeReply[];

  before(async () => {
    fake = await startFakeLapi();
    fake.stream = () => (replies.length > 1 ? replies.shift()! : replies[0]!);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await fake.close();
  });
  beforeEach(() => {
    clock = new ManualClock(NOW);
    index = createDecisionIndex({ clock });
    replies = [{ body: null }];
    fake.requests.length = 0;
  });

  const bouncer = (extra: Partial<CrowdSecBouncerOptions> & { logger?: Logger } = {}) => {
    const logger = extra.logger ?? silentLogger();
    const client = createLapiClient({ url: fake.url, apiKey: 'key', clock, logger, timeoutMs: 500 });
    clients.push(client);
    return createCrowdSecBouncer({ client, index, clock, logger, intervalMs: 60_000, ...extra });
  };

  const stream = (added: Record<string, unknown>[] | null, deleted: Record<string, unknown>[] | null = null): FakeReply => ({ body: { deleted, new: added } });

  it('maps scopes, types and origins; other scopes are ignored and counted', async () => {
    replies = [
      stream([
        lapiDecision(1, '192.0.2.1', { duration: HOUR }),
        lapiDecision(2, '198.51.100.77/24', { scope: 'Range', type: 'captcha', scenario: 'crowdsecurity/http-crawl-non_statics' }),
        lapiDecision(3, '::ffff:203.0.113.9', { type: 'throttle', scenario: 'crowdsecurity/http-bf' }),
        lapiDecision(4, '2001:DB8:0::1', { type: 'custom-remediation', scenario: 'a\nb' }),
        lapiDecision(5, 'FR', { scope: 'Country' }),
        lapiDecision(6, '12345', { scope: 'AS' }),
        lapiDecision(7, 'bob', { scope: 'Username' }),
        lapiDecision(8, '10.0.0.0/24', { scope: 'Ip' }),
        lapiDecision(9, 'not-an-ip', { scope: 'Range' }),
        lapiDecision(10, '0.0.0.0/0', { scope: 'range' }),
        lapiDecision(11, '2001::/15', { scope: 'Range' }),
        lapiDecision(12, '192.0.2.12', { duration: '-1s' }),
        lapiDecision(13, '203.0.113.13', { scope: 'ip', scenario: '' }),
      ]),
    ];
    const b = bouncer();
    const result = await b.poll();
    assert.deepEqual(result, { startup: true, added: 5, removed: 0, ignored: 8, truncated: false });
    assert.equal(fake.requests[0]!.url, '/v1/decisions/stream?startup=true');
    assert.deepEqual(index.match('192.0.2.1'), { id: -1, kind: 'ban', value: '192.0.2.1', origin: "crowdsec:manual 'ban' from 'test'", expiresAt: NOW + 3_600_000 });
    assert.deepEqual(index.match('198.51.100.200'), { id: -2, kind: 'challenge', value: '198.51.100.0/24', origin: 'crowdsec:crowdsecurity/http-crawl-non_statics', expiresAt: NOW + 14_398_123 });
    assert.equal(index.match('203.0.113.9')?.kind, 'throttle');
    assert.equal(index.match('::ffff:203.0.113.9')?.value, '203.0.113.9');
    assert.deepEqual(index.match('2001:db8::1'), { id: -4, kind: 'ban', value: '2001:db8::1', origin: 'crowdsec:a b', expiresAt: NOW + 14_398_123 });
    assert.equal(index.match('203.0.113.13')?.origin, 'crowdsec');
    for (const ip of ['10.0.0.1', '8.8.8.8', '2001:1::1', '192.0.2.12']) assert.equal(index.match(ip), null, ip);
    assert.deepEqual(b.stats().ignored, { 'scope:Country': 1, 'scope:AS': 1, 'scope:Username': 1, 'bad-value': 2, 'too-wide': 2, expired: 1 });
    assert.equal(b.stats().held, 5);
  });

  it('deletions lift; repeated and unknown deletions are no-ops; the store\'s decision with the same number stays', async () => {
    index.add({ id: 1, kind: 'ban', scope: 'ip', value: '192.0.2.99', reason: 'cli', origin: 'cli', createdAt: NOW, expiresAt: null });
    replies = [stream([lapiDecision(1, '192.0.2.1'), lapiDecision(2, '192.0.2.2')]), stream(null, [lapiDecision(1, '192.0.2.1', { duration: '-5ms' })])];
    const b = bouncer();
    await b.poll();
    assert.ok(index.match('192.0.2.1'));
    assert.deepEqual(await b.poll(), { startup: false, added: 0, removed: 1, ignored: 0, truncated: false });
    assert.equal(index.match('192.0.2.1'), null);
    // The LAPI says it again, and again, and names an id we never had.
    replies = [stream(null, [lapiDecision(1, '192.0.2.1', { duration: '-1.2s' }), lapiDecision(77, '192.0.2.77', { duration: '-1s' })])];
    assert.deepEqual(await b.poll(), { startup: false, added: 0, removed: 0, ignored: 0, truncated: false });
    assert.deepEqual(await b.poll(), { startup: false, added: 0, removed: 0, ignored: 0, truncated: false });
    assert.ok(index.match('192.0.2.2'), 'the other CrowdSec decision stays');
    assert.equal(index.match('192.0.2.99')?.origin, 'cli', 'the store decision with id 1 stays');
    assert.equal(index.size, 2);
  });

  it('null replies (LAPI 1.4) change nothing', async () => {
    replies = [stream([lapiDecision(1, '192.0.2.1')]), { body: null }];
    const b = bouncer();
    await b.poll();
    for (let i = 0; i < 3; i++) assert.deepEqual(await b.poll(), { startup: false, added: 0, removed: 0, ignored: 0, truncated: false });
    replies = [{ body: { new: null, deleted: null } }];
    await b.poll();
    assert.ok(index.match('192.0.2.1'));
  });

  it('decisions expire with the clock; their ids are swept from the index', async () => {
    replies = [stream([lapiDecision(1, '192.0.2.1', { duration: '30s' }), lapiDecision(2, '192.0.2.2', { duration: HOUR })]), { body: null }];
    const b = bouncer();
    await b.poll();
    clock.advance(30_000);
    assert.equal(index.match('192.0.2.1'), null, 'expired at its time, before any poll');
    assert.ok(index.match('192.0.2.2'));
    clock.advance(31_000);
    await b.poll();
    assert.equal(b.stats().held, 1);
    assert.equal(index.size, 1);
  });

  it('a failed poll keeps what is enforced and asks for everything next time', async () => {
    const { logger, lines } = capturingLogger();
    replies = [stream([lapiDecision(1, '192.0.2.1'), lapiDecision(2, '192.0.2.2')]), { body: '{"new":[' }, { body: '{"new":[' }, { status: 502, body: 'bad gateway' }, { status: 502, body: 'bad gateway' }];
    const b = bouncer({ logger });
    await b.start();
    for (let i = 0; i < 4; i++) await assert.rejects(b.poll());
    // The timer's polls are what log; poll() rejects for the caller. start() logged its own outcome.
    assert.ok(index.match('192.0.2.1') && index.match('192.0.2.2'), 'kept while the LAPI fails');
    assert.match(String(b.stats().lastError), /the decision stream answered 502/);
    assert.deepEqual(
      fake.requests.map((r) => r.url.split('=')[1]),
      ['true', 'false', 'true', 'true', 'true'],
    );
    // Back: a startup reply that no longer has decision 1 lifts it.
    replies = [stream([lapiDecision(2, '192.0.2.2')]), { body: null }];
    assert.deepEqual(await b.poll(), { startup: true, added: 1, removed: 1, ignored: 0, truncated: false });
    assert.equal(index.match('192.0.2.1'), null);
    assert.deepEqual(await b.poll(), { startup: false, added: 0, removed: 0, ignored: 0, truncated: false });
    assert.equal(b.stats().failedPolls, 4);
    assert.equal(b.stats().lastError, null);
    await b.stop();
    assert.equal(lines('info').filter((l) => l.msg === 'CrowdSec bouncer started').length, 1);
  });

  it('the timer logs the first failure of a streak, a 403 as a refused key, and the recovery', async () => {
    const { logger, lines } = capturingLogger();
    replies = [stream([lapiDecision(1, '192.0.2.1')]), { status: 403, body: { message: 'access forbidden' } }];
    const b = bouncer({ logger, intervalMs: 20 });
    await b.start();
    const deadline = Date.now() + 5000;
    while (fake.requests.length < 5 && Date.now() < deadline) await sleep(10);
    assert.ok(fake.requests.length >= 5, `${fake.requests.length} polls`);
    const errors = lines('error');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.msg, 'CrowdSec: the LAPI refuses our bouncer API key; the decisions in force stay, and polling goes on');
    assert.match(String(errors[0]!.err), /answered 403: access forbidden \(the bouncer API key is not accepted/);
    assert.equal(errors[0]!.held, 1);
    assert.ok(index.match('192.0.2.1'), 'kept');
    replies = [stream([lapiDecision(1, '192.0.2.1')]), { body: null }];
    const until = Date.now() + 5000;
    while (!lines('info').some((l) => l.msg === 'CrowdSec: the LAPI answers again') && Date.now() < until) await sleep(10);
    assert.ok(lines('info').some((l) => l.msg === 'CrowdSec: the LAPI answers again'));
    await b.stop();
    const polls = fake.requests.length;
    await sleep(60);
    assert.equal(fake.requests.length, polls, 'no polls after stop()');
  });

  it('a restart pulls everything again and drops what the LAPI no longer has; clear() lifts all of ours', async () => {
    replies = [stream([lapiDecision(1, '192.0.2.1'), lapiDecision(2, '192.0.2.2')]), { body: null }];
    const b = bouncer();
    await b.start();
    await b.poll();
    await b.stop();
    replies = [stream([lapiDecision(2, '192.0.2.2'), lapiDecision(3, '192.0.2.3')]), { body: null }];
    await b.start();
    assert.deepEqual(
      fake.requests.map((r) => r.url.split('=')[1]),
      ['true', 'false', 'true'],
    );
    assert.equal(index.match('192.0.2.1'), null);
    assert.ok(index.match('192.0.2.2') && index.match('192.0.2.3'));
    await b.stop();
    index.add({ id: 3, kind: 'ban', scope: 'ip', value: '192.0.2.3', reason: '', origin: 'cli', createdAt: NOW, expiresAt: null });
    b.clear();
    assert.equal(index.match('192.0.2.2'), null);
    assert.equal(index.match('192.0.2.3')?.origin, 'cli', 'only our own go');
    assert.equal(b.stats().held, 0);
  });

  it('start() with the LAPI down resolves, logs, and keeps polling', async () => {
    const { logger, lines } = capturingLogger();
    const client = createLapiClient({ url: 'http://127.0.0.1:1', apiKey: 'key', clock, logger, timeoutMs: 500 });
    clients.push(client);
    const b = createCrowdSecBouncer({ client, index, clock, logger, intervalMs: 60_000 });
    await b.start();
    assert.equal(lines('warn')[0]!.msg, 'CrowdSec: polling the LAPI failed; the decisions in force stay until it answers');
    assert.match(String(lines('warn')[0]!.err), /ECONNREFUSED/);
    assert.equal(b.stats().lastError !== null, true);
    await b.stop();
  });

  it('our own decisions coming back can be skipped', async () => {
    replies = [stream([lapiDecision(1, '192.0.2.1', { scenario: 'portcullis/scenario:http-probing', origin: 'crowdsec' }), lapiDecision(2, '192.0.2.2')])];
    const b = bouncer({ ignoreScenarioPrefix: 'portcullis/' });
    await b.poll();
    assert.equal(index.match('192.0.2.1'), null);
    assert.ok(index.match('192.0.2.2'));
    assert.deepEqual(b.stats().ignored, { own: 1 });
  });

  it('holds at most maxDecisions, and a huge list is read without holding the rest', async () => {
    const { logger, lines } = capturingLogger();
    const many = Array.from({ length: 20_000 }, (_, i) => lapiDecision(i + 1, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
    replies = [stream(many), stream([lapiDecision(50_000, '192.0.2.1')]), stream(null, [lapiDecision(1, '10.0.0.0')]), stream([lapiDecision(50_001, '192.0.2.2')])];
    const b = bouncer({ maxDecisions: 5000, logger });
    const first = await b.poll();
    assert.equal(first.added, 5000);
    assert.equal(index.size, 5000);
    assert.equal(b.stats().held, 5000);
    assert.ok(index.match('10.0.0.1') && !index.match('10.0.100.0'));
    assert.equal(lines('warn').filter((l) => /more decisions than this bouncer keeps/.test(String(l.msg))).length, 1);
    assert.equal((await b.poll()).added, 0, 'full');
    assert.equal((await b.poll()).removed, 1);
    assert.equal((await b.poll()).added, 1, 'room again');
    assert.ok(index.match('192.0.2.2'));
  });

  it('timers keep running while a large reply is read and applied', async () => {
    const many = Array.from({ length: 30_000 }, (_, i) => lapiDecision(i + 1, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
    replies = [stream(many)];
    const b = bouncer();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    try {
      await b.poll();
    } finally {
      clearInterval(ticker);
    }
    assert.equal(index.size, 30_000);
    assert.ok(ticks > 0, 'the event loop turned during the poll');
  });
});
