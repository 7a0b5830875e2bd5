/**
 * The scenarios' client table: who a client is (an IPv4 address, an IPv6 /64, spelled as the
 * decision store spells it), records that start from zero and from each region's init, the
 * one-entry memo that must never hand out a slot its client lost, and the bound on clients.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileIpRanges } from '../../kernel/ip-ranges.ts';
import { formatIpPrefix, parseIpPrefix } from '../ip-prefix.ts';
import { clientKey, createClientTable } from './client-table.ts';
import { seededRandom as random } from '../../../test/support/seeded-random.ts';

const MINUTE = 60_000;
/** Whether `ip` is inside `cidr`, by the kernel's range matcher. */
const IP_IN = (cidr: string, ip: string): boolean => compileIpRanges([cidr])(ip);

describe('client keys', () => {
  /** The /64 as the guard's own parser and formatter spell it. */
  const reference = (ip: string): string | null => {
    const prefix = parseIpPrefix(ip);
    if (prefix === null || prefix.bits !== (prefix.family === 4 ? 32 : 128)) return null;
    if (prefix.family === 4) return formatIpPrefix(prefix);
    // Networks whose /64 unrelated hosts share: each address is a client.
    const text = formatIpPrefix(prefix);
    const inside = (cidr: string) => IP_IN(cidr, text);
    if (['::/64', '64:ff9b::/96', '64:ff9b::/64', '64:ff9b:1::/48', '2001::/32'].some(inside)) return text;
    return formatIpPrefix(parseIpPrefix(`${text}/64`)!);
  };

  it('an IPv6 address is keyed by its /64 exactly as the decision store spells it', () => {
    const fixed = ['2001:db8:1:2::10', '2001:DB8:1:2:0:0:0:99', '2001:db8::1', '2001:db8:0:0:1::', '2001:0:0:5:6::', '::', '::1', '1::', 'fe80::1', '0:0:0:1::', '2001:db8:0:0:0:0:0:0', '::ffff:203.0.113.9', '::ffff:cb00:7109', '64:ff9b::203.0.113.9', '2001:0db8:0001:0002:0003:0004:0005:0006'];
    const rng = random(7);
    const hex = () => (rng() < 0.4 ? 0 : Math.floor(rng() * 65536)).toString(16);
    const generated = Array.from({ length: 2000 }, () => {
      const groups = Array.from({ length: 8 }, hex);
      return parseIpPrefix(groups.join(':')) === null ? groups.join(':') : formatIpPrefix(parseIpPrefix(groups.join(':'))!);
    });
    for (const ip of [...fixed, ...generated]) assert.equal(clientKey(ip), reference(ip), ip);
    assert.equal(clientKey('2001:db8:1:2::10'), '2001:db8:1:2::/64');
    assert.equal(clientKey('::ffff:203.0.113.9'), '203.0.113.9');
  });

  it('security: addresses behind NAT64/SIIT, IPv4-compatible ones and Teredo are a client each, not one /64', () => {
    // Two IPv4 users seen through a translator share its /64; banning it would ban them all.
    assert.equal(clientKey('64:ff9b::c633:6407'), '64:ff9b::c633:6407');
    assert.equal(clientKey('64:ff9b::203.0.113.9'), '64:ff9b::cb00:7109');
    assert.equal(clientKey('64:ff9b:1:2::5'), '64:ff9b:1:2::5');
    assert.equal(clientKey('::ffff:0:1.2.3.4'), '::ffff:0:102:304');
    assert.equal(clientKey('::1'), '::1');
    assert.equal(clientKey('2001:0:4136:e378:8000:63bf:3fff:fdd2'), '2001:0:4136:e378:8000:63bf:3fff:fdd2');
    // Their neighbours are ordinary networks.
    assert.equal(clientKey('64:ff9b:2::1'), '64:ff9b:2::/64');
    assert.equal(clientKey('2001:1::1'), '2001:1::/64');
  });

  it('what is not one address has no key', () => {
    for (const ip of ['', 'not an address', 'fe80::1%eth0', '2001:db8::/64', '1::2::3', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '12345::', '1:', ':1', '[::1]', 'g::1', '2001:db8::1 ']) {
      assert.equal(clientKey(ip), null, JSON.stringify(ip));
    }
    assert.equal(clientKey('203.0.113.9'), '203.0.113.9');
  });
});

