/** The CrowdSec watcher against a fake LAPI on loopback: the alerts it sends, batching, and a LAPI that is down or refuses. */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../kernel/clock.ts';
import { silentLogger, type Logger } from '../../kernel/logger.ts';
import type { Decision } from '../../store/index.ts';
import { createDecisionIndex } from '../decision-index.ts';
import { capturingLogger, startFakeLapi, type FakeLapi, type FakeReply, type FakeRequest } from '../../../test/support/crowdsec.ts';
import { createLapiClient, type LapiAlert, type LapiClient } from './lapi-client.ts';
import { createCrowdSecWatcher, forwardNewDecisions, type CrowdSecWatcherOptions } from './watcher.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

function decision(id: number, value: string, fields: Partial<Decision> = {}): Decision {
  return { id, kind: 'ban', scope: 'ip', value, reason: 'more than 10 404s', origin: 'scenario:http-probing', createdAt: NOW, expiresAt: NOW + 4 * HOUR, ...fields };
}

describe('CrowdSec watcher', () => {
  let fake: FakeLapi;
  let clock: ManualClock;
  const clients: LapiClient[] = [];
  let alertReply: (req: FakeRequest) => FakeReply;

  before(async () => {
    fake = await startFakeLapi();
    fake.alerts = (req) => alertReply(req);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await fake.close();
  });
  beforeEach(() => {
    clock = new ManualClock(NOW);
    fake.requests.length = 0;
    alertReply = (req) => ({ status: 201, body: (JSON.parse(req.body) as unknown[]).map((_, i) => String(i + 1)) });
  });

  const watcher = (extra: Partial<CrowdSecWatcherOptions> & { logger?: Logger } = {}) => {
    const logger = extra.logger ?? silentLogger();
    const client = createLapiClient({ url: fake.url, machineId: 'portcullis-1', password: 'pw', clock, logger, timeoutMs: 500 });
    clients.push(client);
    return createCrowdSecWatcher({ client, clock, logger, flushDelayMs: 5, retryMs: 20, ...extra });
  };

  const sentAlerts = (from = 0): LapiAlert[] => fake.requests.slice(from).filter((r) => r.url === '/v1/alerts').flatMap((r) => JSON.parse(r.body) as LapiAlert[]);

  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!condition() && Date.now() < deadline) await sleep(5);
    assert.ok(condition(), what);
  }

  it('sends each decision as an alert LAPI 1.4 accepts, duration counted from when it is sent', async () => {
    const w = watcher();
    assert.equal(w.push(decision(1, '192.0.2.1')), true);
    assert.equal(w.push(decision(2, '198.51.100.0/24', { scope: 'range', kind: 'challenge', origin: 'cli', reason: '', expiresAt: NOW + 90_500 })), true);
    assert.equal(w.push(decision(3, '2001:db8::1', { kind: 'throttle', expiresAt: null })), true);
    clock.advance(30_000);
    await w.flush();
    const alerts = sentAlerts();
    assert.equal(fake.requests.filter((r) => r.url === '/v1/alerts').length, 1, 'one batch');
    assert.deepEqual(alerts[0], {
      scenario: 'portcullis/scenario:http-probing',
      scenario_hash: '',
      scenario_version: '',
      message: 'more than 10 404s (ban by Portcullis, scenario:http-probing)',
      events_count: 1,
      start_at: '2026-01-01T00:00:00.000Z',
      stop_at: '2026-01-01T00:00:00.000Z',
      capacity: 0,
      leakspeed: '0',
      simulated: false,
      events: [],
      remediation: true,
      source: { scope: 'Ip', value: '192.0.2.1', ip: '192.0.2.1' },
      decisions: [{ origin: 'crowdsec', type: 'ban', scope: 'Ip', value: '192.0.2.1', duration: '3h59m30s', scenario: 'portcullis/scenario:http-probing' }],
    });
    assert.deepEqual(alerts[1]!.source, { scope: 'Range', value: '198.51.100.0/24', range: '198.51.100.0/24' });
    assert.deepEqual(alerts[1]!.decisions[0], { origin: 'crowdsec', type: 'captcha', scope: 'Range', value: '198.51.100.0/24', duration: '1m1s', scenario: 'portcullis/cli' });
    assert.equal(alerts[1]!.message, 'challenge (challenge by Portcullis, cli)');
    assert.deepEqual(alerts[2]!.decisions[0], { origin: 'crowdsec', type: 'throttle', scope: 'Ip', value: '2001:db8::1', duration: '87600h0m0s', scenario: 'portcullis/scenario:http-probing' });
    assert.deepEqual(w.stats(), { queued: 0, sent: 3, dropped: 0, skipped: 0, lastError: null });
    await w.stop();
  });

  it('never sends back what came from CrowdSec, nor what has expired (also while queued)', async () => {
    const w = watcher({ flushDelayMs: 60_000 });
    assert.equal(w.push(decision(-5, '192.0.2.5', { origin: 'crowdsec:crowdsecurity/ssh-bf' })), false);
    assert.equal(w.push(decision(-6, '192.0.2.6', { origin: 'crowdsec' })), false);
    assert.equal(w.push(decision(7, '192.0.2.7', { expiresAt: NOW })), false);
    assert.equal(w.push(decision(8, '192.0.2.8', { expiresAt: NOW + 1000 })), true);
    clock.advance(1000);
    await w.flush();
    assert.equal(fake.requests.length, 0, 'nothing to send, no request');
    assert.deepEqual(w.stats(), { queued: 0, sent: 0, dropped: 0, skipped: 4, lastError: null });
    await w.stop();
  });

  it('batches: a burst goes in requests of batchSize, after flushDelayMs', async () => {
    const w = watcher({ batchSize: 100 });
    for (let i = 0; i < 250; i++) w.push(decision(i + 1, `10.0.${i >> 8}.${i & 255}`));
    assert.equal(fake.requests.length, 0, 'nothing sent synchronously');
    await until(() => w.stats().sent === 250, 'all sent');
    assert.deepEqual(
      fake.requests.filter((r) => r.url === '/v1/alerts').map((r) => (JSON.parse(r.body) as unknown[]).length),
      [100, 100, 50],
    );
    assert.equal(fake.requests.filter((r) => r.url === '/v1/watchers/login').length, 1);
    await w.stop();
  });

  it('while the LAPI is down: bounded queue, oldest dropped with one warning, the rest sent when it is back', async () => {
    const { logger, lines } = capturingLogger();
    alertReply = () => ({ status: 503, body: { message: 'down' } });
    const w = watcher({ logger, maxQueue: 5, maxAttempts: 1000 });
    for (let i = 1; i <= 8; i++) w.push(decision(i, `192.0.2.${i}`));
    await w.flush();
    assert.deepEqual(w.stats(), { queued: 5, sent: 0, dropped: 3, skipped: 0, lastError: w.stats().lastError });
    assert.match(String(w.stats().lastError), /sending alerts answered 503: down/);
    for (let i = 9; i <= 10; i++) w.push(decision(i, `192.0.2.${i}`));
    await w.flush();
    assert.equal(lines('warn').filter((l) => /queue is full/.test(String(l.msg))).length, 1, 'one warning per outage');
    assert.equal(lines('warn').filter((l) => /sending alerts failed/.test(String(l.msg))).length, 1, 'one warning per distinct failure');
    const back = fake.requests.length;
    alertReply = (req) => ({ status: 201, body: (JSON.parse(req.body) as unknown[]).map(() => '1') });
    await until(() => w.stats().sent === 5, 'sent when the LAPI is back');
    assert.deepEqual(
      sentAlerts(back).map((a) => a.source.value),
      ['192.0.2.6', '192.0.2.7', '192.0.2.8', '192.0.2.9', '192.0.2.10'],
    );
    assert.ok(lines('info').some((l) => l.msg === 'CrowdSec watcher: the LAPI takes our alerts again'));
    await w.stop();
  });

  it('a batch the LAPI keeps refusing is dropped after maxAttempts; the next goes through', async () => {
    const { logger, lines } = capturingLogger();
    alertReply = (req) => {
      const alerts = JSON.parse(req.body) as LapiAlert[];
      if (alerts.some((a) => a.source.value === '192.0.2.66')) return { status: 500, body: { message: 'unable to create alerts: something it cannot take' } };
      return { status: 201, body: alerts.map(() => '1') };
    };
    const w = watcher({ logger, batchSize: 1, maxAttempts: 3 });
    w.push(decision(1, '192.0.2.66'));
    w.push(decision(2, '192.0.2.67'));
    await until(() => w.stats().sent === 1, 'the next one sent');
    assert.equal(w.stats().dropped, 1);
    assert.equal(fake.requests.filter((r) => r.url === '/v1/alerts').length, 4, 'three tries, then the next batch');
    assert.equal(lines('warn').filter((l) => /keeps refusing/.test(String(l.msg))).length, 1);
    await w.stop();
  });

  it('an unreachable LAPI is retried, never counted as a refusal', async () => {
    const client = createLapiClient({ url: 'http://127.0.0.1:1', machineId: 'm', password: 'p', clock, logger: silentLogger() });
    clients.push(client);
    const w = createCrowdSecWatcher({ client, clock, logger: silentLogger(), retryMs: 10, maxAttempts: 1 });
    w.push(decision(1, '192.0.2.1'));
    for (let i = 0; i < 3; i++) await w.flush();
    assert.equal(w.stats().queued, 1);
    assert.equal(w.stats().dropped, 0);
    assert.match(String(w.stats().lastError), /ECONNREFUSED/);
    await w.stop(200);
    assert.equal(w.stats().dropped, 1, 'what stop() could not send is dropped');
  });

  it('stop() flushes what is queued', async () => {
    const w = watcher({ flushDelayMs: 60_000 });
    w.push(decision(1, '192.0.2.1'));
    w.push(decision(2, '192.0.2.2'));
    await w.stop();
    assert.deepEqual(
      sentAlerts().map((a) => a.source.value),
      ['192.0.2.1', '192.0.2.2'],
    );
    assert.equal(w.push(decision(3, '192.0.2.3')), false, 'nothing after stop');
  });
});

describe('forwardNewDecisions', () => {
  it('pushes what the DecisionSync puts in force for the first time, not what it loads at start', () => {
    const clock = new ManualClock(NOW);
    const pushed: number[] = [];
    const index = forwardNewDecisions(createDecisionIndex({ clock }), { push: (d) => pushed.push(d.id) > 0 });
    index.replaceAll([decision(3, '192.0.2.3'), decision(5, '192.0.2.5')]);
    index.add(decision(5, '192.0.2.5'));
    index.add(decision(4, '192.0.2.4'));
    index.add(decision(6, '192.0.2.6'));
    index.add(decision(6, '192.0.2.6'));
    index.add(decision(7, '192.0.2.7', { expiresAt: NOW - 1 }));
    index.add(decision(8, '192.0.2.8'));
    assert.deepEqual(pushed, [6, 8]);
    assert.equal(index.size, 5);
    assert.equal(index.match('192.0.2.6')?.id, 6);
    assert.equal(index.remove(6), true);
    assert.equal(index.match('192.0.2.6'), null);
  });
});
