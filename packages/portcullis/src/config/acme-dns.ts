/**
 * The ACME DNS challenge in Caddy's spelling: the global `acme_dns rfc2136 { ... }`, and in a
 * site's `tls` block `dns rfc2136 { ... }`, `propagation_delay`, `propagation_timeout`,
 * `resolvers`, `dns_ttl` and `dns_challenge_override_domain`. The one provider is caddy-dns/
 * rfc2136's (RFC 2136 dynamic updates signed with TSIG), so a Caddyfile written for it loads
 * unchanged. The checks are shared with the JSON reader, so both refuse the same values.
 */
import type { Directive, Token } from './ast.ts';
import type { AcmeDnsProviderConfig, TlsConfig, TlsDnsChallengeConfig } from './types.ts';
import { argCount, durationArg, eachSubdirective, noBlock, singleArg, where, type Dispenser } from './dispenser.ts';
import { parseIp } from '../kernel/ip-ranges.ts';
import { isDnsName } from '../kernel/dns-names.ts';

/** DNS providers this build has; Caddy's other provider modules are refused by name. */
export const DNS_PROVIDERS = ['rfc2136'] as const;
/** TSIG algorithms for `key_alg` (RFC 8945 section 6); SHA-256 is the default, as tsig-keygen's. */
export const TSIG_KEY_ALGORITHMS = ['hmac-sha256', 'hmac-sha512', 'hmac-sha1', 'hmac-md5'] as const;
/** Caddy's default for propagation_timeout (also what 0 means); -1 turns the check off. */
export const DEFAULT_PROPAGATION_TIMEOUT_MS = 120_000;
export const DEFAULT_DNS_TTL_SECONDS = 120;
/** Longest propagation wait accepted: an order holds its lock (and the CA's authorization ages) meanwhile. */
export const MAX_PROPAGATION_MS = 60 * 60 * 1000;
export const MAX_TTL_SECONDS = 24 * 60 * 60;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** `name` lower-cased without its trailing dot when it is a DNS name of letters, digits, `-` and `_`; else null. */
export function dnsName(text: string): string | null {
  const name = (text.endsWith('.') ? text.slice(0, -1) : text).toLowerCase();
  return isDnsName(name) ? name : null;
}

/** `host:port` (`[v6]:port` for IPv6) split, the port 1-65535; null when it is not that. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (m[1] !== undefined) return parseIp(m[1]) !== null && m[1].includes(':') ? { host: m[1], port } : null;
  const host = m[2]!;
  return parseIp(host) !== null || dnsName(host) !== null ? { host: host.toLowerCase(), port } : null;
}

/** Why `text` cannot be a TSIG key name, or null. */
export function dnsKeyNameProblem(text: string): string | null {
  return dnsName(text) === null ? `${JSON.stringify(text)} is not a key name (a DNS name such as portcullis-key or acme.example.com)` : null;
}

/** Why `text` cannot be a TSIG secret; the secret itself never goes into the message (logs, CI output). */
export function dnsKeyProblem(text: string): string | null {
  if (text === '') return 'the key is empty';
  const bare = text.replace(/=+$/, '');
  if (!BASE64.test(text) || bare.length % 4 === 1) return 'the key must be the base64 secret from the server\'s key statement (tsig-keygen prints it)';
  return null;
}

/** Why `text` cannot be the DNS server to update, or null. */
export function dnsServerProblem(text: string): string | null {
  return parseHostPort(text) === null ? `${JSON.stringify(text)} is not host:port (for example 127.0.0.1:53, [::1]:53 or ns1.example.com:53)` : null;
}

/**
 * A `resolvers` entry as node:dns takes it (`ip:port`, `[v6]:port`; port 53 when none is
 * given), or null: resolvers are addresses, since looking one up would need a resolver.
 */
export function resolverAddress(text: string): string | null {
  const withPort = parseHostPort(text);
  if (withPort !== null) return parseIp(withPort.host) === null ? null : withPort.host.includes(':') ? `[${withPort.host}]:${withPort.port}` : `${withPort.host}:${withPort.port}`;
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (parseIp(bare) === null) return null;
  return bare.includes(':') ? `[${bare}]:53` : `${bare}:53`;
}

/** Why `text` cannot be the domain the challenge record is delegated to, or null. */
export function overrideDomainProblem(text: string): string | null {
  return dnsName(text) === null || parseIp(text) !== null ? `${JSON.stringify(text)} is not a domain name` : null;
}