describe('client table', () => {
  it('keyOf: IPv4 (and IPv4-mapped) addresses are one number each, IPv6 addresses their /64; textOf spells them as decisions do', () => {
    const table = createClientTable({ quietMs: MINUTE });
    const v4 = table.keyOf('203.0.113.9');
    assert.equal(typeof v4, 'number');
    assert.equal(table.keyOf('::ffff:203.0.113.9'), v4);
    assert.equal(table.textOf(v4!), '203.0.113.9');
    assert.equal(table.textOf(table.keyOf('255.255.255.255')!), '255.255.255.255');
    assert.equal(table.textOf(table.keyOf('0.0.0.0')!), '0.0.0.0');
    assert.equal(table.keyOf('2001:db8:7:7::a'), '2001:db8:7:7::/64');
    assert.equal(table.keyOf('2001:DB8:7:7:ffff::1'), '2001:db8:7:7::/64');
    assert.equal(table.keyOf(''), null);
    assert.equal(table.keyOf('fe80::1%eth0'), null);
  });

  it('splitAround: a /64 holding an allowed host is an address a client; others stay one /64; garbage is ignored', () => {
    const table = createClientTable({ quietMs: MINUTE });
    assert.equal(table.keyOf('2001:db8:5:5::66'), '2001:db8:5:5::/64');
    table.splitAround(['2001:db8:5:5::10', '2001:db8:9::/48', '198.51.100.0/24', 'not-a-range', '2001:db8:7:7:8000::/65']);
    assert.equal(table.keyOf('2001:db8:5:5::66'), '2001:db8:5:5::66', 'remembered keys follow the new rule');
    assert.equal(table.keyOf('2001:DB8:7:7::1'), '2001:db8:7:7::1');
    assert.equal(table.keyOf('2001:db8:9:1::1'), '2001:db8:9:1::/64', 'a range of /64s does not split them');
    assert.equal(table.keyOf('2001:db8:5:6::1'), '2001:db8:5:6::/64');
    table.splitAround([]);
    assert.equal(table.keyOf('2001:db8:5:5::66'), '2001:db8:5:5::/64');
  });

  it('a new client starts from zeros and each region init; a known one keeps its record', () => {
    const table = createClientTable({ quietMs: MINUTE });
    const a = table.reserve(2, 1, (u, w, t, tb, now) => {
      u[w + 1] = 7;
      t[tb] = now;
    });
    const b = table.reserve(1, 2);
    assert.deepEqual([a, b], [{ wordsAt: 0, timesAt: 1 }, { wordsAt: 2, timesAt: 2 }]);
    const slot = table.slot(1, 1000);
    const u = table.words(slot);
    const t = table.times(slot);
    const w = table.wordBase(slot);
    const tb = table.timeBase(slot);
    assert.deepEqual([...u.subarray(w, w + 3)], [0, 7, 0]);
    assert.deepEqual([...t.subarray(tb + 1, tb + 4)], [1000, 0, 0]);
    u[w + b.wordsAt] = 5;
    assert.equal(table.slot(2, 1001) === slot, false);
    assert.equal(table.slot(1, 1002), slot);
    assert.equal(table.words(slot)[w + b.wordsAt], 5);
    assert.throws(() => table.reserve(1, 1), /before the first client/);
  });

  it('find() does not admit; slot() does', () => {
    const table = createClientTable({ quietMs: MINUTE });
    assert.equal(table.find(42, 0), -1);
    assert.equal(table.size, 0);
    const slot = table.slot(42, 0);
    assert.equal(table.find(42, 1), slot);
    assert.equal(table.size, 1);
  });

  it('holds at most maxKeys clients; the evicted client, even the last one looked up, comes back with a fresh record', () => {
    const table = createClientTable({ quietMs: MINUTE, maxKeys: 3 });
    const { wordsAt } = table.reserve(1, 0);
    const count = (key: number, now: number): number => {
      const slot = table.slot(key, now);
      return ++table.words(slot)[table.wordBase(slot) + wordsAt]!;
    };
    assert.equal(count(1, 0), 1);
    assert.equal(count(1, 0), 2);
    count(2, 0);
    count(3, 0);
    // Client 1 was the last looked up before 4 takes the stalest slot, 1's (quiet for a minute).
    count(1, 0);
    assert.equal(count(4, 2 * MINUTE), 1);
    assert.equal(table.size, 3);
    assert.equal(table.find(1, 2 * MINUTE), -1, 'client 1 was evicted');
    assert.equal(count(1, 2 * MINUTE), 1, 'and comes back counting from zero, not with client 4\'s slot');
    for (let i = 0; i < 1000; i++) count(100 + i, 3 * MINUTE + i);
    assert.equal(table.size, 3);
  });

  it('a client seen lately gets a second chance: a flood of one-shot clients evicts its own', () => {
    const table = createClientTable({ quietMs: MINUTE, maxKeys: 100 });
    table.reserve(1, 0);
    const steady = 7;
    for (let i = 0; i < 5000; i++) {
      table.slot(1_000_000 + i, i);
      if (i % 10 === 0) table.slot(steady, i);
    }
    assert.notEqual(table.find(steady, 5000), -1);
  });
});
