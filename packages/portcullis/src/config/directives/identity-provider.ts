/**
 * `identity_provider`: the site serves the OpenID provider (discovery, authorization, token,
 * userinfo, JWKS, logout) and its login pages. The provider's paths are fixed at the root of
 * the host, so the directive takes no matcher and belongs directly in a site block; its
 * settings live in the global `identity` block. The checks between the two, which need every
 * site, are here too.
 */
import type { Directive } from '../ast.ts';
import type { Config, IdentityConfig, RouteConfig, SiteAddress } from '../types.ts';
import type { Dispenser } from '../dispenser.ts';
import type { ErrorList } from '../../kernel/errors.ts';
import { createDispenser } from '../dispenser.ts';
import { effectivePort } from '../addresses.ts';
import { checkIssuer } from '../identity-checks.ts';
import { defaultIdentity } from '../identity-options.ts';
import { routeOf, type DirectiveInput } from './common.ts';

export function adaptIdentityProvider(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  let ok = true;
  if (d.args.length > 0) {
    disp.error(d.args[0]!, 'takes no arguments and no matcher: it serves fixed OpenID paths (/.well-known/openid-configuration, /auth, /token, ...) on the whole site; configure it in the global identity block');
    ok = false;
  }
  if (d.block !== null) {
    disp.error(d, 'does not take a block: its settings go in the global identity { ... } block');
    ok = false;
  }
  return ok ? routeOf(undefined, { handler: 'identity_provider' }, d) : null;
}

/** A site block that uses `identity_provider`, with its addresses as written. */
export interface IdentityProviderUse {
  d: Directive;
  addresses: SiteAddress[];
}

/**
 * The issuer a site would have when `issuer` is not set: its first address's scheme, host and
 * port (the port left out when it is the scheme's own). Null when that address names no single
 * host (`:8080`, `*.example.com`). The server uses the same rule.
 */
export function deriveIssuer(address: SiteAddress, httpPort: number, httpsPort: number): string | null {
  if (address.host === '' || address.host.includes('*')) return null;
  const port = effectivePort(address, httpPort, httpsPort);
  const scheme = address.scheme !== '' ? address.scheme : port === httpPort && address.port !== null ? 'http' : 'https';
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const standard = scheme === 'https' ? 443 : 80;
  return `${scheme}://${host}${port === standard ? '' : `:${port}`}`;
}

/** A site address path that still covers every path of its host. */
function wholeHost(path: string): boolean {
  return path === '' || path === '/' || path === '/*' || path === '*';
}

/**
 * Checks the `identity` block against the sites that serve `identity_provider`, and returns the
 * identity settings to use: the block's, or the defaults (located at the first directive) when a
 * site serves the provider without one.
 */
export function checkIdentityProviderSites(
  uses: readonly IdentityProviderUse[],
  identity: IdentityConfig | null,
  httpPort: number,
  httpsPort: number,
  errors: ErrorList,
): IdentityConfig | null {
  const disp = createDispenser(errors, 'identity_provider');
  for (const use of uses) checkSiteAddresses(use, disp);
  const first = uses[0];
  if (first === undefined) {
    if (identity !== null && identity.clients.length > 0) {
      disp.named('identity').error(identity.source, 'no site serves identity_provider, so its clients could never sign in: add identity_provider to the site of the issuer (auth.example.com { identity_provider })');
    }
    return identity;
  }
  const settings = identity ?? defaultIdentity(first.d.source);
  if (settings.issuer !== null) return settings;
  if (uses.length > 1) {
    for (const use of uses.slice(1)) {
      disp.error(use.d, `set \`issuer\` in the identity block: several sites serve identity_provider (also at ${first.d.source.file}:${first.d.source.line})`);
    }
    return settings;
  }
  const address = first.addresses[0];
  if (address === undefined) return settings;
  const derived = deriveIssuer(address, httpPort, httpsPort);
  if (derived === null) {
    disp.error(first.d, `set \`issuer\` in the identity block: the site's first address ${address.original} names no single host to derive it from`);
    return settings;
  }
  const checked = checkIssuer(derived);
  if (!checked.ok) disp.error(first.d, `set \`issuer\` in the identity block: the issuer derived from ${address.original} is not usable: ${checked.error}`);
  return settings;
}

function checkSiteAddresses(use: IdentityProviderUse, disp: Dispenser): void {
  for (const a of use.addresses) {
    if (!wholeHost(a.path)) {
      disp.error(use.d, `the site's address ${a.original} has a path, but the provider's paths (/.well-known/..., /auth, /token) sit at the root of the host: serve it from a site without a path`);
    }
  }
}

/**
 * The issuer a config's identity provider uses: the `issuer` option, else the one derived from
 * the first address of the site serving `identity_provider`; null when neither gives one (or
 * the address has port 0, which only the running listener knows).
 */
export function identityIssuer(config: Config): string | null {
  if (config.identity?.issuer) return config.identity.issuer;
  const site = config.sites.find((s) => s.routes.some((r) => r.handle.some((h) => h.handler === 'identity_provider')));
  const address = site?.addresses[0];
  if (address === undefined || address.port === 0) return null;
  return deriveIssuer(address, config.httpPort, config.httpsPort);
}
