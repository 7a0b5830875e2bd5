/**
 * TSIG (RFC 8945): an HMAC over a DNS message and a few TSIG fields, keyed with a secret the
 * DNS server shares with us, appended as the last additional record. Requests are signed; the
 * server's answers are checked with the same key (their MAC also covers our request's MAC, so
 * an answer cannot be replayed for another request). This is framing around node:crypto's
 * HMAC, not new cryptography.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AcmeDnsProviderConfig } from '../../config/types.ts';
import { decodeName, DnsClass, DnsType, encodeName, rcodeName, type DecodedMessage } from './dns-wire.ts';

/** The algorithms accepted in `key_alg` (config/acme-dns.ts; RFC 8945 section 6 recommends SHA-256). */
export type TsigAlgorithm = AcmeDnsProviderConfig['keyAlg'];

const ALGORITHMS: Readonly<Record<TsigAlgorithm, { wireName: string; hash: string }>> = {
  'hmac-sha256': { wireName: 'hmac-sha256', hash: 'sha256' },
  'hmac-sha512': { wireName: 'hmac-sha512', hash: 'sha512' },
  'hmac-sha1': { wireName: 'hmac-sha1', hash: 'sha1' },
  // RFC 8945 section 6: HMAC-MD5 keeps its old, longer algorithm name.
  'hmac-md5': { wireName: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
};

/**
 * The fudge we sign with, and the most clock difference we accept in an answer whatever fudge
 * it carries (RFC 8945 section 10 recommends 300 seconds).
 */
const FUDGE_SECONDS = 300;

export interface TsigKey {
  /** The key's name, as in the server's `key "<name>" { ... }`. */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export interface SignedRequest {
  wire: Buffer;
  /** The request's MAC, which the answer's MAC covers (RFC 8945 section 5.3). */
  mac: Buffer;
}

function u48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(seconds, 0, 6);
  return b;
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

/**
 * RFC 8945 section 4.3.3: the TSIG fields the MAC covers, names in canonical form. `fudge` is
 * the one in the record being signed or checked: an answer's MAC covers the fudge the server
 * sent, which need not be ours.
 */
function variables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(DnsClass.ANY, 0);
  return Buffer.concat([
    encodeName(key.name),
    classTtl,
    encodeName(ALGORITHMS[key.algorithm].wireName),
    u48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(ALGORITHMS[key.algorithm].hash, key.secret);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** `message` (whose ARCOUNT does not count the TSIG record yet) with a TSIG record for `key` appended. */
export function signRequest(message: Buffer, key: TsigKey, nowMs: number): SignedRequest {
  const timeSigned = Math.floor(nowMs / 1000);
  const mac = hmac(key, [message, variables(key, timeSigned, FUDGE_SECONDS, 0, Buffer.alloc(0))]);
  const id = message.readUInt16BE(0);
  const rdata = Buffer.concat([
    encodeName(ALGORITHMS[key.algorithm].wireName),
    u48(timeSigned),
    u16(FUDGE_SECONDS),
    u16(mac.length),
    mac,
    u16(id),
    u16(0),
    u16(0),
  ]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(DnsType.TSIG, 0);
  fixed.writeUInt16BE(DnsClass.ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const wire = Buffer.concat([message, encodeName(key.name), fixed, rdata]);
  wire.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { wire, mac };
}

interface TsigFields {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function readTsig(wire: Buffer, dataOffset: number, dataLength: number): TsigFields {
  const end = dataOffset + dataLength;
  const { name: algorithm, end: at } = decodeName(wire, dataOffset);
  const field = (offset: number, length: number): number => {
    if (offset + length > end) throw new Error('malformed TSIG record');
    return wire.readUIntBE(offset, length);
  };
  const timeSigned = field(at, 6);
  const fudge = field(at + 6, 2);
  const macSize = field(at + 8, 2);
  if (at + 10 + macSize > end) throw new Error('malformed TSIG record');
  const mac = wire.subarray(at + 10, at + 10 + macSize);
  const rest = at + 10 + macSize;
  const originalId = field(rest, 2);
  const error = field(rest + 2, 2);
  const otherLength = field(rest + 4, 2);
  if (rest + 6 + otherLength !== end) throw new Error('malformed TSIG record');
  return { algorithm, timeSigned, fudge, mac, originalId, error, other: wire.subarray(rest + 6, end) };
}

/** The TSIG error code of an answer's TSIG record (BADSIG, BADKEY, BADTIME, ...), 0 when none or no record. */
export function tsigErrorOf(wire: Buffer, message: DecodedMessage): number {
  const last = message.additionals.at(-1);
  if (last === undefined || last.type !== DnsType.TSIG) return 0;
  try {
    return readTsig(wire, last.dataOffset, last.data.length).error;
  } catch {
    return 0;
  }
}

/**
 * Why the answer `wire` to a request signed with `requestMac` does not carry a valid TSIG of
 * `key` without a TSIG error (RFC 8945 section 5.3.2), or null when it does. This is the check
 * of an answer that reports success; a refusal's TSIG error is read with tsigErrorOf.
 */
export function responseTsigProblem(wire: Buffer, message: DecodedMessage, key: TsigKey, requestMac: Buffer, nowMs: number): string | null {
  const last = message.additionals.at(-1);
  if (last === undefined || last.type !== DnsType.TSIG) return 'the answer is not signed with TSIG';
  if (message.additionals.slice(0, -1).some((r) => r.type === DnsType.TSIG)) return 'the answer holds more than one TSIG record';
  let tsig: TsigFields;
  try {
    tsig = readTsig(wire, last.dataOffset, last.data.length);
  } catch (error) {
    return (error as Error).message;
  }
  if (last.name !== encodeNameText(key.name) || tsig.algorithm !== ALGORITHMS[key.algorithm].wireName) return 'the answer is signed with another key or algorithm';
  // A success carries no TSIG error. Servers send BADSIG and BADKEY unsigned (an empty MAC),
  // so believing such a record here would let an on-path attacker forge an unsigned success.
  if (tsig.error !== 0) return `the server answered with TSIG error ${rcodeName(tsig.error)}`;
  const unsigned = Buffer.from(wire.subarray(0, last.offset));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(message.additionals.length - 1, 10);
  const expected = hmac(key, [u16(requestMac.length), requestMac, unsigned, variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other)]);
  // A truncated MAC (RFC 8945 section 5.2.2.1) is not accepted: servers send the whole one.
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) return 'the answer\'s TSIG signature does not verify';
  // The server's fudge bounds the skew (RFC 8945 section 5.2.3), but never beyond our own:
  // a large fudge would let an old answer count for longer.
  if (Math.abs(Math.floor(nowMs / 1000) - tsig.timeSigned) > Math.min(tsig.fudge, FUDGE_SECONDS)) return 'the answer\'s TSIG time is outside the allowed clock skew';
  return null;
}

/** A key name as decodeName returns it: lower case, no trailing dot. */
function encodeNameText(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}
