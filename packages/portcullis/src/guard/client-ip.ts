/**
 * The client's address, resolved through trusted proxies: the one address logs, matchers,
 * bans and rate limits use.
 *
 * Caddy 2.7+'s `trusted_proxies` / `client_ip_headers` semantics with `trusted_proxies_strict`
 * (right to left), which here is the only mode: every proxy appends the address it received
 * the request from to the right of X-Forwarded-For, so only the right end was written by
 * proxies we trust; the left end is whatever the client sent. Reading left to right (Caddy's
 * default) lets any client behind a trusted proxy choose its own address.
 *
 * Fail closed: a header that cannot be read (garbage, an obfuscated RFC 7239 node, too many
 * hops) never makes an address the client named the client; the peer address counts instead.
 * Entries left of the first untrusted one are never read: the client wrote them, and junk
 * there must not turn the client into its (trusted) proxy either.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseIpv4, parseIpv6 } from '../kernel/ip-ranges.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';

/** The peer address (already plain: no zone, no `::ffff:` prefix) and the request headers to the client address. */
export type ClientIpResolver = (remoteIp: string, headers: IncomingHttpHeaders) => string;

export interface ClientIpOptions {
  /** Whether an address is a trusted proxy (the compiled `trusted_proxies` ranges). */
  trusted: (ip: string) => boolean;
  /** Caddy's `client_ip_headers`: the first one present (and not empty) is read. Default X-Forwarded-For. */
  headers?: readonly string[];
  /**
   * Caddy's `trusted_proxies_strict`: right-to-left parsing. It is the default and the only
   * mode offered: `false` is refused, since left-to-right parsing is spoofable.
   */
  strict?: boolean;
}

export const DEFAULT_CLIENT_IP_HEADERS: readonly string[] = ['X-Forwarded-For'];

/**
 * Headers that carry one address, set by the proxy in front (CDNs, nginx's realip setups):
 * two values or a list mean something is wrong, and the peer counts.
 */
const SINGLE_VALUE_HEADERS = new Set(['cf-connecting-ip', 'true-client-ip', 'x-real-ip', 'x-client-ip', 'fastly-client-ip']);

/** More proxies than this in one chain is not a deployment, it is a header someone padded. */
const MAX_HOPS = 32;

/** Longer than any address with a zone and port (`[ffff:...:255.255.255.255%eth0]:65535`). */
const MAX_ENTRY = 100;

/** Longer than any list entry with its spaces, or RFC 7239 element with `by`, `host` and `proto`. */
const MAX_ELEMENT = 1024;

type Kind = 'list' | 'single' | 'forwarded';

interface HeaderSource {
  name: string;
  kind: Kind;
}

/** RFC 9110 §5.1 field-name (a token). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Compiles the client-IP resolution. The returned function costs one range check when the
 * peer is not a trusted proxy, and reads no header then.
 */
export function createClientIpResolver(options: ClientIpOptions): ClientIpResolver {
  if (options.strict === false) {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, 'client IP: left-to-right parsing of forwarding headers is spoofable and not offered (trusted_proxies_strict is always on)');
  }
  const sources = compileSources(options.headers ?? DEFAULT_CLIENT_IP_HEADERS);
  const trusted = options.trusted;
  return (remoteIp, headers) => {
    if (!trusted(remoteIp)) return remoteIp;
    for (const source of sources) {
      const raw = headers[source.name];
      // Not `raw === undefined`: a configured name like `constructor` must not reach Object.prototype.
      const value = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join(', ') : '';
      if (value.trim() === '') continue;
      if (source.kind === 'single') return fromSingle(value, remoteIp);
      return fromList(value, source.kind === 'forwarded', trusted, remoteIp);
    }
    return remoteIp;
  };
}

function compileSources(names: readonly string[]): HeaderSource[] {
  const out: HeaderSource[] = [];
  for (const written of names) {
    const name = written.toLowerCase();
    if (!FIELD_NAME.test(name)) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `client_ip_headers: ${JSON.stringify(written)} is not a header name`);
    if (out.some((s) => s.name === name)) continue;
    out.push({ name, kind: name === 'forwarded' ? 'forwarded' : SINGLE_VALUE_HEADERS.has(name) ? 'single' : 'list' });
  }
  return out;
}

function fromSingle(value: string, peer: string): string {
  // Node joins repeated lines with ", ": a second value is as suspect as a list.
  if (value.indexOf(',') !== -1) return peer;
  return parseEntry(value.trim(), false) ?? peer;
}

/**
 * X-Forwarded-For (or Forwarded) from the right: trusted hops are skipped, the first untrusted
 * address is the client; when every hop is trusted, the leftmost is. Walks by index: no list
 * of all entries is built, however long the header is.
 */
