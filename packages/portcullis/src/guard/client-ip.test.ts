/** The client-IP resolver as a table: trusted chains, spoofing attempts, and garbage that must fail closed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { compileIpRanges, parseIpv6 } from '../kernel/ip-ranges.ts';
import { createClientIpResolver, formatIpv6 } from './client-ip.ts';
import type { RequestContext } from '../proxy/context.ts';
import { compileClientIpMatcher } from '../proxy/matchers/ip.ts';
import { plainIp } from '../proxy/request-context.ts';

const PROXY = '10.0.0.1';
const trusted = compileIpRanges(['10.0.0.0/8', '2001:db8:ffff::/48', 'fe80::/10']);
const xff = createClientIpResolver({ trusted });
const forwarded = createClientIpResolver({ trusted, headers: ['Forwarded'] });
const cloudflare = createClientIpResolver({ trusted, headers: ['CF-Connecting-IP'] });
const realIpThenXff = createClientIpResolver({ trusted, headers: ['X-Real-IP', 'X-Forwarded-For'] });

interface Row {
  name: string;
  resolve: typeof xff;
  peer: string;
  headers: IncomingHttpHeaders;
  want: string;
}

const rows: Row[] = [
  // X-Forwarded-For
  { name: 'no header: the peer', resolve: xff, peer: PROXY, headers: {}, want: PROXY },
  { name: 'one hop', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '203.0.113.7' }, want: '203.0.113.7' },
  { name: 'trusted chain read right to left', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.0.0.2, 10.0.0.3' }, want: '203.0.113.7' },
  { name: 'a spoofed left end is never reached', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.1.1.1, 203.0.113.7' }, want: '203.0.113.7' },
  { name: 'every hop trusted: the leftmost', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '10.9.9.9, 10.0.0.2' }, want: '10.9.9.9' },
  { name: 'multiple header lines (Node joins them)', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': ['203.0.113.7', '10.0.0.2'] }, want: '203.0.113.7' },
  { name: 'IPv4 with a port', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '203.0.113.7:5678' }, want: '203.0.113.7' },
  { name: 'bracketed IPv6 with a port', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '[2001:DB8::1]:80' }, want: '2001:db8::1' },
  { name: 'bare IPv6, canonicalised (RFC 5952)', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '2001:0db8:0000:0000:0000:0000:0000:0001' }, want: '2001:db8::1' },
  { name: 'IPv6 zone id dropped', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '2001:db8::5%eth0' }, want: '2001:db8::5' },
  { name: 'IPv4-mapped IPv6 becomes IPv4', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '::ffff:203.0.113.7' }, want: '203.0.113.7' },
  { name: 'IPv4-mapped trusted hop is skipped', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '203.0.113.7, ::ffff:10.0.0.2' }, want: '203.0.113.7' },
  { name: 'link-local IPv6 trusted peer', resolve: xff, peer: 'fe80::1', headers: { 'x-forwarded-for': '203.0.113.7' }, want: '203.0.113.7' },
  { name: 'empty header: the peer', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '  ' }, want: PROXY },

  // X-Forwarded-For spoofing from an untrusted peer
  { name: 'untrusted peer: XFF ignored', resolve: xff, peer: '192.0.2.50', headers: { 'x-forwarded-for': '10.0.0.5' }, want: '192.0.2.50' },
  { name: 'untrusted peer: Forwarded ignored', resolve: forwarded, peer: '192.0.2.50', headers: { forwarded: 'for=10.0.0.5' }, want: '192.0.2.50' },
  { name: 'untrusted peer: CF-Connecting-IP ignored', resolve: cloudflare, peer: '192.0.2.50', headers: { 'cf-connecting-ip': '10.0.0.5' }, want: '192.0.2.50' },
  { name: 'untrusted IPv6 peer', resolve: xff, peer: '2001:db8::99', headers: { 'x-forwarded-for': '10.0.0.5' }, want: '2001:db8::99' },

  // garbage fails closed
  { name: 'garbage: script tag at the right', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.2.3.4, <script>' }, want: PROXY },
  { name: 'garbage: unknown', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': 'unknown' }, want: PROXY },
  { name: 'garbage: empty entry between trusted hops', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.2.3.4, , 10.0.0.2' }, want: PROXY },
  { name: 'garbage: trailing comma', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.2.3.4,' }, want: PROXY },
  { name: 'garbage: leading comma reached', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': ', 10.0.0.2' }, want: PROXY },
  { name: 'garbage: octet out of range', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '999.1.1.1' }, want: PROXY },
  { name: 'garbage: leading zeros (octal ambiguity)', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '010.0.0.1' }, want: PROXY },
  { name: 'garbage: port out of range', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.2.3.4:65536' }, want: PROXY },
  { name: 'garbage: port with letters', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.2.3.4:80x' }, want: PROXY },
  { name: 'garbage: brackets around IPv4', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '[1.2.3.4]:80' }, want: PROXY },
  { name: 'garbage: unclosed bracket', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '[2001:db8::1' }, want: PROXY },
  { name: 'garbage: two addresses in one entry', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.2.3.4 5.6.7.8' }, want: PROXY },
  { name: 'garbage: host name', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': 'evil.example' }, want: PROXY },
  { name: 'garbage: zone on IPv4', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1.2.3.4%eth0' }, want: PROXY },
  { name: 'garbage: very long entry', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': '1'.repeat(50_000) }, want: PROXY },
  { name: 'garbage: more trusted hops than any real chain', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': Array(40).fill('10.0.0.2').join(', ') }, want: PROXY },
  // Junk the client wrote left of the address its proxy appended is never read, so it cannot
  // turn the client into its proxy (and out of reach of a ban on its own address).
  { name: 'a long padded left end: the client the proxy saw', resolve: xff, peer: PROXY, headers: { 'x-forwarded-for': `${'x, '.repeat(10_000)}<script>, 203.0.113.7` }, want: '203.0.113.7' },

  // RFC 7239 Forwarded
  { name: 'Forwarded: one element', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' }, want: '192.0.2.60' },
  { name: 'Forwarded: quoted IPv6 with port', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, want: '2001:db8:cafe::17' },
  { name: 'Forwarded: quoted IPv4 with port, case-insensitive name', resolve: forwarded, peer: PROXY, headers: { forwarded: 'For="192.0.2.43:47011"' }, want: '192.0.2.43' },
  { name: 'Forwarded: chain right to left', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=198.51.100.1, for=192.0.2.43, for="[2001:db8:ffff::1]";proto=https' }, want: '192.0.2.43' },
  { name: 'Forwarded: obfuscated port is fine', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for="192.0.2.43:_abc"' }, want: '192.0.2.43' },
  // Node joins repeated lines into one string; a list (HTTP/2 compatibility) reads the same.
  { name: 'Forwarded: multiple header lines', resolve: forwarded, peer: PROXY, headers: { forwarded: ['for=192.0.2.43', 'for=10.0.0.2'] } as unknown as IncomingHttpHeaders, want: '192.0.2.43' },
  { name: 'Forwarded spoofing: obfuscated node', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=192.0.2.43, for=_hidden' }, want: PROXY },
  { name: 'Forwarded spoofing: unknown', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=unknown' }, want: PROXY },
  { name: 'Forwarded: unquoted IPv6 is not a token', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=2001:db8::1' }, want: PROXY },
  { name: 'Forwarded: unquoted port is not a token', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=192.0.2.43:80' }, want: PROXY },
  { name: 'Forwarded: bare IPv6 in quotes', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for="2001:db8::1"' }, want: PROXY },
  { name: 'Forwarded: element without for', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=192.0.2.43, proto=https' }, want: PROXY },
  { name: 'Forwarded: for given twice', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=192.0.2.43;for=198.51.100.1' }, want: PROXY },
  { name: 'Forwarded: quoted-pair escapes refused', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for="192.0.2.\\43"' }, want: PROXY },
  { name: 'Forwarded: unterminated quote', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for="192.0.2.43' }, want: PROXY },
  { name: 'Forwarded: pair without =', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for=192.0.2.43;secret' }, want: PROXY },
  { name: 'Forwarded: an unterminated quote the client sent stays left of its proxy', resolve: forwarded, peer: PROXY, headers: { forwarded: 'for="oops, for=192.0.2.43' }, want: '192.0.2.43' },

  // single-value headers
  { name: 'CF-Connecting-IP from a trusted peer', resolve: cloudflare, peer: PROXY, headers: { 'cf-connecting-ip': '203.0.113.7' }, want: '203.0.113.7' },
  { name: 'CF-Connecting-IP IPv6', resolve: cloudflare, peer: PROXY, headers: { 'cf-connecting-ip': '2001:db8:0:0::7' }, want: '2001:db8::7' },
  { name: 'CF-Connecting-IP spoofing: a list', resolve: cloudflare, peer: PROXY, headers: { 'cf-connecting-ip': '203.0.113.7, 198.51.100.1' }, want: PROXY },
  { name: 'CF-Connecting-IP spoofing: two lines', resolve: cloudflare, peer: PROXY, headers: { 'cf-connecting-ip': ['203.0.113.7', '198.51.100.1'] }, want: PROXY },
  { name: 'CF-Connecting-IP: garbage', resolve: cloudflare, peer: PROXY, headers: { 'cf-connecting-ip': 'localhost' }, want: PROXY },
  { name: 'CF-Connecting-IP absent: the peer', resolve: cloudflare, peer: PROXY, headers: { 'x-forwarded-for': '203.0.113.7' }, want: PROXY },
  { name: 'first configured header present wins', resolve: realIpThenXff, peer: PROXY, headers: { 'x-real-ip': '198.51.100.9', 'x-forwarded-for': '203.0.113.7' }, want: '198.51.100.9' },
  { name: 'next header when the first is absent', resolve: realIpThenXff, peer: PROXY, headers: { 'x-forwarded-for': '203.0.113.7' }, want: '203.0.113.7' },
  { name: 'next header when the first is empty', resolve: realIpThenXff, peer: PROXY, headers: { 'x-real-ip': '', 'x-forwarded-for': '203.0.113.7' }, want: '203.0.113.7' },
];

for (const row of rows) {
  test(`client IP: ${row.name}`, () => {
    assert.equal(row.resolve(row.peer, row.headers), row.want);
  });
}

test('garbage fails closed: no malformed X-Forwarded-For entry ever becomes the client', () => {
  const bad = ['', ' ', '<script>', 'unknown', '_hidden', '999.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.4:', '1.2.3.4:0', ':80', '[]', '[::1', '::1]', 'fe80::1%', '1:2:3:4:5:6:7:8:9', 'gggg::1', '::ffff:999.0.0.1', '1.2.3.4\u0000', '١.٢.٣.٤'];
  for (const entry of bad) {
    assert.equal(xff(PROXY, { 'x-forwarded-for': entry }), PROXY, JSON.stringify(entry));
    assert.equal(xff(PROXY, { 'x-forwarded-for': `203.0.113.7, ${entry}` }), PROXY, `right of a client: ${JSON.stringify(entry)}`);
  }
});

test('X-Forwarded-For spoofing from an untrusted peer: whatever it sends, the peer is the client', () => {
  for (const value of ['10.0.0.2', '127.0.0.1', '203.0.113.7, 10.0.0.2', 'garbage']) {
    assert.equal(xff('198.51.100.77', { 'x-forwarded-for': value, 'x-real-ip': '10.0.0.2', forwarded: 'for=10.0.0.2' }), '198.51.100.77');
  }
});

test('a header named like an Object.prototype property reads nothing from the prototype', () => {
  const odd = createClientIpResolver({ trusted, headers: ['constructor', '__proto__', 'toString', 'X-Forwarded-For'] });
  assert.equal(odd(PROXY, { 'x-forwarded-for': '203.0.113.7' }), '203.0.113.7');
  assert.equal(odd(PROXY, {}), PROXY);
});

test('left-to-right parsing is refused; header names are checked', () => {
  assert.throws(() => createClientIpResolver({ trusted, strict: false }), /left-to-right/);
  assert.throws(() => createClientIpResolver({ trusted, headers: ['X Forwarded'] }), /not a header name/);
});

test('an untrusted peer costs one range check and reads no header', () => {
  let reads = 0;
  const headers = new Proxy({} as IncomingHttpHeaders, {
    get: () => {
      reads++;
      return '203.0.113.7';
    },
  });
  assert.equal(xff('198.51.100.1', headers), '198.51.100.1');
  assert.equal(reads, 0);
});

test('IPv6 text is RFC 5952', () => {
  const cases: [string, string][] = [
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:DB8:AAAA:0:0:0:0:0', '2001:db8:aaaa::'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::192.0.2.1', '::192.0.2.1'],
  ];
  for (const [input, want] of cases) assert.equal(formatIpv6(parseIpv6(input)!), want, input);
});

test('an IPv4-mapped IPv6 peer matches IPv4 rules', () => {
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; plainIp strips the prefix, and
  // a resolver or matcher given the mapped form still reads it as IPv4.
  assert.equal(plainIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(xff('::ffff:10.1.2.3', { 'x-forwarded-for': '203.0.113.7' }), '203.0.113.7');
  const internal = compileClientIpMatcher(['10.0.0.0/8']);
  assert.ok(internal({ clientIp: '::ffff:10.1.2.3' } as RequestContext));
  assert.ok(internal({ clientIp: xff(PROXY, { 'x-forwarded-for': '::FFFF:10.9.8.7' }) } as RequestContext));
  assert.ok(!internal({ clientIp: '::ffff:11.1.2.3' } as RequestContext));
});
