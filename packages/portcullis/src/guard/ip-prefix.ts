/**
 * An address or CIDR block as the guard keys it: IPv4 as one number, IPv6 as four 32-bit
 * words, host bits cleared, and an IPv4-mapped IPv6 prefix (`::ffff:10.0.0.0/104`) as the
 * IPv4 prefix it maps (`10.0.0.0/8`), so a ban reads the same whichever way the address
 * reached us (a dual-stack socket reports IPv4 clients as `::ffff:a.b.c.d`).
 */
import { parseIpv4, parseIpv6 } from '../kernel/ip-ranges.ts';
import { formatIpv6 } from './client-ip.ts';

export type IpPrefix = { family: 4; net: number; bits: number } | { family: 6; net: Uint32Array; bits: number };

/** `/0`..`/128`, no leading zeros (a `/08` could be read as octal somewhere else). */
const BITS = /^(0|[1-9][0-9]{0,2})$/;

/** The IPv4 netmask of each prefix length. */
export const V4_MASKS: readonly number[] = Array.from({ length: 33 }, (_, bits) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0));

/** The mask of IPv6 word `word` (0..3) for a prefix length. */
export function v6WordMask(bits: number, word: number): number {
  const inWord = Math.max(0, Math.min(32, bits - word * 32));
  return inWord === 0 ? 0 : (0xffffffff << (32 - inWord)) >>> 0;
}

/**
 * Parses `addr` or `addr/bits`: strict IPv4 (no leading zeros) or IPv6 text, no zone, no
 * brackets, no surrounding space. Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
 * Null when it is not an address or prefix.
 */
export function parseIpPrefix(text: string): IpPrefix | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const bitsText = slash === -1 ? null : text.slice(slash + 1);
  if (bitsText !== null && !BITS.test(bitsText)) return null;
  if (address.indexOf(':') === -1) {
    const v4 = parseIpv4(address);
    const bits = bitsText === null ? 32 : Number(bitsText);
    if (v4 === -1 || bits > 32) return null;
    return { family: 4, net: (v4 & V4_MASKS[bits]!) >>> 0, bits };
  }
  // parseIpv6 refuses `%zone` and brackets: a decision is about a remote address, never a link.
  const words = parseIpv6(address);
  const bits = bitsText === null ? 128 : Number(bitsText);
  if (words === null || bits > 128) return null;
  if (bits >= 96 && words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    return { family: 4, net: (words[3]! & V4_MASKS[bits - 96]!) >>> 0, bits: bits - 96 };
  }
  const net = new Uint32Array(4);
  for (let i = 0; i < 4; i++) net[i] = (words[i]! & v6WordMask(bits, i)) >>> 0;
  return { family: 6, net, bits };
}

/** Canonical text: the address alone for a single address, else `network/bits`. */
export function formatIpPrefix(prefix: IpPrefix): string {
  const single = prefix.bits === (prefix.family === 4 ? 32 : 128);
  // An IPv6 network in the IPv4-mapped space has bits >= 96 and was made IPv4 by the parser,
  // so formatIpv6's dotted form for mapped addresses never names a wider IPv6 network.
  const address = prefix.family === 4 ? dotted(prefix.net) : formatIpv6(prefix.net);
  return single ? address : `${address}/${prefix.bits}`;
}

/**
 * An IPv4 address as a signed 32-bit number, or null when `ip` is not one in dotted form: a
 * small integer to V8, so a Map keyed by it hashes no string (each request's address is a
 * fresh string) and holds no string per client.
 */
export function ipv4Key(ip: string): number | null {
  const a = ip.indexOf(':') === -1 ? parseIpv4(ip) : -1;
  return a === -1 ? null : a | 0;
}

/** Whether the prefix is one address. */
export function isSingleAddress(prefix: IpPrefix): boolean {
  return prefix.bits === (prefix.family === 4 ? 32 : 128);
}

function dotted(v4: number): string {
  return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
}
