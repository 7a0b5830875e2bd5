/**
 * Which issuer each site's hosts get, by Caddy's automatic HTTPS rules: `tls <cert> <key>`
 * files; else the internal CA for `tls internal`, global `local_certs`, and hosts no public CA
 * signs (localhost, IPs, .local, .internal, .home.arpa); else an ACME CA, over the DNS
 * challenge when the site or the global `acme_dns` names a DNS provider (and only then for a
 * wildcard: HTTP-01 and TLS-ALPN-01 cannot prove control of a whole domain).
 */
import { ErrorCodes, PortcullisError, type SourceLocation } from '../kernel/errors.ts';
import type { GlobalTlsOptions, TlsConfig } from '../config/types.ts';
import { DEFAULT_DNS_TTL_SECONDS, DEFAULT_PROPAGATION_TIMEOUT_MS } from '../config/index.ts';
import type { Dns01Settings } from './acme/dns-01.ts';
import { canonicalHost, isIpHost, isLocalHost } from './host-names.ts';

/** One site as the certificate manager sees it. */
export interface TlsSite {
  /** Site name for messages, and where it was written. */
  name: string;
  source: SourceLocation;
  /** Hosts needing a certificate: exact names, `*.example.com`, IPv4/IPv6 literals (no brackets), `localhost`. */
  hosts: string[];
  tls: TlsConfig | null;
}

export interface SitePlan {
  site: TlsSite;
  /** Canonical hosts (host-names.ts), deduplicated. */
  hosts: string[];
  issuer: 'files' | 'internal' | 'acme';
  /** ACME account email: the site's `tls <email>`, else the global `email`. */
  email?: string;
  /** ACME over the DNS challenge (the site's `tls { dns }`, else the global `acme_dns`); absent: HTTP-01 / TLS-ALPN-01. */
  dns?: Dns01Settings;
}

/**
 * A site whose certificates are obtained at handshake time (`tls { on_demand }`): for a name
 * it covers that has no certificate yet, the `on_demand_tls` ask endpoint is consulted and,
 * when it permits, a certificate is loaded from storage or issued.
 */
export interface OnDemandRule {
  site: TlsSite;
  /** Canonical exact names and `*.` patterns (one label deep); empty: any name (`https://`). */
  hosts: string[];
  /** `default`: the internal CA for local names (host-names.ts isLocalHost), ACME for others. */
  issuer: 'internal' | 'acme' | 'default';
  email?: string;
  /** The DNS challenge for names the ACME CA signs, as in SitePlan. */
  dns?: Dns01Settings;
}

/** A config error about a site, `file:line: tls: site X: message`. */
export function siteError(site: TlsSite, message: string, source: SourceLocation = site.source): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `site ${site.name}: ${message}`, { source, directive: 'tls' });
}

function canonicalHosts(site: TlsSite, errors: PortcullisError[]): string[] | null {
  const hosts = new Set<string>();
  let ok = true;
  for (const raw of site.hosts) {
    const host = canonicalHost(raw);
    if (host === null) {
      errors.push(siteError(site, `${JSON.stringify(raw)} is not a host name or IP address a certificate can name`));
      ok = false;
    } else hosts.add(host);
  }
  return ok ? [...hosts] : null;
}

/**
 * The site's DNS challenge: its `tls { dns }` provider, else the global `acme_dns`, with the
 * site's propagation settings over the defaults; null when neither names a provider. The
 * site's propagation settings without any provider are an error: false after reporting it.
 */
export function dnsChallengeFor(site: TlsSite, global: GlobalTlsOptions, errors: PortcullisError[]): Dns01Settings | null | false {
  const own = site.tls?.dns;
  const provider = own?.provider ?? global.acmeDns;
  if (provider === undefined) {
    if (own === undefined) return null;
    errors.push(siteError(site, 'the DNS challenge options need a DNS provider: add `dns rfc2136 { ... }` to this tls block or set the global acme_dns option', own.source));
    return false;
  }
  return {
    provider: provider.provider,
    server: provider.server,
    keyName: provider.keyName,
    keyAlgorithm: provider.keyAlg,
    keySecret: provider.key,
    propagationDelayMs: own?.propagationDelayMs ?? 0,
    propagationTimeoutMs: own?.propagationTimeoutMs ?? DEFAULT_PROPAGATION_TIMEOUT_MS,
    resolvers: own?.resolvers ?? [],
    ttlSeconds: own?.ttlSeconds ?? DEFAULT_DNS_TTL_SECONDS,
    overrideDomain: own?.overrideDomain ?? null,
  };
}

