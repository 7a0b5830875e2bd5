/**
 * Site addresses (`example.com`, `:8080`, `http://host:port`, `https://*.example.com`,
 * `[::1]:8080`, `example.com/api/*`), parsed as Caddy's ParseAddress does, and the checks Caddy
 * makes on them: known scheme, port in range, scheme and port not contradicting each other, and
 * no address served by two sites.
 */
import type { Token } from './ast.ts';
import type { SiteAddress } from './types.ts';
import type { SourceLocation } from '../kernel/errors.ts';
import { parseIp } from '../kernel/ip-ranges.ts';
import type { Dispenser } from './dispenser.ts';

const HOST_LABEL = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)$/;

/** Parses one site key; null (after reporting) when it is not a usable address. */
export function parseSiteAddress(token: Token, disp: Dispenser): SiteAddress | null {
  const original = token.text.trim();
  let rest = original;
  let scheme = '';
  const sep = rest.indexOf('://');
  if (sep !== -1) {
    scheme = rest.slice(0, sep).toLowerCase();
    rest = rest.slice(sep + 3);
  }
  if (scheme === 'ws' || scheme === 'wss') {
    disp.error(token, `${original}: the scheme ${scheme}:// is only for browsers; use ${scheme === 'ws' ? 'http' : 'https'}:// instead`);
    return null;
  }
  if (scheme !== '' && scheme !== 'http' && scheme !== 'https') {
    disp.error(token, `${original}: unsupported scheme ${scheme}:// (use http:// or https://)`);
    return null;
  }
  const slash = rest.indexOf('/');
  const hostport = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const split = splitHostPort(hostport);
  if (split === null) {
    disp.error(token, `${original}: malformed host:port`);
    return null;
  }
  let port: number | null = null;
  if (split.port !== '') {
    if (!/^\d{1,5}$/.test(split.port) || Number(split.port) > 65535) {
      disp.error(token, `${original}: invalid port ${JSON.stringify(split.port)} (expected 0 to 65535)`);
      return null;
    }
    port = Number(split.port);
  }
  const host = split.host.toLowerCase();
  if (host !== '' && !validHost(host, split.bracketed)) {
    disp.error(token, `${original}: ${JSON.stringify(split.host)} is not a valid host name or IP address`);
    return null;
  }
  if (path !== '' && /[\s?#]/.test(path)) {
    disp.error(token, `${original}: a site path may not contain spaces, ? or #`);
    return null;
  }
  return { original, scheme: scheme as SiteAddress['scheme'], host, port, path };
}

function splitHostPort(s: string): { host: string; port: string; bracketed: boolean } | null {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end === -1) return null;
    const after = s.slice(end + 1);
    if (after !== '' && !after.startsWith(':')) return null;
    return { host: s.slice(1, end), port: after.slice(1), bracketed: true };
  }
  const colons = s.split(':').length - 1;
  // A bare IPv6 address (more than one colon, no brackets) has no port, as in Caddy.
  if (colons > 1) return { host: s, port: '', bracketed: false };
  const i = s.lastIndexOf(':');
  if (i === -1) return { host: s, port: '', bracketed: false };
  return { host: s.slice(0, i), port: s.slice(i + 1), bracketed: false };
}

function validHost(host: string, bracketed: boolean): boolean {
  if (bracketed || host.includes(':')) return parseIp(host) !== null;
  if (/^[\d.]+$/.test(host)) return parseIp(host) !== null;
  if (host.length > 253) return false;
  return host.split('.').every((label) => label.length <= 63 && HOST_LABEL.test(label));
}

/** The port a site listens on: its own, else the HTTP port for http://, else the HTTPS port. */
export function effectivePort(address: SiteAddress, httpPort: number, httpsPort: number): number {
  if (address.port !== null) return address.port;
  return address.scheme === 'http' ? httpPort : httpsPort;
}

/** Caddy rejects `http://x:443` and `https://x:80` (with the configured ports). */
export function checkSchemePort(address: SiteAddress, httpPort: number, httpsPort: number): string | null {
  if (address.port === null) return null;
  if ((address.scheme === 'http' && address.port === httpsPort) || (address.scheme === 'https' && address.port === httpPort)) {
    return `${address.original}: scheme and port contradict each other (${address.scheme}:// on the ${address.scheme === 'http' ? 'HTTPS' : 'HTTP'} port ${address.port})`;
  }
  return null;
}

/** The path prefix a site address covers: its path up to the first `*` (`/api/*` -> `/api/`). */
export function pathPrefix(path: string): string {
  const star = path.indexOf('*');
  return star === -1 ? path : path.slice(0, star);
}

export interface AddressUse {
  address: SiteAddress;
  source: SourceLocation;
}

/**
 * Reports every address served twice (same host, listening port and path), naming both places;
 * two sites for one address would leave it ambiguous which one answers.
 */
export function checkDuplicateAddresses(uses: readonly AddressUse[], httpPort: number, httpsPort: number, disp: Dispenser): void {
  const seen = new Map<string, AddressUse>();
  for (const use of uses) {
    const a = use.address;
    const key = `${a.host}\n${effectivePort(a, httpPort, httpsPort)}\n${a.path.toLowerCase()}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, use);
      continue;
    }
    const same = first.source.file === use.source.file && first.source.line === use.source.line;
    disp.error(
      use.source,
      same
        ? `${a.original}: the address is listed twice (as ${first.address.original})`
        : `${a.original}: the address is already served by the site at ${first.source.file}:${first.source.line} (${first.address.original})`,
    );
  }
}
