/**
 * The DNS message codec and TSIG on hostile input: names that cannot be sent are refused,
 * malformed answers (compression loops, forward pointers, pointer chains, short or overlong
 * messages) throw instead of being read past their end, and an answer's TSIG is believed only
 * when it carries no TSIG error, its MAC (covering our request's MAC and the fudge it carries)
 * verifies, and its time is within that fudge and our own.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { decodeMessage, decodeName, DnsClass, DnsOpcode, DnsType, encodeMessage, encodeName, requestFlags, txtData } from './dns-wire.ts';
import { responseTsigProblem, signRequest, tsigErrorOf, type TsigKey } from './dns-tsig.ts';

const KEY: TsigKey = { name: 'portcullis-key', algorithm: 'hmac-sha256', secret: Buffer.from('c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=', 'base64') };
const NOW = 1_800_000_000_000;

test('names: lower-cased canonical wire form; labels that cannot be sent are refused', () => {
  assert.deepEqual(encodeName('_ACME-challenge.Example.test.'), Buffer.from('\x0f_acme-challenge\x07example\x04test\x00', 'latin1'));
  assert.deepEqual(encodeName(''), Buffer.from([0]));
  for (const bad of ['a..b', 'a b.test', 'a\0.test', 'x'.repeat(64) + '.test', `${'abcdefghi.'.repeat(26)}test`, 'é.test', 'a/b.test']) {
    assert.throws(() => encodeName(bad), /DNS name/, bad);
  }
});

test('TXT rdata: character-strings of at most 255 bytes', () => {
  assert.deepEqual(txtData('abc'), Buffer.from('\x03abc', 'latin1'));
  const long = txtData('x'.repeat(300));
  assert.equal(long[0], 255);
  assert.equal(long[256], 45);
  assert.equal(long.length, 302);
});

function header(counts: [number, number, number, number], flags = 0x8400): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x1234, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return h;
}

test('malformed answers throw: pointer loops, forward pointers, short messages, trailing bytes, long names', () => {
  // A question whose name is a pointer to itself.
  const loop = Buffer.concat([header([1, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 6, 0, 1])]);
  assert.throws(() => decodeMessage(loop), /pointer/);
  // A label followed by a pointer back to that label: each jump must go below every earlier one.
  const cycle = Buffer.concat([header([1, 0, 0, 0]), Buffer.from([1, 0x61, 0xc0, 12, 0, 6, 0, 1])]);
  assert.throws(() => decodeMessage(cycle), /pointer/);
  const forward = Buffer.concat([header([1, 0, 0, 0]), Buffer.from([0xc0, 20, 0, 6, 0, 1, 0, 0, 0, 0])]);
  assert.throws(() => decodeMessage(forward), /pointer/);
  assert.throws(() => decodeMessage(Buffer.alloc(11)), /ends early/);
  assert.throws(() => decodeMessage(header([1, 0, 0, 0])), /ends early/);
  // An answer count with no answer, and a record whose rdata runs past the end.
  assert.throws(() => decodeMessage(header([0, 1, 0, 0])), /ends early/);
  const overlong = Buffer.concat([header([0, 1, 0, 0]), Buffer.from([0, 0, 16, 0, 1, 0, 0, 0, 60, 0, 50, 1, 0x61])]);
  assert.throws(() => decodeMessage(overlong), /ends early/);
  assert.throws(() => decodeMessage(Buffer.concat([header([0, 0, 0, 0]), Buffer.from([0])])), /bytes after/);
  const labels = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), Buffer.from([0])]);
  assert.throws(() => decodeName(labels, 0), /too long/);
  assert.throws(() => decodeName(Buffer.from([0x80, 0]), 0), /label type/);
});

/** `count` compression pointers from offset 1 on, each to the one before, the first to a root name at 0. */
function pointerChain(count: number): Buffer {
  const buf = Buffer.alloc(1 + 2 * count);
  for (let i = 0; i < count; i++) buf.writeUInt16BE(0xc000 | (i === 0 ? 0 : 1 + 2 * (i - 1)), 1 + 2 * i);
  return buf;
}

