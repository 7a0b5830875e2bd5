/**
 * Which issuer each site's hosts get, by Caddy's automatic HTTPS rules: `tls <cert> <key>`
 * files; else the internal CA for `tls internal`, global `local_certs`, and hosts no public CA
 * signs (localhost, IPs, .local, .internal, .home.arpa); else an ACME CA.
 */
import { ErrorCodes, PortcullisError, type SourceLocation } from '../kernel/errors.ts';
import type { GlobalTlsOptions, TlsConfig } from '../config/types.ts';
import { canonicalHost, isLocalHost } from './host-names.ts';

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
  issuer: 'files' | 'internal';
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

/** Plans every site; sites that cannot get a certificate add an entry to `errors` instead. */
export function planSites(sites: TlsSite[], global: GlobalTlsOptions, errors: PortcullisError[]): SitePlan[] {
  const plans: SitePlan[] = [];
  for (const site of sites) {
    const hosts = canonicalHosts(site, errors);
    if (hosts === null || hosts.length === 0) continue;
    const mode = site.tls?.mode ?? 'default';
    if (mode === 'files') {
      plans.push({ site, hosts, issuer: 'files' });
      continue;
    }
    if (mode === 'internal' || global.localCerts) {
      plans.push({ site, hosts, issuer: 'internal' });
      continue;
    }
    if (hosts.every(isLocalHost)) {
      plans.push({ site, hosts, issuer: 'internal' });
      continue;
    }
    errors.push(
      siteError(site, 'automatic certificates from an ACME CA are not available yet; add `tls internal` or `tls <cert> <key>`'),
    );
  }
  return plans;
}
