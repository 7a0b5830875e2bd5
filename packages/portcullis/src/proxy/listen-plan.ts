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

/** Groups every site address into listeners; reports addresses this build cannot serve. */
export function planListeners(config: Config): ListenerPlan[] {
  const errors = new ErrorList();
  const plans = new Map<string, ListenerPlan>();
  for (const site of config.sites) {
    const binds = site.bind.length > 0 ? site.bind : config.defaultBind && config.defaultBind.length > 0 ? config.defaultBind : [''];
    for (const address of site.addresses) {
      const scheme = schemeOf(address, config);
      if (scheme === 'https') {
        errors.add(
          ErrorCodes.ERR_CONFIG_INVALID,
          `site address ${address.original} would be served over HTTPS, which this version cannot do yet; ` +
            `write http://${address.original.replace(/^https?:\/\//, '')} to serve it over plain HTTP`,
          site.source,
          'site',
        );
        continue;
      }
      const port = portOf(address, scheme, config);
      for (const bindHost of binds) {
        const host = bindHost.replace(/^\[|\]$/g, '');
        const key = listenKey(host, port);
        let plan = plans.get(key);
        if (!plan) {
          plan = { key, host, port, scheme, sites: [] };
          plans.set(key, plan);
        }
        const entry = plan.sites.find((s) => s.site === site);
        if (entry) entry.addresses.push(address);
        else plan.sites.push({ site, addresses: [address] });
      }
    }
  }
  errors.throwIfAny();
  return [...plans.values()];
}