test('pointer chains: a name may follow 127 pointers, not 128; a 64 KB answer of long chains is refused', () => {
  assert.deepEqual(decodeName(pointerChain(127), 1 + 2 * 126), { name: '', end: 1 + 2 * 127 });
  assert.throws(() => decodeName(pointerChain(128), 1 + 2 * 127), /too many pointers/);
  // The review's case: a record whose rdata is a chain of 8000 pointers (each one back), then
  // thousands of records named by the chain's last pointer: 8000 hops each, quadratic in all.
  const chainLength = 8000;
  const chainStart = 12 + 1 + 10;
  const chain = Buffer.alloc(2 * chainLength);
  for (let i = 0; i < chainLength; i++) chain.writeUInt16BE(0xc000 | (i === 0 ? 12 : chainStart + 2 * (i - 1)), 2 * i);
  const first = Buffer.concat([Buffer.from([0]), u16(DnsType.TXT), u16(DnsClass.IN), Buffer.alloc(4), u16(chain.length), chain]);
  const named = Buffer.concat([u16(0xc000 | (chainStart + 2 * (chainLength - 1))), u16(DnsType.TXT), u16(DnsClass.IN), Buffer.alloc(4), u16(0)]);
  const count = Math.floor((65_535 - 12 - first.length) / named.length);
  const wire = Buffer.concat([header([0, 1 + count, 0, 0]), first, ...Array.from({ length: count }, () => named)]);
  assert.ok(wire.length > 60_000 && wire.length <= 65_535);
  assert.throws(() => decodeMessage(wire), /too many pointers/);
});

test('an encoded message decodes to the same sections; a compressed name is read through its pointer', () => {
  const wire = encodeMessage({
    id: 7,
    flags: requestFlags(DnsOpcode.UPDATE),
    questions: [{ name: 'example.test', type: DnsType.SOA, class: DnsClass.IN }],
    answers: [],
    authorities: [{ name: '_acme-challenge.example.test', type: DnsType.TXT, class: DnsClass.NONE, ttl: 0, data: txtData('v') }],
    additionals: [],
  });
  const m = decodeMessage(wire);
  assert.equal(m.opcode, DnsOpcode.UPDATE);
  assert.equal(m.isResponse, false);
  assert.deepEqual(m.questions, [{ name: 'example.test', type: DnsType.SOA, class: DnsClass.IN }]);
  assert.equal(m.authorities[0]!.class, DnsClass.NONE);
  assert.deepEqual(m.authorities[0]!.data, txtData('v'));
  // "a" + pointer to the question name at offset 12.
  const compressed = Buffer.concat([header([1, 0, 0, 0]), encodeName('example.test'), Buffer.from([0, 6, 0, 1, 1, 0x61, 0xc0, 12])]);
  assert.deepEqual(decodeName(compressed, 30), { name: 'a.example.test', end: 34 });
});

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/**
 * A server's signed answer (RFC 8945 section 5.3), written out independently of dns-tsig.ts;
 * `unsigned`: an empty MAC, as servers send BADSIG and BADKEY (and as anyone can forge).
 */
function signedAnswer(requestMac: Buffer, options: { key?: TsigKey; time?: number; fudge?: number; error?: number; tamper?: boolean; unsigned?: boolean } = {}): Buffer {
  const key = options.key ?? KEY;
  const time = Math.floor((options.time ?? NOW) / 1000);
  const fudge = options.fudge ?? 300;
  const body = encodeMessage({ id: 0x4242, flags: 0xa800, questions: [{ name: 'example.test', type: DnsType.SOA, class: DnsClass.IN }], answers: [], authorities: [], additionals: [] });
  const timeBytes = Buffer.alloc(6);
  timeBytes.writeUIntBE(time, 0, 6);
  const variables = Buffer.concat([encodeName(key.name), u16(255), Buffer.alloc(4), encodeName('hmac-sha256'), timeBytes, u16(fudge), u16(options.error ?? 0), u16(0)]);
  const mac = options.unsigned === true ? Buffer.alloc(0) : createHmac('sha256', key.secret).update(Buffer.concat([u16(requestMac.length), requestMac, body, variables])).digest();
  const rdata = Buffer.concat([encodeName('hmac-sha256'), timeBytes, u16(fudge), u16(mac.length), mac, u16(0x4242), u16(options.error ?? 0), u16(0)]);
  const record = Buffer.concat([encodeName(key.name), u16(DnsType.TSIG), u16(255), Buffer.alloc(4), u16(rdata.length), rdata]);
  const wire = Buffer.concat([body, record]);
  wire.writeUInt16BE(1, 10);
  if (options.tamper === true) wire[3] = wire[3]! ^ 1; // flip a flag bit after signing
  return wire;
}

