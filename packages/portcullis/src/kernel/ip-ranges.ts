/**
 * CIDR ranges compiled into a fast membership test, for the `remote_ip` / `client_ip` matchers,
 * `trusted_proxies` and the guard's IP lists.
 *
 * Addresses are parsed strictly (as Go's netip does): IPv4 octets without leading zeros, since
 * `010.0.0.1` means 8.0.0.1 to inet_aton and 10.0.0.1 to others (the ambiguity behind
 * CVE-2021-29922 and friends); anything unparseable matches nothing.
 *
 * Families: an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a dual-stack Node socket
 * reports for IPv4 clients) is the IPv4 address it maps, and a range inside `::ffff:0:0/96` is
 * the IPv4 range it maps. Otherwise the families stay apart, as in Go's netip.Prefix.Contains:
 * `::/0` does not contain 192.0.2.1.
 */
import { ErrorCodes, PortcullisError } from './errors.ts';
import { hexDigitValue } from './hex.ts';

/** Caddy's `private_ranges` shorthand. */
export const PRIVATE_RANGES: readonly string[] = ['192.168.0.0/16', '172.16.0.0/12', '10.0.0.0/8', '127.0.0.1/8', 'fd00::/8', '::1'];

/** A parsed address: IPv4 as one unsigned 32-bit number, IPv6 as four 32-bit words. */
export type ParsedIp = { v4: number; zone: string } | { v6: Uint32Array; zone: string };

interface Ipv4Range {
  kind: 'v4';
  net: number;
  mask: number;
}

interface Ipv6Range {
  kind: 'v6';
  net: Uint32Array;
  mask: Uint32Array;
  zone: string;
}

/**
 * Compiles ranges (CIDR or single address, IPv4 or IPv6, or `private_ranges`) into a test
 * `ip => boolean`. Throws PortcullisError ERR_CONFIG_INVALID on a malformed range.
 */
export function compileIpRanges(ranges: string[]): (ip: string) => boolean {
  const v4: Ipv4Range[] = [];
  const v6: Ipv6Range[] = [];
  for (const range of expandShorthands(ranges)) {
    const parsed = parseRange(range);
    if (parsed === null) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `invalid IP range '${range}'`);
    if (parsed.kind === 'v4') v4.push(parsed);
    else v6.push(parsed);
  }
  const v4net = Uint32Array.from(v4, (r) => r.net);
  const v4mask = Uint32Array.from(v4, (r) => r.mask);
  return (ip: string) => {
    const addr = parseIp(ip);
    if (addr === null) return false;
    if ('v4' in addr) {
      const a = addr.v4;
      for (let i = 0; i < v4net.length; i++) if (((a & v4mask[i]!) >>> 0) === v4net[i]) return true;
      return false;
    }
    for (const r of v6) if (containsV6(r, addr.v6, addr.zone)) return true;
    return false;
  };
}

function expandShorthands(ranges: string[]): string[] {
  const out: string[] = [];
  for (const r of ranges) {
    if (r === 'private_ranges') out.push(...PRIVATE_RANGES);
    else out.push(r.trim());
  }
  return out;
}

function containsV6(r: Ipv6Range, a: Uint32Array, zone: string): boolean {
  if (r.zone !== '' && zone !== '' && r.zone !== zone) return false;
  for (let w = 0; w < 4; w++) if (((a[w]! & r.mask[w]!) >>> 0) !== r.net[w]) return false;
  return true;
}

/** Parses `addr` or `addr/bits` into a range, mapping `::ffff:a.b.c.d/n` (n >= 96) to IPv4. */
function parseRange(range: string): Ipv4Range | Ipv6Range | null {
  const slash = range.indexOf('/');
  const addrPart = slash === -1 ? range : range.slice(0, slash);
  const addr = parseIpKeepMapped(addrPart);
  if (addr === null) return null;
  const max = 'v4' in addr ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const b = range.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(b)) return null;
    bits = Number(b);
    if (bits > max) return null;
  }
  if ('v4' in addr) return v4Range(addr.v4, bits);
  const w = addr.v6;
  if (bits >= 96 && w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return v4Range(w[3]!, bits - 96);
  const mask = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const inWord = Math.max(0, Math.min(32, bits - i * 32));
    mask[i] = inWord === 0 ? 0 : (0xffffffff << (32 - inWord)) >>> 0;
  }
  const net = new Uint32Array(4);
  for (let i = 0; i < 4; i++) net[i] = (w[i]! & mask[i]!) >>> 0;
  return { kind: 'v6', net, mask, zone: addr.zone };
}

