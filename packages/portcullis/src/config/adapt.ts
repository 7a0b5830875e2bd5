/**
 * The Caddyfile adapter: turns the syntax tree into the plain Config the proxy compiles.
 *
 * Like Caddy's: the global options block sets process-wide options; each site block becomes a
 * site whose directives are sorted into routes by the directive order (`route` blocks keep the
 * written order), `handle`/`handle_path`, `root` and `rewrite` routes are mutually exclusive
 * within their list, and nothing after a site's routes runs (a site's list is the whole answer
 * for the requests it serves). Every problem found anywhere is collected and reported together.
 */
import type { Directive, ParsedCaddyfile, ServerBlock, Token } from './ast.ts';
import type { Config, MatcherSet, RouteConfig, SiteAddress, SiteConfig } from './types.ts';
import { ErrorList } from '../kernel/errors.ts';
import { locationOf } from './ast.ts';
import { createDispenser, didYouMean, type Dispenser } from './dispenser.ts';
import { checkDuplicateAddresses, checkSchemePort, parseSiteAddress, pathPrefix, type AddressUse } from './addresses.ts';
import { parseGlobalOptions, type GlobalOptions } from './global-options.ts';
import { defineMatchers, type MatcherScope } from './matcher-syntax.ts';
import { groupExclusiveRoutes, RESERVED_DIRECTIVES, sortRoutes, type DirectiveRoute } from './directive-order.ts';
import type { HandlerDirective } from './directives/common.ts';
import { adaptAbort } from './directives/abort.ts';
import { adaptAuthenticate, checkAuthenticateSites } from './directives/authenticate.ts';
import { adaptBind } from './directives/bind.ts';
import { adaptEncode } from './directives/encode.ts';
import { adaptError } from './directives/error.ts';
import { adaptFileServer } from './directives/file-server.ts';
import { adaptForwardAuth } from './directives/forward-auth.ts';
import { adaptHandle, adaptHandlePath, adaptRoute } from './directives/handle.ts';
import { adaptHandleErrors } from './directives/handle-errors.ts';
import { adaptHeader, adaptRequestHeader } from './directives/header.ts';
import { adaptIdentityProvider, checkIdentityProviderSites, type IdentityProviderUse } from './directives/identity-provider.ts';
import { adaptJwt, checkJwtSites } from './directives/jwt.ts';
import { adaptRateLimit, checkRateLimitSites } from './directives/rate-limit.ts';
import { adaptLog } from './directives/log.ts';
import { adaptMetrics } from './directives/metrics.ts';
import { adaptRedir } from './directives/redir.ts';
import { adaptRequestBody } from './directives/request-body.ts';
import { adaptRespond } from './directives/respond.ts';
import { adaptReverseProxy } from './directives/reverse-proxy.ts';
import { adaptRewrite } from './directives/rewrite.ts';
import { adaptRoot } from './directives/root.ts';
import { adaptTls } from './directives/tls.ts';
import { adaptUri } from './directives/uri.ts';
import { adaptLogSkip, adaptVars } from './directives/vars.ts';

/** Directives that add routes, by name. */
const HANDLER_DIRECTIVES: Record<string, HandlerDirective> = {
  abort: adaptAbort,
  authenticate: adaptAuthenticate,
  encode: adaptEncode,
  error: adaptError,
  file_server: adaptFileServer,
  forward_auth: adaptForwardAuth,
  handle: adaptHandle,
  handle_path: adaptHandlePath,
  header: adaptHeader,
  identity_provider: adaptIdentityProvider,
  jwt: adaptJwt,
  log_skip: adaptLogSkip,
  metrics: adaptMetrics,
  rate_limit: adaptRateLimit,
  redir: adaptRedir,
  request_body: adaptRequestBody,
  request_header: adaptRequestHeader,
  respond: adaptRespond,
  reverse_proxy: adaptReverseProxy,
  rewrite: adaptRewrite,
  root: adaptRoot,
  route: adaptRoute,
  skip_log: adaptLogSkip,
  uri: adaptUri,
  vars: adaptVars,
};