test('TSIG: a request is signed and counted in ARCOUNT; an answer is believed only with a valid MAC over our MAC', () => {
  const request = encodeMessage({ id: 0x4242, flags: requestFlags(DnsOpcode.UPDATE), questions: [{ name: 'example.test', type: DnsType.SOA, class: DnsClass.IN }], answers: [], authorities: [], additionals: [] });
  const signed = signRequest(request, KEY, NOW);
  const parsed = decodeMessage(signed.wire);
  assert.equal(parsed.additionals.length, 1);
  assert.equal(parsed.additionals[0]!.type, DnsType.TSIG);
  assert.equal(parsed.additionals[0]!.name, 'portcullis-key');
  assert.equal(signed.mac.length, 32);

  const good = signedAnswer(signed.mac);
  assert.equal(responseTsigProblem(good, decodeMessage(good), KEY, signed.mac, NOW), null);
  assert.equal(responseTsigProblem(good, decodeMessage(good), KEY, signed.mac, NOW + 299_000), null);

  const tampered = signedAnswer(signed.mac, { tamper: true });
  assert.match(responseTsigProblem(tampered, decodeMessage(tampered), KEY, signed.mac, NOW)!, /does not verify/);
  // Signed for another request: the MAC covers the request's MAC, so a replay fails.
  const replay = signedAnswer(Buffer.alloc(32, 1));
  assert.match(responseTsigProblem(replay, decodeMessage(replay), KEY, signed.mac, NOW)!, /does not verify/);
  const otherSecret = signedAnswer(signed.mac, { key: { ...KEY, secret: Buffer.alloc(32, 7) } });
  assert.match(responseTsigProblem(otherSecret, decodeMessage(otherSecret), KEY, signed.mac, NOW)!, /does not verify/);
  const otherName = signedAnswer(signed.mac, { key: { ...KEY, name: 'someone-else' } });
  assert.match(responseTsigProblem(otherName, decodeMessage(otherName), KEY, signed.mac, NOW)!, /another key/);
  const old = signedAnswer(signed.mac, { time: NOW - 301_000 });
  assert.match(responseTsigProblem(old, decodeMessage(old), KEY, signed.mac, NOW)!, /clock skew/);
  const unsigned = encodeMessage({ id: 0x4242, flags: 0xa800, questions: [], answers: [], authorities: [], additionals: [] });
  assert.match(responseTsigProblem(unsigned, decodeMessage(unsigned), KEY, signed.mac, NOW)!, /not signed/);
  const badsig = signedAnswer(signed.mac, { error: 16 });
  assert.equal(tsigErrorOf(badsig, decodeMessage(badsig)), 16);
  assert.equal(tsigErrorOf(unsigned, decodeMessage(unsigned)), 0);
});

test('TSIG: a NOERROR answer carrying a TSIG error is refused, above all an unsigned BADSIG or BADKEY anyone could forge', () => {
  const request = encodeMessage({ id: 0x4242, flags: requestFlags(DnsOpcode.UPDATE), questions: [{ name: 'example.test', type: DnsType.SOA, class: DnsClass.IN }], answers: [], authorities: [], additionals: [] });
  const signed = signRequest(request, KEY, NOW);
  for (const [error, name] of [
    [16, 'BADSIG'],
    [17, 'BADKEY'],
    [22, 'BADTRUNC'],
  ] as const) {
    const forged = signedAnswer(signed.mac, { error, unsigned: true });
    const message = decodeMessage(forged);
    assert.equal(message.rcode, 0, 'the forged answer says NOERROR');
    assert.equal(responseTsigProblem(forged, message, KEY, signed.mac, NOW), `the server answered with TSIG error ${name}`);
  }
  // Signed by the server, a TSIG error still is no success.
  const badtime = signedAnswer(signed.mac, { error: 18 });
  assert.equal(responseTsigProblem(badtime, decodeMessage(badtime), KEY, signed.mac, NOW), 'the server answered with TSIG error BADTIME');
});

test('TSIG: the answer\'s MAC covers the fudge it carries (60 s here); the skew allowed is the smaller of that fudge and 300 s', () => {
  const request = encodeMessage({ id: 0x4242, flags: requestFlags(DnsOpcode.UPDATE), questions: [{ name: 'example.test', type: DnsType.SOA, class: DnsClass.IN }], answers: [], authorities: [], additionals: [] });
  const signed = signRequest(request, KEY, NOW);
  const fudge60 = signedAnswer(signed.mac, { fudge: 60 });
  assert.equal(responseTsigProblem(fudge60, decodeMessage(fudge60), KEY, signed.mac, NOW), null);
  assert.equal(responseTsigProblem(fudge60, decodeMessage(fudge60), KEY, signed.mac, NOW + 60_000), null);
  assert.match(responseTsigProblem(fudge60, decodeMessage(fudge60), KEY, signed.mac, NOW + 61_000)!, /clock skew/);
  // A server's larger fudge does not widen our own limit.
  const fudge900 = signedAnswer(signed.mac, { fudge: 900 });
  assert.equal(responseTsigProblem(fudge900, decodeMessage(fudge900), KEY, signed.mac, NOW + 300_000), null);
  assert.match(responseTsigProblem(fudge900, decodeMessage(fudge900), KEY, signed.mac, NOW + 301_000)!, /clock skew/);
});
