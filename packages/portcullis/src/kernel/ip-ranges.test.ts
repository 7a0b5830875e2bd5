import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { compileIpRanges, parseIp, parseIpv4, parseIpv6 } from './ip-ranges.ts';
import { PortcullisError } from './errors.ts';

test('IPv4 CIDR and single addresses', () => {
  const inRange = compileIpRanges(['10.0.0.0/8', '192.0.2.7', '198.51.100.0/24']);
  const table: [string, boolean][] = [
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['198.51.100.200', true],
    ['198.51.101.1', false],
    ['', false],
    ['not an ip', false],
    ['10.0.0.1.5', false],
    ['10.0.0', false],
    ['10.0.0.256', false],
    // Leading zeros are ambiguous (octal to inet_aton): never an address.
    ['010.0.0.1', false],
    ['10.0.0.01', false],
  ];
  for (const [ip, expected] of table) assert.equal(inRange(ip), expected, ip);
});

test('IPv6 ranges, zones and brackets', () => {
  const inRange = compileIpRanges(['2001:db8::/32', '::1', 'fe80::/10']);
  const table: [string, boolean][] = [
    ['2001:db8::1', true],
    ['2001:DB8:0:0:0:0:0:ffff', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['[::1]', true],
    ['::2', false],
    ['fe80::1%eth0', true],
    ['2001:db8::1::2', false],
    ['2001:db8:::1', false],
    ['1:2:3:4:5:6:7:8:9', false],
    [':1::', false],
  ];
  for (const [ip, expected] of table) assert.equal(inRange(ip), expected, ip);
});

test('IPv4-mapped IPv6 addresses match IPv4 ranges and mapped ranges', () => {
  const v4 = compileIpRanges(['10.0.0.0/8']);
  assert.equal(v4('::ffff:10.1.2.3'), true);
  assert.equal(v4('::ffff:a01:203'), true);
  assert.equal(v4('::ffff:11.1.2.3'), false);
  const mapped = compileIpRanges(['::ffff:192.168.0.0/112']);
  assert.equal(mapped('192.168.4.5'), true);
  assert.equal(mapped('::ffff:192.168.4.5'), true);
  assert.equal(mapped('192.169.0.1'), false);
});

test('families stay apart outside the mapped space, as in Go netip', () => {
  const all6 = compileIpRanges(['::/0']);
  assert.equal(all6('2001:db8::1'), true);
  assert.equal(all6('192.0.2.1'), false);
  const all4 = compileIpRanges(['0.0.0.0/0']);
  assert.equal(all4('192.0.2.1'), true);
  assert.equal(all4('2001:db8::1'), false);
});

test('private_ranges shorthand', () => {
  const priv = compileIpRanges(['private_ranges']);
  for (const ip of ['192.168.1.1', '172.16.0.1', '172.31.255.255', '10.9.9.9', '127.0.0.1', '127.5.5.5', 'fd12::1', '::1', '::ffff:127.0.0.1']) {
    assert.equal(priv(ip), true, ip);
  }
  for (const ip of ['172.32.0.1', '8.8.8.8', '2001:db8::1', 'fe80::1', '::2']) assert.equal(priv(ip), false, ip);
});

test('zone in a range requires the same zone', () => {
  const zoned = compileIpRanges(['fe80::%eth0/64']);
  assert.equal(zoned('fe80::1%eth0'), true);
  assert.equal(zoned('fe80::1%eth1'), false);
  assert.equal(zoned('fe80::1'), true);
});

test('bad ranges throw a config error', () => {
  for (const bad of ['', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/08', '::/129', 'example.com', '10.0.0.0/-1', '1.2.3', 'fe80::%/64']) {
    assert.throws(
      () => compileIpRanges([bad]),
      (e: unknown) => e instanceof PortcullisError && e.code === 'ERR_CONFIG_INVALID',
      bad,
    );
  }
});

test('address parser agrees with node:net on a corpus of inputs', () => {
  const inputs = [
    '0.0.0.0', '255.255.255.255', '1.2.3.4', '1.2.3.04', '1.2.3', '1.2.3.4.', '.1.2.3.4', '1..2.3', '256.1.1.1',
    '::', '::1', '1::', '1::2', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8::',
    '1:2:3:4:5:6::7:8', ':::', '1:::2', '12345::', 'g::', '::ffff:1.2.3.4', '::ffff:1.2.3', '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789', 'ABCD::', '1:', ':1', '1::2::3',
  ];
  for (const input of inputs) {
    const ours = input.includes(':') ? parseIpv6(input) !== null : parseIpv4(input) !== -1;
    // node accepts octets with leading zeros nowhere either (since v18); both must agree.
    assert.equal(ours, isIP(input) !== 0, input);
  }
});

test('parseIp unmaps IPv4-mapped addresses', () => {
  assert.deepEqual(parseIp('::ffff:1.2.3.4'), { v4: 0x01020304, zone: '' });
  assert.equal(parseIp('nonsense'), null);
});
