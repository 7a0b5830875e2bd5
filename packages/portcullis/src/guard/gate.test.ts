import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../kernel/clock.ts';
import type { GateRequest } from '../proxy/index.ts';
import type { Decision } from '../store/index.ts';
import type { Blocklists } from './blocklists.ts';
import { createDecisionIndex } from './decision-index.ts';
import { createGate, createGateStats, type GateOptions, type RuleMatch } from './gate.ts';
import { parseIpPrefix } from './ip-prefix.ts';
import { createIpTable } from './ip-table.ts';
import { recordingLogger } from '../../test/support/recording-logger.ts';
import { gateRequest } from '../../test/support/gate-request.ts';

const START = 1_700_000_000_000;
let nextId = 1;

function decision(value: string, kind: Decision['kind'] = 'ban', extra: Partial<Decision> = {}): Decision {
  return { id: nextId++, kind, scope: 'ip', value, reason: '', origin: 'cli', createdAt: START, expiresAt: START + 60_000, ...extra };
}

function request(clientIp: string, path = '/'): GateRequest {
  return gateRequest({ clientIp, method: 'GET', path, rawPath: path, query: '', host: 'example.com', siteName: 'example.com' });
}

/** A blocklist over fixed entries, as blocklists.ts builds them. */
function blocklist(path: string, entries: string[]): Blocklists {
  const table = createIpTable<true>();
  for (const e of entries) table.set(parseIpPrefix(e)!, true);
  const hit = { path, reason: `blocklist:${path}` };
  return { match: (ip) => (table.first(ip) === undefined ? null : hit), size: table.size };
}


function setup(options: Partial<GateOptions> = {}) {
  const clock = new ManualClock(START);
  const decisions = createDecisionIndex({ clock });
  const { logger, lines } = recordingLogger();
  const stats = createGateStats();
  const gate = createGate({ decisions, blocklists: null, neverBan: [], simulate: false, logger, clock, stats, ...options });
  return { clock, decisions, gate, lines, stats };
}