/** The on-demand rule for a `tls { on_demand }` site, or null after reporting why it cannot have one. */
function onDemandRule(site: TlsSite, hosts: string[], global: GlobalTlsOptions, errors: PortcullisError[]): OnDemandRule | null {
  const tls = site.tls!;
  const where = tls.onDemand!.source;
  if (global.onDemand === undefined) {
    // Caddy 2.7: without a permission check any name a client sends would be ordered (CA rate limits, disk, abuse).
    errors.push(siteError(site, 'on_demand needs the global option on_demand_tls { ask <url> }, which permits each name before a certificate is obtained', where));
    return null;
  }
  if (tls.clientAuth !== undefined) {
    errors.push(siteError(site, 'on_demand cannot be combined with client_auth (client authentication is chosen per name, before a certificate is obtained)', where));
    return null;
  }
  if (hosts.some(isIpHost)) {
    errors.push(siteError(site, 'on_demand certificates are for names clients send in SNI; an IP address cannot get one', where));
    return null;
  }
  const issuer = tls.mode === 'internal' || (global.localCerts && tls.mode !== 'acme') ? 'internal' : tls.mode === 'acme' ? 'acme' : 'default';
  const email = tls.email ?? global.email;
  const dns = issuer === 'internal' ? null : dnsChallengeFor(site, global, errors);
  if (dns === false) return null;
  return { site, hosts, issuer, ...(email ? { email } : {}), ...(dns === null ? {} : { dns }) };
}

/**
 * Plans every site; sites that cannot get a certificate add an entry to `errors` instead.
 * `tls { on_demand }` sites get no plan: their rule goes to `onDemand` when it is given.
 */
export function planSites(sites: TlsSite[], global: GlobalTlsOptions, errors: PortcullisError[], onDemand: OnDemandRule[] = []): SitePlan[] {
  const plans: SitePlan[] = [];
  for (const site of sites) {
    if (site.tls?.onDemand !== undefined) {
      const hosts = canonicalHosts(site, errors);
      const rule = hosts === null ? null : onDemandRule(site, hosts, global, errors);
      if (rule !== null) onDemand.push(rule);
      continue;
    }
    const hosts = canonicalHosts(site, errors);
    if (hosts === null) continue;
    if (hosts.length === 0) {
      // Client certificates are asked for by the name a client sends: a site without names
      // (`:443`, `https://`) would never ask, and every request would pass unchecked.
      if (site.tls?.clientAuth !== undefined) {
        errors.push(siteError(site, 'client_auth needs a site with host names (client certificates are asked for by the name a client connects to); name the hosts in the site address', site.tls.clientAuth.source));
      }
      continue;
    }
    const mode = site.tls?.mode ?? 'default';
    if (mode === 'files') {
      plans.push({ site, hosts, issuer: 'files' });
      continue;
    }
    // `local_certs` changes the default only; an explicit `tls <email>` still asks the ACME CA.
    if (mode === 'internal' || (global.localCerts && mode !== 'acme')) {
      plans.push({ site, hosts, issuer: 'internal' });
      continue;
    }
    const explicitAcme = mode === 'acme';
    // Caddy decides per name: local names get the internal CA even in a site with public ones.
    const local = explicitAcme ? [] : hosts.filter(isLocalHost);
    const publicHosts = explicitAcme ? hosts : hosts.filter((h) => !isLocalHost(h));
    if (local.length > 0) plans.push({ site, hosts: local, issuer: 'internal' });
    if (publicHosts.length === 0) continue;
    const dns = dnsChallengeFor(site, global, errors);
    if (dns === false) continue;
    const wildcards = publicHosts.filter((h) => h.startsWith('*.'));
    if (wildcards.length > 0 && dns === null) {
      errors.push(
        siteError(
          site,
          `an ACME wildcard certificate (${wildcards.join(', ')}) needs the DNS challenge (DNS-01), and no DNS provider is configured: add \`dns rfc2136 { ... }\` to the site's tls block or set the global acme_dns option; or use \`tls internal\` or \`tls <cert> <key>\``,
          site.tls?.source ?? site.source,
        ),
      );
      continue;
    }
    const email = site.tls?.email ?? global.email;
    plans.push({ site, hosts: publicHosts, issuer: 'acme', ...(email ? { email } : {}), ...(dns === null ? {} : { dns }) });
  }
  return plans;
}
