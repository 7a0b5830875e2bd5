/**
 * Which sockets a config listens on, and which sites each one serves. Caddy's rules decide the
 * scheme of an address: `http://` or a bare `:port` (no host to certify) is plain HTTP, the
 * HTTP port is plain HTTP, everything else with a host is HTTPS.
 */
import type { Config, SiteAddress, SiteConfig } from '../config/types.ts';
import { ErrorCodes, ErrorList } from '../kernel/errors.ts';

export interface ListenerPlan {
  /** `host:port` as given to net listen; host '' = every interface. */
  key: string;
  host: string;
  port: number;
  scheme: 'http' | 'https';
  /** Sites served here, each with the addresses that brought it here. */
  sites: { site: SiteConfig; addresses: SiteAddress[] }[];
}

export function schemeOf(address: SiteAddress, config: Config): 'http' | 'https' {
  if (address.scheme !== '') return address.scheme;
  if (address.port === config.httpPort) return 'http';
  if (address.host === '' && address.port !== null && address.port !== config.httpsPort) return 'http';
  if (config.autoHttps === 'off' && address.port !== null && address.port !== config.httpsPort) return 'http';
  return 'https';
}

function portOf(address: SiteAddress, scheme: 'http' | 'https', config: Config): number {
  if (address.port !== null) return address.port;
  return scheme === 'http' ? config.httpPort : config.httpsPort;
}

function listenKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface PlanOptions {
  /** Whether a certificate provider is available; without one HTTPS addresses are errors. */
  httpsAvailable: boolean;
}

/** An HTTPS site and the hosts it needs certificates for (no brackets on IPv6). */
export interface HttpsSite {
  site: SiteConfig;
  hosts: string[];
}

/** The sites served over HTTPS, each with the hosts its certificates must cover. */
export function httpsSites(config: Config): HttpsSite[] {
  const out: HttpsSite[] = [];
  for (const site of config.sites) {
    const hosts = new Set<string>();
    let https = false;
    for (const address of site.addresses) {
      if (schemeOf(address, config) !== 'https') continue;
      https = true;
      if (address.host !== '') hosts.add(address.host.replace(/^\[|\]$/g, ''));
    }
    if (https) out.push({ site, hosts: [...hosts] });
  }
  return out;
}

/** Groups every site address into listeners, adding Caddy's HTTP->HTTPS redirects. */
export function planListeners(config: Config, options: PlanOptions): ListenerPlan[] {
  const errors = new ErrorList();
  const plans = new Map<string, ListenerPlan>();
  const add = (site: SiteConfig, address: SiteAddress, scheme: 'http' | 'https', port: number, binds: string[]) => {
    for (const bindHost of binds) {
      const host = bindHost.replace(/^\[|\]$/g, '');
      const key = listenKey(host, port);
      let plan = plans.get(key);
      if (!plan) {
        plan = { key, host, port, scheme, sites: [] };
        plans.set(key, plan);
      } else if (plan.scheme !== scheme) {
        errors.add(ErrorCodes.ERR_CONFIG_INVALID, `port ${port} cannot serve both HTTP and HTTPS (${address.original})`, site.source, 'site');
        continue;
      }
      const entry = plan.sites.find((s) => s.site === site);
      if (entry) entry.addresses.push(address);
      else plan.sites.push({ site, addresses: [address] });
    }
  };
  const bindsOf = (site: SiteConfig) =>
    site.bind.length > 0 ? site.bind : config.defaultBind && config.defaultBind.length > 0 ? config.defaultBind : [''];

  const redirectHosts = new Map<string, { site: SiteConfig; binds: string[] }>();
  for (const site of config.sites) {
    for (const address of site.addresses) {
      const scheme = schemeOf(address, config);
      if (scheme === 'https' && !options.httpsAvailable) {
        errors.add(
          ErrorCodes.ERR_CONFIG_INVALID,
          `site address ${address.original} would be served over HTTPS, which needs certificates; ` +
            `write http://${address.original.replace(/^https?:\/\//, '')} to serve it over plain HTTP`,
          site.source,
          'site',
        );
        continue;
      }
      // Fail closed: client_auth is a TLS handshake setting, so a plain HTTP address would
      // serve the site to anyone without a certificate while the config reads as protected.
      const clientAuth = site.tls?.clientAuth;
      if (scheme === 'http' && clientAuth !== undefined) {
        errors.add(
          ErrorCodes.ERR_CONFIG_INVALID,
          `tls client_auth cannot protect site address ${address.original}: it is served over plain HTTP (an http:// address, the HTTP port, or auto_https off on a port other than the HTTPS port), where no client certificate is asked for`,
          clientAuth.source,
          'tls',
        );
        continue;
      }
      add(site, address, scheme, portOf(address, scheme, config), bindsOf(site));
      if (scheme === 'https' && address.host !== '' && config.autoHttps === 'on') {
        redirectHosts.set(address.host, { site, binds: bindsOf(site) });
      }
    }
  }
  for (const [host, { site, binds }] of redirectHosts) {
    const servedOverHttp = config.sites.some((other) =>
      other.addresses.some((a) => schemeOf(a, config) === 'http' && portOf(a, 'http', config) === config.httpPort && (a.host === host || a.host === '')),
    );
    if (servedOverHttp) continue;
    const redirect = redirectSite(host, site, config);
    add(redirect, redirect.addresses[0]!, 'http', config.httpPort, binds);
  }
  errors.throwIfAny();
  return [...plans.values()];
}

/**
 * Caddy's automatic redirect: plain HTTP requests for an HTTPS site's host get a 308 to the
 * same URI over HTTPS. The host comes from the site's own address list (the router only
 * matches those hosts), so the redirect can never point somewhere the config does not name.
 */
function redirectSite(host: string, site: SiteConfig, config: Config): SiteConfig {
  const port = config.httpsPort === 443 ? '' : `:${config.httpsPort}`;
  return {
    name: `redirect http://${host} to https`,
    addresses: [{ original: `http://${host}`, scheme: 'http', host, port: config.httpPort, path: '' }],
    bind: site.bind,
    routes: [{ handle: [{ handler: 'static_response', status_code: 308, headers: { Location: [`https://{host}${port}{uri}`] } }], terminal: true }],
    errorRoutes: [],
    log: null,
    tls: null,
    source: site.source,
  };
}