function v4Range(ip: number, bits: number): Ipv4Range {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { kind: 'v4', net: (ip & mask) >>> 0, mask };
}

/**
 * Parses an address (IPv4, IPv6, optional `%zone`, optional brackets), with IPv4-mapped IPv6
 * returned as IPv4. Null when it is not a valid address.
 */
export function parseIp(input: string): ParsedIp | null {
  const addr = parseIpKeepMapped(input);
  if (addr === null || 'v4' in addr) return addr;
  const w = addr.v6;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return { v4: w[3]!, zone: '' };
  return addr;
}

function parseIpKeepMapped(input: string): ParsedIp | null {
  let s = input;
  if (s.charCodeAt(0) === 91 /* [ */ && s.charCodeAt(s.length - 1) === 93 /* ] */) s = s.slice(1, -1);
  if (s.indexOf(':') === -1) {
    const v4 = parseIpv4(s);
    return v4 === -1 ? null : { v4, zone: '' };
  }
  let zone = '';
  const pct = s.indexOf('%');
  if (pct !== -1) {
    zone = s.slice(pct + 1);
    if (zone === '') return null;
    s = s.slice(0, pct);
  }
  const v6 = parseIpv6(s);
  return v6 === null ? null : { v6, zone };
}

/** Dotted quad to an unsigned 32-bit number; -1 when invalid (leading zeros are invalid). */
export function parseIpv4(s: string): number {
  let value = 0;
  let octets = 0;
  let i = 0;
  const n = s.length;
  while (octets < 4) {
    const start = i;
    let octet = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      octet = octet * 10 + (c - 48);
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || octet > 255) return -1;
    if (len > 1 && s.charCodeAt(start) === 48) return -1;
    value = value * 256 + octet;
    octets++;
    if (octets < 4) {
      if (s.charCodeAt(i) !== 46 /* . */) return -1;
      i++;
    }
  }
  return i === n ? value : -1;
}

/** IPv6 text (RFC 4291 section 2.2, without zone) to four 32-bit words; null when invalid. */
export function parseIpv6(s: string): Uint32Array | null {
  const groups: number[] = [];
  let ellipsis = -1;
  let i = 0;
  const n = s.length;
  if (n < 2) return null;
  if (s.startsWith('::')) {
    ellipsis = 0;
    i = 2;
    if (i === n) return new Uint32Array(4);
  } else if (s.charCodeAt(0) === 58) {
    return null;
  }
  while (i < n) {
    if (groups.length >= 8) return null;
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) counts for the last two groups.
    const rest = s.slice(i);
    const colon = rest.indexOf(':');
    if (colon === -1 && rest.indexOf('.') !== -1) {
      if (groups.length > 6) return null;
      const v4 = parseIpv4(rest);
      if (v4 === -1) return null;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      i = n;
      break;
    }
    let value = 0;
    const start = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      const d = hexDigitValue(c);
      if (d === -1) break;
      value = value * 16 + d;
      i++;
    }
    if (i - start === 0 || i - start > 4) return null;
    groups.push(value);
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return null;
    i++;
    if (s.charCodeAt(i) === 58) {
      if (ellipsis !== -1) return null;
      ellipsis = groups.length;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return null; // trailing single colon
    }
  }
  if (ellipsis === -1) {
    if (groups.length !== 8) return null;
  } else {
    // `::` stands for at least one zero group (Go's netip rejects it with 8 groups present).
    if (groups.length > 7) return null;
    const zeros = new Array<number>(8 - groups.length).fill(0);
    groups.splice(ellipsis, 0, ...zeros);
  }
  const out = new Uint32Array(4);
  for (let w = 0; w < 4; w++) out[w] = ((groups[w * 2]! << 16) | groups[w * 2 + 1]!) >>> 0;
  return out;
}