function providerName(disp: Dispenser, t: Token): 'rfc2136' | null {
  if ((DNS_PROVIDERS as readonly string[]).includes(t.text)) return t.text as 'rfc2136';
  disp.error(t, `DNS provider ${JSON.stringify(t.text)} is not supported; the supported one is rfc2136 (RFC 2136 dynamic updates signed with TSIG, as BIND, Knot and PowerDNS accept them)`);
  return null;
}

/**
 * `<name> rfc2136 { key_name ...; key_alg ...; key ...; server ... }` (the global `acme_dns`
 * or the site's `dns`); null after reporting what is wrong.
 */
export function parseDnsProvider(d: Directive, disp: Dispenser): AcmeDnsProviderConfig | null {
  const usage = `${d.name} rfc2136 { key_name <name>; key_alg <algorithm>; key <base64_secret>; server <host:port> }`;
  if (!argCount(disp, d, d.args, 1, 1, usage)) return null;
  const provider = providerName(disp, d.args[0]!);
  if (provider === null) return null;
  // `acme_dns: key is missing`, but `tls: dns: key is missing` inside a site's tls block.
  const label = d.name === disp.directive ? '' : `${d.name}: `;
  if (d.block === null) {
    disp.error(d, `${label}expected a block: ${usage}`);
    return null;
  }
  const before = disp.errors.errors.length;
  const seen = new Map<string, Directive>();
  const value = (sub: Directive, usageLine: string, problem: (text: string) => string | null): string | null => {
    const t = singleArg(disp, sub, usageLine);
    if (t === null) return null;
    const first = seen.get(sub.name);
    if (first !== undefined) {
      disp.error(sub, `${label}${sub.name} is given twice (first at ${first.source.file}:${first.source.line})`);
      return null;
    }
    seen.set(sub.name, sub);
    const found = problem(t.text);
    if (found !== null) disp.error(t, `${label}${sub.name}: ${found}`);
    return found === null ? t.text : null;
  };
  let keyName: string | null = null;
  let keyAlg: AcmeDnsProviderConfig['keyAlg'] = 'hmac-sha256';
  let key: string | null = null;
  let server: string | null = null;
  eachSubdirective(disp, d, {
    key_name: (sub) => {
      const text = value(sub, 'key_name <name>', dnsKeyNameProblem);
      if (text !== null) keyName = dnsName(text);
    },
    key_alg: (sub) => {
      const text = value(sub, `key_alg ${TSIG_KEY_ALGORITHMS.join('|')}`, keyAlgorithmProblem);
      if (text !== null) keyAlg = keyAlgorithm(text)!;
    },
    key: (sub) => {
      key = value(sub, 'key <base64_secret>', dnsKeyProblem);
    },
    server: (sub) => {
      const text = value(sub, 'server <host:port>', dnsServerProblem);
      if (text !== null) server = text.toLowerCase();
    },
  });
  for (const [name, what] of [
    ['key_name', 'the name of the TSIG key the server allows to update the zone'],
    ['key', 'the base64 TSIG secret'],
    ['server', 'the host:port of the DNS server that takes the updates'],
  ] as const) {
    if (!seen.has(name) && !d.block.some((sub) => sub.name === name)) disp.error(d, `${label}${name} is missing (${what})`);
  }
  if (disp.errors.errors.length !== before || keyName === null || key === null || server === null) return null;
  return { provider, keyName, keyAlg, key, server, source: where(d) };
}

/** The canonical `key_alg` (case and a trailing dot forgiven, as BIND does), or null. */
export function keyAlgorithm(text: string): AcmeDnsProviderConfig['keyAlg'] | null {
  const name = (text.endsWith('.') ? text.slice(0, -1) : text).toLowerCase();
  const canonical = name === 'hmac-md5.sig-alg.reg.int' ? 'hmac-md5' : name;
  return (TSIG_KEY_ALGORITHMS as readonly string[]).includes(canonical) ? (canonical as AcmeDnsProviderConfig['keyAlg']) : null;
}

function keyAlgorithmProblem(text: string): string | null {
  return keyAlgorithm(text) === null ? `unsupported algorithm ${JSON.stringify(text)} (expected ${TSIG_KEY_ALGORITHMS.join(', ')})` : null;
}