describe('guard gate', () => {
  test('a ban refuses with 403 ban:<origin>; nothing decided passes', () => {
    const { gate, decisions } = setup();
    assert.equal(gate.check(request('192.0.2.1')), null);
    decisions.add(decision('192.0.2.1', 'ban', { origin: 'scenario:http-probing' }));
    assert.deepEqual(gate.check(request('192.0.2.1')), { status: 403, reason: 'ban:scenario:http-probing' });
    assert.deepEqual(gate.check(request('::ffff:192.0.2.1')), { status: 403, reason: 'ban:scenario:http-probing' });
    assert.equal(gate.check(request('192.0.2.2')), null);
  });

  test('the allowlist wins over bans, blocklists, throttles and rules', () => {
    const rules = (): RuleMatch => ({ id: 'sqli', action: 'block' });
    const { gate, decisions, stats, lines } = setup({
      neverBan: ['192.0.2.0/24', '2001:db8::1'],
      blocklists: blocklist('/etc/bl.txt', ['0.0.0.0/0']),
      rules,
    });
    decisions.add(decision('192.0.2.1'));
    decisions.add(decision('192.0.2.2', 'throttle'));
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '::ffff:192.0.2.1', '2001:db8::1']) assert.equal(gate.check(request(ip)), null, ip);
    assert.equal(stats.blocked.size, 0);
    assert.equal(lines.length, 0, 'nothing is logged for an allowed address');
    assert.deepEqual(gate.check(request('198.51.100.1')), { status: 403, reason: 'blocklist:/etc/bl.txt' });
  });

  test('order: ban, then blocklist, then throttle, then challenge, then rules', () => {
    let rule: RuleMatch | null = { id: 'probe-wp', action: 'block' };
    const { gate, decisions, clock } = setup({ blocklists: blocklist('/bl', ['203.0.113.0/24']), rules: () => rule });
    // Only a rule.
    assert.deepEqual(gate.check(request('203.0.114.1')), { status: 403, reason: 'rule:probe-wp' });
    // A challenge decision comes before the rule.
    decisions.add(decision('203.0.113.5', 'challenge'));
    decisions.add(decision('203.0.114.5', 'challenge'));
    assert.deepEqual(gate.check(request('203.0.114.5')), { status: 403, reason: 'challenge:cli', challenge: true });
    // A throttle before a challenge: 429 with the seconds left.
    decisions.add(decision('203.0.114.5', 'throttle', { origin: 'scenario:burst', expiresAt: START + 30_500 }));
    clock.advance(10_000);
    assert.deepEqual(gate.check(request('203.0.114.5')), { status: 429, reason: 'throttle:scenario:burst', retryAfter: 21 });
    // A blocklist entry before a throttle or challenge decision.
    decisions.add(decision('203.0.113.5', 'throttle'));
    assert.deepEqual(gate.check(request('203.0.113.5')), { status: 403, reason: 'blocklist:/bl' });
    // And a ban before everything.
    decisions.add(decision('203.0.113.0/24', 'ban', { origin: 'crowdsec' }));
    assert.deepEqual(gate.check(request('203.0.113.5')), { status: 403, reason: 'ban:crowdsec' });
    // A permanent throttle has no Retry-After.
    decisions.add(decision('198.51.100.1', 'throttle', { expiresAt: null }));
    assert.deepEqual(gate.check(request('198.51.100.1')), { status: 429, reason: 'throttle:cli' });
    rule = null;
    assert.equal(gate.check(request('198.51.100.2')), null);
  });

  test('rules: log only logs, challenge answers with a challenge verdict, and rules run only when given', () => {
    let rule: RuleMatch | null = { id: 'scanner-ua', action: 'log' };
    const seen: GateRequest[] = [];
    const { gate, lines, stats } = setup({
      rules: (req) => {
        seen.push(req);
        return rule;
      },
    });
    assert.equal(gate.check(request('192.0.2.1', '/wp-login.php')), null);
    assert.equal(seen.length, 1);
    assert.equal(lines.at(-1)?.rule, 'scanner-ua');
    assert.equal(lines.at(-1)?.path, '/wp-login.php');
    rule = { id: 'bot', action: 'challenge' };
    assert.deepEqual(gate.check(request('192.0.2.1')), { status: 403, reason: 'challenge:rule:bot', challenge: true });
    assert.deepEqual([...stats.blocked], [['challenge:rule:bot', 1]]);
    const { gate: noRules } = setup({ rules: null });
    assert.equal(noRules.check(request('192.0.2.1')), null);
  });

  test('a cleared client passes challenges (decision and rule), never a ban or a blocking rule', () => {
    let rule: RuleMatch | null = { id: 'bot', action: 'challenge' };
    const { gate, decisions } = setup({ rules: () => rule, cleared: (req) => req.clientIp.startsWith('192.0.2.') });
    assert.equal(gate.check(request('192.0.2.1')), null);
    assert.deepEqual(gate.check(request('198.51.100.1')), { status: 403, reason: 'challenge:rule:bot', challenge: true });
    decisions.add(decision('192.0.2.2', 'challenge'));
    assert.equal(gate.check(request('192.0.2.2')), null);
    decisions.add(decision('192.0.2.3'));
    assert.deepEqual(gate.check(request('192.0.2.3')), { status: 403, reason: 'ban:cli' });
    rule = { id: 'probe', action: 'block' };
    assert.deepEqual(gate.check(request('192.0.2.1')), { status: 403, reason: 'rule:probe' });
  });

  test('security: a client cleared of a challenge decision still meets the blocking rules (a fast crawl earns a challenge; one proof of work must not let probes through)', () => {
    let rule: RuleMatch | null = { id: 'env-file', action: 'block' };
    const { gate, decisions } = setup({ rules: () => rule, cleared: (req) => req.clientIp === '192.0.2.2' });
    decisions.add(decision('192.0.2.2', 'challenge', { origin: 'scenario:aggressive-crawl' }));
    assert.deepEqual(gate.check(request('192.0.2.2', '/.env')), { status: 403, reason: 'rule:env-file' });
    rule = { id: 'bot', action: 'challenge' };
    assert.equal(gate.check(request('192.0.2.2', '/')), null, 'the clearance answers a challenge rule too');
    rule = null;
    assert.equal(gate.check(request('192.0.2.2', '/')), null);
    decisions.add(decision('192.0.2.4', 'challenge'));
    assert.deepEqual(gate.check(request('192.0.2.4', '/')), { status: 403, reason: 'challenge:cli', challenge: true }, 'uncleared: the challenge');
  });

  test('simulate logs and counts what would be refused, and refuses nothing', () => {
    const { gate, decisions, lines, stats } = setup({ simulate: true, blocklists: blocklist('/bl', ['198.51.100.0/24']), rules: () => ({ id: 'x', action: 'block' }) });
    decisions.add(decision('192.0.2.1'));
    assert.equal(gate.check(request('192.0.2.1')), null);
    assert.equal(gate.check(request('198.51.100.7')), null);
    assert.equal(gate.check(request('203.0.113.1')), null);
    assert.deepEqual([...stats.simulated].sort(), [['ban:cli', 1], ['blocklist:/bl', 1], ['rule:x', 1]]);
    assert.equal(stats.blocked.size, 0);
    const simulated = lines.filter((l) => /simulate/.test(String(l.msg)));
    assert.deepEqual(simulated.map((l) => [l.clientIp, l.reason, l.status]), [
      ['192.0.2.1', 'ban:cli', 403],
      ['198.51.100.7', 'blocklist:/bl', 403],
      ['203.0.113.1', 'rule:x', 403],
    ]);
  });

  test('refusals are counted by reason in the shared counters, bounded in the number of reasons', () => {
    const stats = createGateStats();
    const { gate, decisions } = setup({ stats });
    for (let i = 0; i < 1005; i++) decisions.add(decision(`10.0.${i >> 8}.${i & 255}`, 'ban', { origin: `o${i}` }));
    for (let i = 0; i < 1005; i++) gate.check(request(`10.0.${i >> 8}.${i & 255}`));
    gate.check(request('10.0.0.0'));
    assert.equal(stats.blocked.size, 1001);
    assert.equal(stats.blocked.get('ban:o0'), 2);
    assert.equal(stats.blocked.get('other'), 5);
    // A later gate (after a reload) counts on.
    const { gate: next } = setup({ stats, decisions });
    next.check(request('10.0.0.0'));
    assert.equal(stats.blocked.get('ban:o0'), 3);
  });

  test('a malformed allow range fails when the gate is made', () => {
    assert.throws(() => setup({ neverBan: ['10.0.0.0/33'] }), { code: 'ERR_CONFIG_INVALID' });
  });
});