/** Directives that configure the site itself; allowed only directly in a site block. */
const SITE_DIRECTIVES = new Set(['bind', 'handle_errors', 'log', 'tls']);

/** Caddy directives Portcullis does not implement, with what to use instead. */
const UNSUPPORTED_DIRECTIVES: Record<string, string> = {
  acme_server: 'the ACME server is not supported',
  basic_auth: 'basic_auth is not supported; gate the site by identity with authenticate (sign-in at the identity provider)',
  basicauth: 'basicauth is not supported; gate the site by identity with authenticate (sign-in at the identity provider)',
  copy_response: 'copy_response is not supported yet',
  copy_response_headers: 'copy_response_headers is not supported yet',
  fs: 'virtual file systems are not supported',
  intercept: 'intercept is not supported yet',
  invoke: 'named routes (invoke) are not supported yet; use snippets with import',
  log_append: 'log_append is not supported yet',
  log_name: 'log_name is not supported yet',
  map: 'map is not supported yet',
  method: 'method is not supported yet',
  php_fastcgi: 'php_fastcgi is not supported',
  push: 'HTTP/2 server push is not supported (browsers dropped it)',
  templates: 'templates are not supported',
  tracing: 'tracing is not supported yet',
  try_files: 'try_files is not supported yet',
  ...RESERVED_DIRECTIVES,
};

const KNOWN_DIRECTIVES = [...Object.keys(HANDLER_DIRECTIVES), ...SITE_DIRECTIVES, ...Object.keys(UNSUPPORTED_DIRECTIVES)];

/** What one site block collects besides its routes. */
interface SiteState {
  bind: string[];
  errorRoutes: RouteConfig[];
  log: SiteConfig['log'];
  logAt: Directive | null;
  tls: SiteConfig['tls'];
  tlsAt: Directive | null;
  identityProviderAt: Directive | null;
}

interface Adapter {
  errors: ErrorList;
  options: GlobalOptions;
  nextGroup(): string;
  /** Sites that serve identity_provider, checked against the identity block at the end. */
  identityProviders: IdentityProviderUse[];
}

/** Adapts a parsed Caddyfile; throws ConfigErrors with every problem found. */
export function adaptCaddyfile(parsed: ParsedCaddyfile): Config {
  const errors = new ErrorList();
  const options = parseGlobalOptions(parsed.global, errors);
  let groups = 0;
  const adapter: Adapter = { errors, options, nextGroup: () => `group${groups++}`, identityProviders: [] };
  const uses: AddressUse[] = [];
  const sites: SiteConfig[] = [];
  for (const block of parsed.sites) {
    const site = adaptSite(adapter, block, uses);
    if (site !== null) sites.push(site);
  }
  checkDuplicateAddresses(uses, options.httpPort, options.httpsPort, createDispenser(errors, 'site address'));
  options.identity = checkIdentityProviderSites(adapter.identityProviders, options.identity, options.httpPort, options.httpsPort, errors);
  checkAuthenticateSites(sites, options.identity, options.httpPort, options.httpsPort, errors);
  checkJwtSites(sites, options.identity, options.httpPort, options.httpsPort, errors);
  checkRateLimitSites(sites, errors);
  sortByPlace(errors);
  errors.throwIfAny();
  const { order: _order, defaultBind, ...rest } = options;
  return {
    admin: rest.admin,
    logLevel: rest.logLevel,
    server: rest.server,
    httpPort: rest.httpPort,
    httpsPort: rest.httpsPort,
    ...(defaultBind !== undefined ? { defaultBind } : {}),
    autoHttps: rest.autoHttps,
    metrics: rest.metrics,
    tls: rest.tls,
    database: rest.database,
    identity: rest.identity,
    ...(rest.guard !== undefined ? { guard: rest.guard } : {}),
    sites,
  };
}