function fromList(value: string, forwarded: boolean, trusted: (ip: string) => boolean, peer: string): string {
  let end = value.length;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const comma = end === 0 ? -1 : value.lastIndexOf(',', end - 1);
    const start = comma + 1;
    const ip = end - start > MAX_ELEMENT ? null : forwarded ? forwardedFor(value.slice(start, end)) : parseEntry(value.slice(start, end).trim(), false);
    if (ip === null) return peer;
    if (comma === -1 || !trusted(ip)) return ip;
    end = comma;
  }
  return peer;
}

/**
 * The `for=` node of one RFC 7239 forwarded-element (`for=192.0.2.60;proto=http`,
 * `for="[2001:db8:cafe::17]:4711"`), as an address; null when the element has no `for`, has
 * it twice (§4), or names no address (`unknown`, `_hidden`: §6.2, §6.3).
 */
function forwardedFor(element: string): string | null {
  let node: string | null = null;
  for (const part of element.split(';')) {
    const pair = part.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return null;
    // §4: parameter names are case-insensitive.
    if (pair.slice(0, eq).toLowerCase() !== 'for') continue;
    if (node !== null) return null;
    node = pair.slice(eq + 1);
  }
  if (node === null) return null;
  if (node.charCodeAt(0) === 34 /* " */) {
    if (node.length < 2 || node.charCodeAt(node.length - 1) !== 34) return null;
    // A quoted-pair (`\x`) is never part of an address: refuse rather than unescape.
    node = node.slice(1, -1);
    if (node.indexOf('\\') !== -1 || node.indexOf('"') !== -1) return null;
  } else if (!FIELD_NAME.test(node)) {
    // §6: an IPv6 node or one with a port is quoted; unquoted it is not a token.
    return null;
  }
  return parseEntry(node, true);
}

/**
 * One address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`,
 * `[2001:db8::1]:80`, with an optional IPv6 `%zone` (dropped). Returns the canonical text
 * (IPv4-mapped IPv6 as IPv4, IPv6 as RFC 5952 writes it, so one address is one key for bans
 * and rate limits), or null. In RFC 7239 nodes an IPv6 address must be bracketed (§6) and
 * an obfuscated port (`_port`, §6.3) is allowed.
 */
function parseEntry(entry: string, rfc7239: boolean): string | null {
  const n = entry.length;
  if (n === 0 || n > MAX_ENTRY) return null;
  let host = entry;
  if (entry.charCodeAt(0) === 91 /* [ */) {
    const close = entry.indexOf(']');
    if (close === -1 || (close + 1 < n && !isPort(entry, close + 1, rfc7239))) return null;
    host = entry.slice(1, close);
    if (host.indexOf(':') === -1) return null; // brackets are for IPv6 only
  } else {
    const colon = entry.indexOf(':');
    if (colon !== -1) {
      if (entry.indexOf(':', colon + 1) === -1) {
        // One colon: an IPv4 address with a port.
        if (!isPort(entry, colon, rfc7239)) return null;
        host = entry.slice(0, colon);
        return parseIpv4(host) === -1 ? null : host;
      }
      if (rfc7239) return null;
    }
  }
  return canonicalIp(host);
}

/** Whether entry[from..] is `:port` (1-65535 written plainly) or, in RFC 7239, `:_obfport`. */
function isPort(entry: string, from: number, rfc7239: boolean): boolean {
  const port = entry.slice(from);
  if (rfc7239 && /^:_[A-Za-z0-9._-]+$/.test(port)) return true;
  if (!/^:[1-9][0-9]{0,4}$/.test(port)) return false;
  return Number(port.slice(1)) <= 65535;
}

/** Canonical text of a bare address (an IPv6 `%zone` dropped), or null. */
function canonicalIp(host: string): string | null {
  if (host.indexOf(':') === -1) {
    // The kernel's parser is strict (no leading zeros), so accepted text is already canonical.
    return parseIpv4(host) === -1 ? null : host;
  }
  const pct = host.indexOf('%');
  if (pct !== -1) {
    if (pct === host.length - 1) return null;
    host = host.slice(0, pct);
  }
  const words = parseIpv6(host);
  return words === null ? null : formatIpv6(words);
}

function dotted(v4: number): string {
  return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
}

/**
 * RFC 5952 §4 text: lower-case, no leading zeros, the longest run of two or more zero groups
 * (the first of equal runs) as `::`. IPv4-mapped addresses become IPv4 (what a dual-stack
 * socket reports for an IPv4 peer); `::a.b.c.d` is kept dotted as Node prints it.
 */
export function formatIpv6(w: Uint32Array): string {
  if (w[0] === 0 && w[1] === 0) {
    if (w[2] === 0xffff) return dotted(w[3]!);
    if (w[2] === 0 && w[3]! >>> 16 !== 0) return `::${dotted(w[3]!)}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) groups.push(w[i]! >>> 16, w[i]! & 0xffff);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