/** `propagation_timeout` accepts -1 (no propagation check) and 0 (the default), as Caddy does. */
function propagationTimeout(disp: Dispenser, t: Token): number | null {
  if (t.text === '-1') return -1;
  const ms = durationArg(disp, t, 'propagation_timeout');
  if (ms === null) return null;
  // certmagic's DNSManager waits its 2-minute default when the timeout is 0; taken literally,
  // a Caddyfile written for Caddy would check once and fail the order.
  if (ms === 0) return DEFAULT_PROPAGATION_TIMEOUT_MS;
  if (ms > MAX_PROPAGATION_MS) {
    disp.error(t, 'propagation_timeout: at most 1h (or -1 for no propagation check)');
    return null;
  }
  return ms;
}

function propagationDelay(disp: Dispenser, t: Token): number | null {
  const ms = durationArg(disp, t, 'propagation_delay');
  if (ms === null) return null;
  if (ms > MAX_PROPAGATION_MS) {
    disp.error(t, 'propagation_delay: at most 1h');
    return null;
  }
  return ms;
}

function dnsTtl(disp: Dispenser, t: Token): number | null {
  const ms = durationArg(disp, t, 'dns_ttl');
  if (ms === null) return null;
  // A record's TTL is whole seconds (RFC 1035 section 3.2.1); a fraction would be silently cut.
  if (ms % 1000 !== 0 || ms > MAX_TTL_SECONDS * 1000) {
    disp.error(t, 'dns_ttl: whole seconds, at most 24h (for example 60s or 2m)');
    return null;
  }
  return ms / 1000;
}

/** The site's `tls` subdirectives of the DNS challenge, by name. */
export const TLS_DNS_SUBDIRECTIVES = ['dns', 'propagation_delay', 'propagation_timeout', 'resolvers', 'dns_ttl', 'dns_challenge_override_domain'] as const;

/**
 * One DNS challenge line of a site's `tls` block, into `tls.dns`. Like `ca` and `eab` these are
 * ACME options: the tls adapter makes the site an ACME one, or refuses them beside `tls
 * internal` or a certificate file (directives/tls.ts settleMode).
 */
export function adaptTlsDnsSubdirective(sub: Directive, disp: Dispenser, tls: TlsConfig): void {
  const dns: TlsDnsChallengeConfig = (tls.dns ??= { source: where(sub) });
  const field = FIELDS[sub.name as (typeof TLS_DNS_SUBDIRECTIVES)[number]];
  if (dns[field] !== undefined) {
    disp.error(sub, `${sub.name} is given twice`);
    return;
  }
  switch (sub.name) {
    case 'dns': {
      const provider = parseDnsProvider(sub, disp);
      if (provider !== null) dns.provider = provider;
      return;
    }
    case 'resolvers': {
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'resolvers <ip[:port]>...')) return;
      const addresses: string[] = [];
      for (const t of sub.args) {
        const address = resolverAddress(t.text);
        if (address === null) disp.error(t, `resolvers: ${JSON.stringify(t.text)} is not an IP address with an optional port (for example 127.0.0.1:53 or [::1]:53)`);
        else addresses.push(address);
      }
      if (addresses.length === sub.args.length) dns.resolvers = addresses;
      return;
    }
    case 'dns_challenge_override_domain': {
      const t = singleArg(disp, sub, 'dns_challenge_override_domain <domain>');
      const problem = t === null ? null : overrideDomainProblem(t.text);
      if (t !== null && problem !== null) disp.error(t, `dns_challenge_override_domain: ${problem}`);
      else if (t !== null) dns.overrideDomain = dnsName(t.text)!;
      return;
    }
  }
  const t = singleArg(disp, sub, `${sub.name} <duration>`);
  if (t === null) return;
  const value = sub.name === 'propagation_delay' ? propagationDelay(disp, t) : sub.name === 'propagation_timeout' ? propagationTimeout(disp, t) : dnsTtl(disp, t);
  if (value !== null) dns[field as 'propagationDelayMs' | 'propagationTimeoutMs' | 'ttlSeconds'] = value;
}

const FIELDS = {
  dns: 'provider',
  propagation_delay: 'propagationDelayMs',
  propagation_timeout: 'propagationTimeoutMs',
  resolvers: 'resolvers',
  dns_ttl: 'ttlSeconds',
  dns_challenge_override_domain: 'overrideDomain',
} as const satisfies Record<(typeof TLS_DNS_SUBDIRECTIVES)[number], keyof TlsDnsChallengeConfig>;