function adaptSite(adapter: Adapter, block: ServerBlock, uses: AddressUse[]): SiteConfig | null {
  const { errors, options } = adapter;
  const disp = createDispenser(errors, 'site address');
  const addresses: SiteAddress[] = [];
  for (const key of block.keys) {
    if (key.text.startsWith('&(')) {
      disp.error(key, 'named routes are not supported yet; use a snippet and import it');
      continue;
    }
    const address = parseSiteAddress(key, disp);
    if (address === null) continue;
    const conflict = checkSchemePort(address, options.httpPort, options.httpsPort);
    if (conflict !== null) disp.error(key, conflict);
    uses.push({ address, source: locationOf(key) });
    addresses.push(address);
  }
  const state: SiteState = { bind: [], errorRoutes: [], log: null, logAt: null, tls: null, tlsAt: null, identityProviderAt: null };
  let routes = adaptDirectives(adapter, block.directives, new Map(), true, state);
  if (state.identityProviderAt !== null) adapter.identityProviders.push({ d: state.identityProviderAt, addresses });
  const wrap = siteMatcherSets(addresses);
  if (wrap !== null) {
    routes = [wrapRoutes(wrap, routes, block)];
    if (state.errorRoutes.length > 0) state.errorRoutes = [wrapRoutes(wrap, state.errorRoutes, block)];
  }
  return {
    name: block.keys.map((k: Token) => k.text).join(', '),
    addresses: addresses.map((a) => ({ ...a, path: pathPrefix(a.path) })),
    bind: state.bind,
    routes,
    errorRoutes: state.errorRoutes,
    log: state.log,
    tls: state.tls,
    source: block.source,
  };
}

/**
 * Adapts a list of directives (a site block, or a handle/route/handle_errors block): named
 * matchers first, then each directive, then Caddy's sorting and grouping.
 */
function adaptDirectives(adapter: Adapter, directives: Directive[], parentScope: MatcherScope, sorted: boolean, site: SiteState | null): RouteConfig[] {
  const { errors, options } = adapter;
  const { scope, rest } = defineMatchers(directives, parentScope, createDispenser(errors, ''));
  const nestedRoutes = (block: Directive[], innerScope: MatcherScope, innerSorted: boolean) => adaptDirectives(adapter, block, innerScope, innerSorted, null);
  const pieces: DirectiveRoute[] = [];
  for (const d of rest) {
    const disp = createDispenser(errors, d.name);
    if (SITE_DIRECTIVES.has(d.name)) {
      if (site === null) disp.error(d, 'can only be used directly in a site block, not inside handle, handle_path, route or handle_errors');
      else siteDirective(d, disp, scope, site, nestedRoutes);
      continue;
    }
    const handler = Object.hasOwn(HANDLER_DIRECTIVES, d.name) ? HANDLER_DIRECTIVES[d.name] : undefined;
    if (handler === undefined) {
      unknownDirective(d, disp);
      continue;
    }
    if (d.name === 'identity_provider' && !placeIdentityProvider(d, disp, site)) continue;
    const route = handler({ d, disp, scope, nestedRoutes });
    // handle_path sorts and groups with handle, as in Caddy.
    if (route !== null) pieces.push({ directive: d.name === 'handle_path' ? 'handle' : d.name, route });
  }
  if (sorted) sortRoutes(pieces, options.order);
  groupExclusiveRoutes(pieces, adapter.nextGroup);
  return pieces.map((p) => tidyRoute(p.route));
}

/**
 * Records `identity_provider` in its site; false (after reporting) when nested or repeated. It
 * serves fixed paths at the root of the host, which a handle or route around it would hide.
 */
function placeIdentityProvider(d: Directive, disp: Dispenser, site: SiteState | null): boolean {
  if (site === null) {
    disp.error(d, 'can only be used directly in a site block, not inside handle, handle_path, route or handle_errors: it serves fixed paths on the whole site');
    return false;
  }
  if (site.identityProviderAt !== null) {
    disp.error(d, `the site already serves it at ${site.identityProviderAt.source.file}:${site.identityProviderAt.source.line}`);
    return false;
  }
  site.identityProviderAt = d;
  return true;
}

