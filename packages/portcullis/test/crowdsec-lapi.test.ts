/**
 * CrowdSec interop against the real thing: Debian's CrowdSec (1.4.6) Local API on loopback,
 * no central API, driven with its own cscli. As a bouncer, Portcullis's guard index follows the
 * decisions cscli adds and deletes (and those that expire); as a watcher, the decisions
 * Portcullis sends show up in `cscli decisions list`, where a firewall bouncer would pick them
 * up. Skipped, with the reason, where CrowdSec is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../src/kernel/clock.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import type { Decision } from '../src/store/index.ts';
import { createDecisionIndex, type DecisionIndex } from '../src/guard/decision-index.ts';
import { createCrowdSecBouncer, createCrowdSecWatcher, createLapiClient, isLapiError, type CrowdSecBouncer, type LapiClient } from '../src/guard/crowdsec/index.ts';
import { capturingLogger, crowdsecMissing, startCrowdSecLapi, type CscliDecision, type RealLapi } from './support/crowdsec.ts';
import { request as httpRequest } from 'node:http';
import { openGuardAdmin } from '../src/main.ts';
import { startPortcullis, type Running } from './support/instance.ts';

const missing = crowdsecMissing();

describe('CrowdSec LAPI (real)', { skip: missing ?? false }, () => {
  let lapi: RealLapi;
  let index: DecisionIndex;
  let client: LapiClient;
  let bouncer: CrowdSecBouncer;
  const closers: (() => Promise<void>)[] = [];
  const startedAt = Date.now();

  before(async () => {
    lapi = await startCrowdSecLapi();
    index = createDecisionIndex({ clock: systemClock });
    client = createLapiClient({ url: lapi.url, apiKey: lapi.bouncerKey, machineId: lapi.machineId, password: lapi.password, clock: systemClock, logger: silentLogger() });
    bouncer = createCrowdSecBouncer({ client, index, clock: systemClock, logger: silentLogger(), intervalMs: 60_000 });
    await bouncer.start();
  });
  after(async () => {
    await bouncer?.stop();
    for (const close of closers) await close();
    await client?.close();
    await lapi?.stop();
    // How long the real LAPI costs, for whoever wonders why this file takes its time.
    process.stdout.write(`# crowdsec-lapi: ${Date.now() - startedAt} ms including LAPI start and stop\n`);
  });

  it('a cscli ban on an IP is enforced after a poll, as a CrowdSec ban', async () => {
    assert.equal(index.match('192.0.2.10'), null);
    await lapi.cscli(['decisions', 'add', '--ip', '192.0.2.10', '--duration', '1h', '--reason', 'test ban']);
    const result = await bouncer.poll();
    assert.equal(result.startup, false);
    assert.equal(result.added, 1);
    const d = index.match('192.0.2.10');
    assert.ok(d, 'enforced');
    assert.equal(d.kind, 'ban');
    assert.equal(d.origin, 'crowdsec:test ban');
    assert.ok(d.id < 0, 'ids of the LAPI are negative in the index');
    assert.ok(Math.abs(d.expiresAt - (Date.now() + 3_600_000)) < 60_000, `expires in about an hour (${d.expiresAt - Date.now()} ms)`);
    assert.equal(index.match('192.0.2.11'), null);
  });

  it('a range decision covers its addresses; IPv6 too; a captcha is a challenge, a throttle a throttle', async () => {
    await lapi.cscli(['decisions', 'add', '--range', '198.51.100.0/24', '--duration', '1h']);
    await lapi.cscli(['decisions', 'add', '--ip', '2001:db8::5', '--duration', '1h']);
    await lapi.cscli(['decisions', 'add', '--ip', '203.0.113.20', '--duration', '1h', '--type', 'captcha']);
    await lapi.cscli(['decisions', 'add', '--ip', '203.0.113.21', '--duration', '1h', '--type', 'throttle']);
    await bouncer.poll();
    assert.equal(index.match('198.51.100.77')?.value, '198.51.100.0/24');
    assert.equal(index.match('198.51.101.1'), null);
    assert.equal(index.match('2001:db8::5')?.kind, 'ban');
    assert.equal(index.match('203.0.113.20')?.kind, 'challenge');
    assert.equal(index.match('203.0.113.21')?.kind, 'throttle');
  });

  it('cscli decisions delete lifts it; the deletion repeated by the LAPI changes nothing', async () => {
    await lapi.cscli(['decisions', 'delete', '--ip', '192.0.2.10']);
    const first = await bouncer.poll();
    assert.equal(first.removed, 1);
    assert.equal(index.match('192.0.2.10'), null);
    for (let i = 0; i < 2; i++) {
      const again = await bouncer.poll();
      assert.equal(again.added, 0);
      assert.equal(again.removed, 0);
    }
    assert.ok(index.match('198.51.100.1'), 'the others stay');
  });

  it('a decision that expires stops matching at its expiry, and the LAPI\'s deletion of it is harmless', async () => {
    await lapi.cscli(['decisions', 'add', '--ip', '192.0.2.30', '--duration', '2s']);
    await bouncer.poll();
    assert.ok(index.match('192.0.2.30'), 'enforced while it lasts');
    const deadline = Date.now() + 5000;
    while (index.match('192.0.2.30') !== null && Date.now() < deadline) await sleep(100);
    assert.equal(index.match('192.0.2.30'), null, 'expired');
    await bouncer.poll();
    assert.equal(index.match('192.0.2.30'), null);
  });

  it('a restart of the bouncer pulls everything again and drops what was deleted meanwhile', async () => {
    await lapi.cscli(['decisions', 'add', '--ip', '192.0.2.40', '--duration', '1h']);
    await bouncer.poll();
    assert.ok(index.match('192.0.2.40'));
    await bouncer.stop();
    await lapi.cscli(['decisions', 'delete', '--ip', '192.0.2.40']);
    await lapi.cscli(['decisions', 'add', '--ip', '192.0.2.41', '--duration', '1h']);
    await bouncer.start();
    assert.equal(index.match('192.0.2.40'), null, 'deleted while stopped');
    assert.ok(index.match('192.0.2.41'), 'added while stopped');
    assert.ok(index.match('198.51.100.1'), 'still in force');
  });

  it('the watcher pushes our decisions; cscli lists them, so a firewall bouncer enforces them', async () => {
    const watcher = createCrowdSecWatcher({ client, clock: systemClock, logger: silentLogger() });
    const now = Date.now();
    const ours: Decision[] = [
      { id: 1, kind: 'ban', scope: 'ip', value: '203.0.113.50', reason: 'more than 10 404s', origin: 'scenario:http-probing', createdAt: now, expiresAt: now + 4 * 3_600_000 },
      { id: 2, kind: 'challenge', scope: 'range', value: '2001:db8:50::/48', reason: '', origin: 'cli', createdAt: now, expiresAt: now + 3_600_000 },
      { id: 3, kind: 'ban', scope: 'ip', value: '203.0.113.51', reason: 'forever', origin: 'cli', createdAt: now, expiresAt: null },
    ];
    for (const d of ours) assert.equal(watcher.push(d), true);
    assert.equal(watcher.push({ ...ours[0]!, id: -9, value: '203.0.113.59', origin: 'crowdsec:x' }), false);
    await watcher.stop();
    assert.deepEqual(watcher.stats(), { queued: 0, sent: 3, dropped: 0, skipped: 1, lastError: null });
    const listed = await lapi.decisions();
    const find = (value: string) => listed.find((d) => d.value === value);
    const ban = find('203.0.113.50');
    assert.ok(ban, `listed: ${JSON.stringify(listed.map((d) => d.value))}`);
    assert.deepEqual(
      { type: ban.type, scope: ban.scope, scenario: ban.scenario, origin: ban.origin, alert: ban.alertScenario },
      { type: 'ban', scope: 'Ip', scenario: 'portcullis/scenario:http-probing', origin: 'crowdsec', alert: 'portcullis/scenario:http-probing' },
    );
    assert.match(ban.duration, /^3h59m/);
    const range = find('2001:db8:50::/48');
    assert.ok(range);
    assert.deepEqual({ type: range.type, scope: range.scope, scenario: range.scenario }, { type: 'captcha', scope: 'Range', scenario: 'portcullis/cli' });
    assert.match(find('203.0.113.51')?.duration ?? '', /^87[56]\d\dh/, 'forever is ten years');
    assert.equal(find('203.0.113.59'), undefined);
    // What a bouncer of this LAPI gets: ours, unless it is ourselves and says so.
    const plain = await bouncer.poll();
    assert.ok(plain.added >= 3);
    assert.equal(index.match('203.0.113.50')?.origin, 'crowdsec:portcullis/scenario:http-probing');
    const selfIndex = createDecisionIndex({ clock: systemClock });
    const self = createCrowdSecBouncer({ client, index: selfIndex, clock: systemClock, logger: silentLogger(), ignoreScenarioPrefix: 'portcullis/' });
    await self.poll();
    assert.equal(selfIndex.match('203.0.113.50'), null);
    assert.ok(selfIndex.match('198.51.100.1'), 'the rest is enforced');
    assert.equal(self.stats().ignored.own, 3);
  });

  it('a watcher with a wrong password gets a clear error', async () => {
    const wrong = createLapiClient({ url: lapi.url, machineId: lapi.machineId, password: 'not-the-password', clock: systemClock, logger: silentLogger() });
    closers.push(() => wrong.close());
    const { logger, lines } = capturingLogger();
    const watcher = createCrowdSecWatcher({ client: wrong, clock: systemClock, logger, retryMs: 60_000 });
    watcher.push({ id: 1, kind: 'ban', scope: 'ip', value: '203.0.113.60', reason: '', origin: 'cli', createdAt: Date.now(), expiresAt: Date.now() + 60_000 });
    await watcher.flush();
    assert.match(String(watcher.stats().lastError), /the watcher login answered 401: incorrect Username or Password \(machine "portcullis-test" or its password is not accepted/);
    assert.equal(lines('warn').length, 1);
    await watcher.stop(100);
  });

  it('a revoked bouncer key: a clear error, and the decisions in force stay', async () => {
    const key = (await lapi.cscli(['bouncers', 'add', 'revoked-soon', '-o', 'raw'])).trim();
    const revokedClient = createLapiClient({ url: lapi.url, apiKey: key, clock: systemClock, logger: silentLogger() });
    closers.push(() => revokedClient.close());
    const own = createDecisionIndex({ clock: systemClock });
    const { logger, lines } = capturingLogger();
    const b = createCrowdSecBouncer({ client: revokedClient, index: own, clock: systemClock, logger, intervalMs: 60_000 });
    await b.start();
    assert.ok(own.match('198.51.100.1'), 'pulled with the key');
    await lapi.cscli(['bouncers', 'delete', 'revoked-soon']);
    await assert.rejects(b.poll(), (error: unknown) => {
      assert.ok(isLapiError(error));
      assert.equal(error.lapiStatus, 403);
      assert.equal(error.code, 'ERR_UPSTREAM_FAILED');
      assert.match(error.message, new RegExp(`^CrowdSec LAPI ${lapi.url}: the decision stream answered 403: access forbidden \\(the bouncer API key is not accepted`));
      return true;
    });
    assert.ok(own.match('198.51.100.1'), 'kept');
    await b.stop();
    await b.start();
    assert.equal(lines('error')[0]?.msg, 'CrowdSec: the LAPI refuses our bouncer API key; the decisions in force stay, and polling goes on');
    assert.ok(own.match('198.51.100.1'), 'still kept after a restart that cannot pull');
    await b.stop();
  });
});

describe('a Portcullis instance with a crowdsec block (real LAPI)', { skip: missing ?? false }, () => {
  let lapi: RealLapi;
  let running: Running;

  before(async () => {
    lapi = await startCrowdSecLapi();
    running = await startPortcullis(
      [
        '{',
        '\tadmin off',
        '\tdatabase sqlite $DIR/guard.db',
        '\tguard {',
        '\t\tcrowdsec {',
        `\t\t\tlapi_url ${lapi.url}`,
        '\t\t\tapi_key {$CS_KEY}',
        `\t\t\tmachine_id ${lapi.machineId}`,
        '\t\t\tpassword {$CS_PASSWORD}',
        '\t\t\tpoll_interval 1s',
        '\t\t}',
        '\t}',
        '}',
        'http://127.0.0.1:0 {',
        '\trespond "ok"',
        '}',
      ].join('\n') + '\n',
      { env: { CS_KEY: lapi.bouncerKey, CS_PASSWORD: lapi.password } },
    );
  });
  after(async () => {
    await running?.stop();
    await lapi?.stop();
  });

  /** GET / from `from` until it answers `expected`, for at most 8 s (the bouncer polls every second). */
  const becomes = async (expected: number, from = '127.0.0.1'): Promise<void> => {
    const deadline = Date.now() + 8000;
    let last = 0;
    for (let i = 0; i < 200 && Date.now() < deadline; i++) {
      last = await statusFrom(`${running.url}/`, from);
      if (last === expected) return;
      await sleep(100);
    }
    assert.equal(last, expected, `GET / from ${from} did not become ${expected} within 8 s`);
  };

  it('a cscli ban on the client answers 403 within a poll, and its deletion lifts it', async () => {
    assert.equal(await statusFrom(`${running.url}/`, '127.0.0.3'), 200);
    await lapi.cscli(['decisions', 'add', '--ip', '127.0.0.3', '--duration', '1h', '--reason', 'e2e']);
    await becomes(403, '127.0.0.3');
    assert.equal(await statusFrom(`${running.url}/`, '127.0.0.4'), 200, 'only the banned address');
    await lapi.cscli(['decisions', 'delete', '--ip', '127.0.0.3']);
    await becomes(200, '127.0.0.3');
  });

  it('a ban Portcullis decides reaches the LAPI for the other bouncers; lifting it here is not undone by the copy there', async () => {
    const admin = await openGuardAdmin({ configFile: running.configFile, env: { ...process.env, CS_KEY: lapi.bouncerKey, CS_PASSWORD: lapi.password } });
    try {
      await admin.admin.ban('127.0.0.5', { durationMs: 3_600_000, reason: 'e2e push' });
      // The instance picks the ban from the store within a poll (2 s), then the watcher sends it.
      await becomes(403, '127.0.0.5');
      const deadline = Date.now() + 10_000;
      let found: CscliDecision | undefined;
      while (Date.now() < deadline && found === undefined) {
        found = (await lapi.decisions()).find((d) => d.value === '127.0.0.5');
        if (found === undefined) await sleep(250);
      }
      assert.ok(found, 'cscli decisions list shows the pushed ban');
      assert.equal(found.type, 'ban');
      assert.match(found.scenario, /^portcullis\//);
      // The LAPI streams our own ban back to our bouncer, which ignores it: lifted here, lifted.
      await admin.admin.lift('127.0.0.5');
      await becomes(200, '127.0.0.5');
      await sleep(2500);
      assert.equal(await statusFrom(`${running.url}/`, '127.0.0.5'), 200, 'still lifted after two more polls of the LAPI');
    } finally {
      await admin.close();
    }
  });
});

/** The status of GET url sent from a given loopback address. */
function statusFrom(url: string, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress: from, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
