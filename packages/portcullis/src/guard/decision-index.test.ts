import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../kernel/clock.ts';
import type { Decision } from '../store/index.ts';
import { createDecisionIndex } from './decision-index.ts';
import { formatIpPrefix, parseIpPrefix } from './ip-prefix.ts';
import { createIpTable } from './ip-table.ts';

const START = 1_700_000_000_000;
let nextId = 1;

function decision(value: string, extra: Partial<Decision> = {}): Decision {
  return {
    id: nextId++,
    kind: 'ban',
    scope: value.includes('/') ? 'range' : 'ip',
    value,
    reason: '',
    origin: 'cli',
    createdAt: START,
    expiresAt: START + 60_000,
    ...extra,
  };
}

function setup() {
  const clock = new ManualClock(START);
  return { clock, index: createDecisionIndex({ clock }) };
}

describe('ip prefixes', () => {
  test('normalise: host bits cleared, IPv4-mapped as IPv4, IPv6 in RFC 5952 text', () => {
    const cases: [string, string][] = [
      ['192.0.2.1', '192.0.2.1'],
      ['192.0.2.1/32', '192.0.2.1'],
      ['10.1.2.3/8', '10.0.0.0/8'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::FFFF:c000:0201', '192.0.2.1'],
      ['::ffff:198.51.100.0/120', '198.51.100.0/24'],
      ['::ffff:0:0/96', '0.0.0.0/0'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8::1/128', '2001:db8::1'],
      ['2001:db8:aa:bb::1/48', '2001:db8:aa::/48'],
      ['::/0', '::/0'],
      ['::1', '::1'],
    ];
    for (const [input, expected] of cases) assert.equal(formatIpPrefix(parseIpPrefix(input)!), expected, input);
  });

  test('refuse what is not one address or prefix', () => {
    for (const bad of ['', 'example.com', '010.0.0.1', '1.2.3', '1.2.3.4/33', '1.2.3.4/08', '1.2.3.4/', '2001:db8::/129', 'fe80::1%eth0', '[::1]', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4/-1', '::ffff:1.2.3.4/200']) {
      assert.equal(parseIpPrefix(bad), null, bad);
    }
  });
});

describe('decision index', () => {
  test('an exact IPv4 and IPv6 address match themselves only', () => {
    const { index } = setup();
    index.add(decision('192.0.2.1'));
    index.add(decision('2001:db8::1'));
    assert.equal(index.match('192.0.2.1')?.value, '192.0.2.1');
    assert.equal(index.match('192.0.2.2'), null);
    assert.equal(index.match('2001:db8::1')?.value, '2001:db8::1');
    assert.equal(index.match('2001:0db8:0000::0001')?.value, '2001:db8::1', 'any spelling of the address');
    assert.equal(index.match('2001:db8::2'), null);
    assert.equal(index.size, 2);
  });

  test('CIDR ranges, IPv4 and IPv6, match every address inside and none outside', () => {
    const { index } = setup();
    index.add(decision('198.51.100.0/24'));
    index.add(decision('10.0.0.0/8'));
    index.add(decision('2001:db8:1::/48'));
    for (const ip of ['198.51.100.0', '198.51.100.255', '10.255.0.1', '2001:db8:1::', '2001:db8:1:ffff:ffff:ffff:ffff:ffff']) assert.ok(index.match(ip), ip);
    for (const ip of ['198.51.101.0', '11.0.0.0', '9.255.255.255', '2001:db8:2::', '2001:db8::1', '::ffff:11.0.0.1']) assert.equal(index.match(ip), null, ip);
  });

  test('regression: a ban on an IPv4 address matches its IPv4-mapped IPv6 form', () => {
    const { index } = setup();
    index.add(decision('192.0.2.7'));
    index.add(decision('203.0.113.0/24'));
    assert.equal(index.match('::ffff:192.0.2.7')?.value, '192.0.2.7');
    assert.equal(index.match('::FFFF:C000:0207')?.value, '192.0.2.7');
    assert.equal(index.match('0:0:0:0:0:ffff:192.0.2.7')?.value, '192.0.2.7');
    assert.equal(index.match('::ffff:203.0.113.99')?.value, '203.0.113.0/24');
    // And the other way round: a ban written as mapped IPv6 is the IPv4 address.
    index.add(decision('::ffff:198.51.100.9'));
    assert.equal(index.match('198.51.100.9')?.value, '::ffff:198.51.100.9');
    // IPv6 ranges stay IPv6: `::/0` does not cover IPv4 clients (as Go's netip).
    const { index: v6 } = setup();
    v6.add(decision('::/0'));
    assert.equal(v6.match('192.0.2.7'), null);
    assert.ok(v6.match('2001:db8::1'));
  });

  test('a decision stops matching at its expiry (ManualClock), before any prune', () => {
    const { index, clock } = setup();
    index.add(decision('192.0.2.1', { expiresAt: START + 1000 }));
    index.add(decision('192.0.2.2', { expiresAt: null }));
    clock.advance(999);
    assert.ok(index.match('192.0.2.1'));
    clock.advance(1);
    assert.equal(index.match('192.0.2.1'), null);
    assert.equal(index.size, 2);
    assert.equal(index.prune(), 1);
    assert.equal(index.size, 1);
    clock.advance(10 * 365 * 86_400_000);
    assert.ok(index.match('192.0.2.2'), 'a permanent decision never expires');
    assert.equal(index.add(decision('192.0.2.3', { expiresAt: START })), false, 'an expired decision is not added');
  });

  test('remove and replace by id; a shorter decision under a longer one is found again when the longer goes', () => {
    const { index } = setup();
    const range = decision('192.0.2.0/24', { kind: 'throttle' });
    const exact = decision('192.0.2.5');
    const twin = decision('192.0.2.5', { origin: 'scenario:probe' });
    index.add(range);
    index.add(exact);
    index.add(twin);
    assert.equal(index.match('192.0.2.5')?.kind, 'ban');
    assert.equal(index.remove(exact.id), true);
    assert.equal(index.remove(exact.id), false);
    assert.equal(index.match('192.0.2.5')?.origin, 'scenario:probe');
    index.remove(twin.id);
    assert.equal(index.match('192.0.2.5')?.kind, 'throttle');
    // Replacing by id moves the decision to its new value.
    index.add({ ...range, value: '198.51.100.0/24' });
    assert.equal(index.match('192.0.2.5'), null);
    assert.ok(index.match('198.51.100.1'));
    assert.equal(index.size, 1);
    index.replaceAll([decision('203.0.113.1')]);
    assert.equal(index.match('198.51.100.1'), null);
    assert.ok(index.match('203.0.113.1'));
    assert.equal(index.size, 1);
  });

  test('a ban wins over a throttle, a throttle over a challenge, wherever each is', () => {
    const { index } = setup();
    index.add(decision('192.0.2.9', { kind: 'challenge' }));
    assert.equal(index.match('192.0.2.9')?.kind, 'challenge');
    index.add(decision('192.0.2.0/28', { kind: 'throttle' }));
    assert.equal(index.match('192.0.2.9')?.kind, 'throttle');
    index.add(decision('192.0.0.0/16', { kind: 'ban', origin: 'crowdsec' }));
    assert.deepEqual([index.match('192.0.2.9')?.kind, index.match('192.0.2.9')?.origin], ['ban', 'crowdsec']);
  });

  test('values that are not addresses, unknown kinds and client text that is not an address match nothing', () => {
    const { index } = setup();
    assert.equal(index.add(decision('not-an-ip')), false);
    assert.equal(index.add(decision('192.0.2.1', { kind: 'nuke' as 'ban' })), false);
    assert.equal(index.add(decision('192.0.2.1', { kind: 'toString' as 'ban' })), false);
    assert.equal(index.size, 0);
    index.add(decision('0.0.0.0/0'));
    for (const ip of ['', 'unknown', '192.0.2', '010.0.0.1', '::ffff:', '1.2.3.4:80']) assert.equal(index.match(ip), null, ip);
    assert.ok(index.match('192.0.2.1'));
  });

  test('one million decisions: still right, and a lookup costs one Map.get per prefix length present', () => {
    const { index } = setup();
    const decisions: Decision[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      // Spread over 10.0.0.0/8 and 11.0.0.0/8, plus some /24s and IPv6 /64s.
      const a = i & 0xffffff;
      const value = i % 50 === 0
        ? `2001:db8:${((i >>> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}::/64`
        : i % 10 === 0
          ? `172.${(i >>> 16) & 15 | 16}.${(i >>> 8) & 255}.0/24`
          : `${10 + (i >>> 24)}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
      decisions.push({ id: i + 1, kind: 'ban', scope: value.includes('/') ? 'range' : 'ip', value, reason: '', origin: 'bulk', createdAt: START, expiresAt: null });
    }
    index.replaceAll(decisions);
    assert.ok(index.size > 900_000, `${index.size} decisions held`);
    assert.equal(index.match('10.0.0.1')?.value, '10.0.0.1');
    assert.equal(index.match('10.0.0.10'), null, 'every tenth i is a /24 elsewhere');
    assert.equal(index.match('10.15.66.63')?.value, '10.15.66.63');
    assert.equal(index.match('172.16.1.77')?.value, '172.16.1.0/24');
    assert.equal(index.match('2001:db8:1:86a0::42')?.value, '2001:db8:1:86a0::/64');
    assert.equal(index.match('192.0.2.1'), null);

    // Count the Map lookups one match makes: IPv4 has two prefix lengths here (/32, /24).
    const realGet = Map.prototype.get;
    let gets = 0;
    Map.prototype.get = function (this: Map<unknown, unknown>, key: unknown) {
      gets++;
      return realGet.call(this, key);
    };
    try {
      index.match('192.0.2.1');
      assert.equal(gets, 2);
      gets = 0;
      index.match('2001:db8:ffff::1');
      assert.equal(gets, 1);
    } finally {
      Map.prototype.get = realGet;
    }
  });
});

describe('ip table', () => {
  test('collect lists every covering prefix, most specific first; first takes the most specific', () => {
    const table = createIpTable<string>();
    for (const p of ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3', '0.0.0.0/0']) table.set(parseIpPrefix(p)!, p);
    const out: string[] = [];
    assert.equal(table.collect('10.1.2.3', out), 4);
    assert.deepEqual(out.slice(0, 4), ['10.1.2.3', '10.1.0.0/16', '10.0.0.0/8', '0.0.0.0/0']);
    assert.equal(table.first('10.1.9.9'), '10.1.0.0/16');
    assert.equal(table.delete(parseIpPrefix('10.1.0.0/16')!), true);
    assert.equal(table.delete(parseIpPrefix('10.1.0.0/16')!), false);
    assert.equal(table.first('10.1.9.9'), '10.0.0.0/8');
    assert.equal(table.size, 3);
    // Keys at both ends of the IPv4 space (signed keys inside: the top half is negative).
    for (const p of ['255.255.255.255', '128.0.0.0/1', '127.255.255.255']) table.set(parseIpPrefix(p)!, p);
    assert.equal(table.first('255.255.255.255'), '255.255.255.255');
    assert.equal(table.first('200.1.1.1'), '128.0.0.0/1');
    assert.equal(table.first('127.255.255.255'), '127.255.255.255');
    assert.equal(table.get(parseIpPrefix('128.0.0.0/1')!), '128.0.0.0/1');
    table.clear();
    assert.equal(table.first('10.1.2.3'), undefined);
    assert.equal(table.size, 0);
  });
});
