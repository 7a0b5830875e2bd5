/**
 * Host names as certificates know them: validated, lower-cased ASCII (IDNA), IP literals in one
 * canonical form. Everything a client or a config file sends goes through here before it is a
 * map key or a file name.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { isDnsName } from '../kernel/dns-names.ts';

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** A canonical IP literal (IPv4-mapped IPv6 as IPv4, IPv6 compressed lower-case), or null. */
export function canonicalIp(text: string): string | null {
  let ip = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const mapped = MAPPED_V4.exec(ip);
  if (mapped) ip = mapped[1]!;
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return null;
  // WHATWG URL host serialisation is RFC 5952's canonical text form.
  const canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!hexMapped) return canonical;
  const hi = parseInt(hexMapped[1]!, 16);
  const lo = parseInt(hexMapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * The canonical form of a host a certificate is wanted for: an IP literal, a DNS name, or a
 * `*.` wildcard over a DNS name. null when it is none of these (it must never reach a path).
 */
export function canonicalHost(raw: string): string | null {
  const ip = canonicalIp(raw);
  if (ip !== null) return ip;
  const wildcard = raw.startsWith('*.');
  const rest = wildcard ? raw.slice(2) : raw;
  const trimmed = rest.endsWith('.') ? rest.slice(0, -1) : rest;
  // Only name characters reach the IDNA conversion: the URL host parser behind it treats `\`,
  // `/`, `?`, `#`, `@` as delimiters and would quietly return part of the input.
  if (/[^A-Za-z0-9._\-\u0080-\uffff]/.test(trimmed)) return null;
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (!isDnsName(ascii)) return null;
  return wildcard ? `*.${ascii}` : ascii;
}

/** The name a client sent in SNI, canonicalised for lookup; null when it cannot be a host. */
export function canonicalServername(servername: string): string | null {
  if (servername.length === 0 || servername.length > 254 || servername.includes('*')) return null;
  const name = (servername.endsWith('.') ? servername.slice(0, -1) : servername).toLowerCase();
  return isDnsName(name) ? name : null;
}

/** The wildcard name that covers `name` one label deep (`a.b.c` -> `*.b.c`), or null. */
export function wildcardOf(name: string): string | null {
  const dot = name.indexOf('.');
  return dot > 0 && dot < name.length - 1 ? `*${name.slice(dot)}` : null;
}

export function isIpHost(host: string): boolean {
  return isIP(host) !== 0;
}

const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa'];

/**
 * Hosts no public CA will sign, so the internal CA does (Caddy's automatic HTTPS rules):
 * `localhost`, IP addresses, and names under localhost, .local, .internal, .home.arpa.
 */
export function isLocalHost(host: string): boolean {
  if (isIpHost(host)) return true;
  const name = host.startsWith('*.') ? host.slice(1) : host;
  if (name === 'localhost') return true;
  const dotted = name.startsWith('.') ? name : `.${name}`;
  return LOCAL_SUFFIXES.some((suffix) => dotted.endsWith(suffix));
}

/** A file-name-safe form of a canonical host (certmagic's layout: `*` becomes `wildcard_`). */
export function storageName(host: string): string {
  return host.replace('*', 'wildcard_').replaceAll(':', '_');
}
