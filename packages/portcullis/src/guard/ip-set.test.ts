/** The blocklists' IP set: ranges merged and bisected, checked against the IpTable it replaced. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../test/support/seeded-random.ts';
import { parseIpPrefix, type IpPrefix } from './ip-prefix.ts';
import { createIpSet } from './ip-set.ts';
import { createIpTable } from './ip-table.ts';

function set(...texts: string[]) {
  return createIpSet(texts.map((t) => parseIpPrefix(t)!));
}

describe('IpSet', () => {
  it('addresses and ranges, their edges, and what is not in them', () => {
    const s = set('192.0.2.7', '198.51.100.0/24', '10.0.0.0/8', '2001:db8::/32', '::ffff:203.0.113.9');
    for (const ip of ['192.0.2.7', '198.51.100.0', '198.51.100.255', '10.0.0.0', '10.255.255.255', '2001:db8::1', '2001:db8:ffff::', '203.0.113.9', '::ffff:192.0.2.7', '::ffff:c000:0207']) {
      assert.equal(s.has(ip), true, ip);
    }
    for (const ip of ['192.0.2.6', '192.0.2.8', '198.51.99.255', '198.51.101.0', '9.255.255.255', '11.0.0.0', '2001:db9::', '203.0.113.10', '0.0.0.0', '255.255.255.255']) {
      assert.equal(s.has(ip), false, ip);
    }
  });

  it('the whole space and its two ends; overlapping and adjacent ranges merged', () => {
    assert.equal(set('0.0.0.0/0').has('255.255.255.255'), true);
    assert.equal(set('0.0.0.0/0').has('0.0.0.0'), true);
    const s = set('192.0.2.0/25', '192.0.2.128/25', '192.0.2.64/26', '255.255.255.255', '0.0.0.0');
    for (const ip of ['192.0.2.0', '192.0.2.127', '192.0.2.128', '192.0.2.255', '255.255.255.255', '0.0.0.0']) assert.equal(s.has(ip), true, ip);
    assert.equal(s.has('192.0.3.0'), false);
    assert.equal(s.has('192.0.1.255'), false);
    assert.equal(s.size, 5, 'size counts the entries as given');
  });

  it('garbage, empty and hostile text is in no set', () => {
    const s = set('0.0.0.0/0', '::/0');
    for (const ip of ['', 'example.com', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.4 ', '::g', '1.2.3.4/32', 'x'.repeat(10_000)]) assert.equal(s.has(ip), false, JSON.stringify(ip.slice(0, 20)));
    assert.equal(createIpSet([]).has('192.0.2.1'), false);
  });

  it('a long list (searched through its /16 index): ranges across /16 boundaries and the ends of the space', () => {
    const singles = Array.from({ length: 5000 }, (_, i) => `100.${(i >> 8) & 255}.${i & 255}.1`);
    const s = set(...singles, '10.0.0.0/8', '172.16.255.255', '172.17.0.0', '192.168.0.0/15', '0.0.0.0', '255.255.255.255');
    for (const ip of ['10.0.0.0', '10.128.0.0', '10.255.255.255', '172.16.255.255', '172.17.0.0', '192.168.0.0', '192.169.255.255', '0.0.0.0', '255.255.255.255', '100.0.0.1', '100.19.135.1']) {
      assert.equal(s.has(ip), true, ip);
    }
    for (const ip of ['9.255.255.255', '11.0.0.0', '172.16.255.254', '172.17.0.1', '192.167.255.255', '192.170.0.0', '0.0.0.1', '255.255.255.254', '100.0.0.2', '100.19.136.1']) {
      assert.equal(s.has(ip), false, ip);
    }
  });

  it('answers as the IpTable does on 20 000 random prefixes and 200 000 random addresses', () => {
    const rng = seededRandom(7);
    const u32 = () => Math.floor(rng() * 2 ** 32);
    const text = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    const prefixes: IpPrefix[] = [];
    for (let i = 0; i < 20_000; i++) {
      const bits = rng() < 0.8 ? 32 : 8 + Math.floor(rng() * 25);
      prefixes.push(parseIpPrefix(`${text(u32())}/${bits}`.replace(/\/32$/, ''))!);
    }
    const table = createIpTable<true>();
    for (const p of prefixes) table.set(p, true);
    const s = createIpSet(prefixes);
    let hits = 0;
    for (let i = 0; i < 200_000; i++) {
      // Half the probes near a listed network, so both answers are exercised.
      const p = prefixes[i % prefixes.length]!;
      const ip = text(i % 2 === 0 && p.family === 4 ? (p.net + Math.floor(rng() * 2 ** (32 - p.bits + 1))) >>> 0 : u32());
      const expected = table.first(ip) !== undefined;
      if (expected) hits++;
      assert.equal(s.has(ip), expected, ip);
    }
    assert.ok(hits > 50_000, `${hits} hits`);
  });
});