function unknownDirective(d: Directive, disp: Dispenser): void {
  if (Object.hasOwn(UNSUPPORTED_DIRECTIVES, d.name)) {
    disp.error(d, UNSUPPORTED_DIRECTIVES[d.name]!);
    return;
  }
  const hint = didYouMean(d.name, KNOWN_DIRECTIVES);
  // A site written without braces makes the next site's address look like a directive.
  const braces = hint === '' && /[.:]/.test(d.name) ? ' (is a site block missing its { }?)' : '';
  disp.error(d, `unknown directive${hint}${braces}`);
}

function siteDirective(
  d: Directive,
  disp: Dispenser,
  scope: MatcherScope,
  site: SiteState,
  nestedRoutes: (block: Directive[], scope: MatcherScope, sorted: boolean) => RouteConfig[],
): void {
  switch (d.name) {
    case 'bind':
      site.bind.push(...adaptBind(d, disp));
      return;
    case 'handle_errors':
      site.errorRoutes.push(...adaptHandleErrors(d, disp, scope, nestedRoutes));
      return;
    case 'log':
      if (site.logAt !== null) return void disp.error(d, `the site already has a log at ${site.logAt.source.file}:${site.logAt.source.line}`);
      site.logAt = d;
      site.log = adaptLog(d, disp);
      return;
    case 'tls':
      if (site.tlsAt !== null) return void disp.error(d, `the site already has tls at ${site.tlsAt.source.file}:${site.tlsAt.source.line}`);
      site.tlsAt = d;
      site.tls = adaptTls(d, disp);
      return;
  }
}

/**
 * A site whose addresses carry paths (`example.com/api/*`) only serves those paths: as in
 * Caddy, its routes sit behind one terminal route matching each address's host and path.
 * Null when no address has a path (the site is then chosen by host alone).
 */
function siteMatcherSets(addresses: SiteAddress[]): MatcherSet[] | null {
  if (!addresses.some((a) => a.path !== '')) return null;
  const pairs: { path: string; hosts: string[] }[] = [];
  let catchAll = false;
  for (const a of addresses) {
    let pair = pairs.find((p) => p.path === a.path);
    if (pair === undefined) {
      pair = { path: a.path, hosts: [] };
      pairs.push(pair);
    }
    // One address without a host makes the site answer for every host.
    if (a.host === '' && !catchAll) {
      pair.hosts = [];
      catchAll = true;
    }
    if (catchAll) continue;
    if (!pair.hosts.includes(a.host)) pair.hosts.push(a.host);
  }
  const sets: MatcherSet[] = [];
  for (const p of pairs) {
    const set: MatcherSet = {};
    if (p.hosts.length > 0) set.host = p.hosts;
    if (p.path !== '') set.path = [p.path];
    if (Object.keys(set).length > 0) sets.push(set);
  }
  return sets;
}

function wrapRoutes(match: MatcherSet[], routes: RouteConfig[], block: ServerBlock): RouteConfig {
  return { match, handle: [{ handler: 'subroute', routes }], terminal: true, source: block.source };
}

/** Errors in file order (files as they first appear), then line; stable within a line. */
function sortByPlace(errors: ErrorList): void {
  const rank = new Map<string, number>();
  const keyed = errors.errors.map((e, i) => {
    const file = e.source?.file ?? '';
    if (!rank.has(file)) rank.set(file, rank.size);
    return { e, file: rank.get(file)!, line: e.source?.line ?? 0, i };
  });
  keyed.sort((a, b) => a.file - b.file || a.line - b.line || a.i - b.i);
  errors.errors.splice(0, errors.errors.length, ...keyed.map((k) => k.e));
}

/** Fixed key order so the printed config reads the same every time. */
function tidyRoute(route: RouteConfig): RouteConfig {
  const out: RouteConfig = { handle: route.handle };
  if (route.match !== undefined) {
    delete (out as Partial<RouteConfig>).handle;
    out.match = route.match;
    out.handle = route.handle;
  }
  if (route.group !== undefined) out.group = route.group;
  if (route.terminal !== undefined) out.terminal = route.terminal;
  if (route.source !== undefined) out.source = route.source;
  return out;
}
