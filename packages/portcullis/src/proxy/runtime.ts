/**
 * A compiled config: every site's routes as closures, one site router per listener, access
 * loggers, metrics. Built completely before it replaces the running one, so a config that
 * fails to compile never serves a request.
 */
import type { Config, HandlerConfig, RouteConfig } from '../config/types.ts';
import type { Clock } from '../kernel/clock.ts';
import { ConfigErrors, ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { EventBus } from '../kernel/events.ts';
import type { Logger } from '../kernel/logger.ts';
import type { MetricsKit } from '../kernel/metrics.ts';
import { createAccessLogger, type AccessLogger } from './access-log.ts';
import { compileHandler } from './compile-handler.ts';
import type { Handler, RequestContext } from './context.ts';
import type { HandlerDeps } from './handler-deps.ts';
import type { Authenticator, ChallengeResponder, ClientIpResolver, IdentityEndpoint, RateLimiter, RequestGate } from './ports.ts';
import { createHttpMetrics, type HttpMetrics } from './http-metrics.ts';
import { planListeners, type ListenerPlan } from './listen-plan.ts';
import { compileRouteList } from './routes.ts';
import { siteIdentityHeaders, stripIdentityHeaders } from './identity-headers.ts';
import { createSiteRouter } from './site-router.ts';

export interface RuntimeDeps {
  logger: Logger;
  events: EventBus;
  clock: Clock;
  /** Loaded by the caller when configUsesMetrics(config); null otherwise. */
  metrics: MetricsKit | null;
  /** The identity provider for `identity_provider` sites; null when the config has none. */
  identity: IdentityEndpoint | null;
  /** Sign-in sessions for `authenticate`; null when the config has no identity provider. */
  authenticator: Authenticator | null;
  /** Whether HTTPS listeners have a certificate provider (else HTTPS sites are config errors). */
  httpsAvailable: boolean;
  /** Resolves ctx.clientIp through trusted proxies (the guard's); absent or null: the peer is the client. */
  clientIp?: ClientIpResolver | null;
  /** Every trusted proxy range, `trusted_proxies` sources expanded; absent: config.server.trustedProxies. */
  trustedProxies?: string[];
  /** The guard's check of every request before its routes; absent or null: none. */
  gate?: RequestGate | null;
  /** The guard's proof-of-work challenge (page, script, answers); absent or null: challenges are plain 403s. */
  challenge?: ChallengeResponder | null;
  /** Counters for `rate_limit`; absent or null: the directive is unavailable. */
  rateLimiter?: RateLimiter | null;
  configFile: string | null;
}

export interface CompiledSite {
  name: string;
  /**
   * The hosts of its addresses when the site has `tls { client_auth }`, else null: every request
   * routed here must have come on a connection that met the site's policy (front-door.ts).
   */
  clientAuthHosts: readonly string[] | null;
  handler: Handler;
  errorHandler: Handler | null;
  accessLog: AccessLogger | null;
}

export interface Runtime {
  readonly config: Config;
  readonly listeners: ListenerPlan[];
  /** Site lookup per listener key. */
  readonly routers: Map<string, (ctx: RequestContext) => CompiledSite | null>;
  /** Null when no `metrics` endpoint exists: then nothing is counted on the hot path. */
  readonly metrics: HttpMetrics | null;
  /** The client's address through trusted proxies; null when none is trusted (the peer is the client). */
  readonly clientIp: ClientIpResolver | null;
  /** The guard's gate; null when the config guards nothing. */
  readonly gate: RequestGate | null;
  /** The guard's challenge; null when the config guards nothing. */
  readonly challenge: ChallengeResponder | null;
  /** Requests this runtime is still serving; reload disposes it when this reaches 0. */
  inflight: number;
  dispose(): Promise<void>;
}

/** Whether any site serves a `metrics` endpoint: only then is prom-client loaded and requests counted. */
export function configUsesMetrics(config: Config): boolean {
  return config.sites.some((s) => usesHandler(s.routes, 'metrics') || usesHandler(s.errorRoutes, 'metrics'));
}

function usesHandler(routes: RouteConfig[], name: HandlerConfig['handler']): boolean {
  return routes.some((route) =>
    route.handle.some((h) => h.handler === name || (h.handler === 'subroute' && usesHandler(h.routes, name))),
  );
}

/** Whether any site serves `identity_provider`: only then is the identity module started. */
export function configUsesIdentity(config: Config): boolean {
  return config.sites.some((s) => usesHandler(s.routes, 'identity_provider'));
}

/**
 * With an identity provider in the config, every site removes Portcullis's cookies before its
 * routes run (a browser sends the sign-in cookie to every site under the cookie domain, and an
 * upstream that saw it could replay the session); sites that use `authenticate` also remove
 * client-sent copies of their identity headers (and `jwt` sites of their claim headers).
 */
function withIdentityStripped(routes: RouteConfig[], errorRoutes: RouteConfig[], handler: Handler, authenticator: Authenticator | null): Handler {
  const names = siteIdentityHeaders([...routes, ...errorRoutes]);
  // The provider's own site reads these cookies; it has no upstream to protect them from.
  const cookiePrefix = authenticator !== null && !usesHandler(routes, 'identity_provider') ? authenticator.cookiePrefix : null;
  if (cookiePrefix === null && names.size === 0) return handler;
  return stripIdentityHeaders(names, cookiePrefix, handler);
}

/** Whether any site uses `authenticate`. */
export function configUsesAuthenticate(config: Config): boolean {
  return config.sites.some((s) => usesHandler(s.routes, 'authenticate') || usesHandler(s.errorRoutes, 'authenticate'));
}

/** Compiles a config; throws ConfigErrors when something in it cannot be compiled. */
export function buildRuntime(config: Config, deps: RuntimeDeps): Runtime {
  const listeners = planListeners(config, { httpsAvailable: deps.httpsAvailable });
  const disposers: (() => void | Promise<void>)[] = [];
  const handlerDeps: HandlerDeps = {
    logger: deps.logger,
    events: deps.events,
    clock: deps.clock,
    metrics: deps.metrics,
    identity: deps.identity,
    authenticator: deps.authenticator,
    rateLimiter: deps.rateLimiter ?? null,
    configFile: deps.configFile,
    trustedProxies: deps.trustedProxies ?? config.server.trustedProxies,
    compileRoutes: (routes) => compileRouteList(routes, (h) => compileHandler(h, handlerDeps)),
    onDispose: (fn) => void disposers.push(fn),
  };
  let disposed: Promise<void> | null = null;
  // Idempotent: both the reload and the last in-flight request may ask for it.
  const dispose = () => (disposed ??= Promise.allSettled(disposers.map((fn) => fn())).then(() => undefined));

  const compiled = new Map<object, CompiledSite>();
  try {
    // The planned sites: the config's, plus the HTTP->HTTPS redirect sites automatic HTTPS adds.
    const sites = new Set(listeners.flatMap((plan) => plan.sites.map((entry) => entry.site)));
    for (const site of sites) {
      const accessLog = site.log ? createAccessLogger(site.log) : null;
      if (accessLog) disposers.push(() => accessLog.close());
      compiled.set(site, {
        name: site.name,
        clientAuthHosts: site.tls?.clientAuth === undefined ? null : site.addresses.map((address) => address.host),
        handler: withIdentityStripped(site.routes, site.errorRoutes, handlerDeps.compileRoutes(site.routes), deps.authenticator),
        errorHandler: site.errorRoutes.length > 0 ? handlerDeps.compileRoutes(site.errorRoutes) : null,
        accessLog,
      });
    }
  } catch (error) {
    void dispose();
    if (error instanceof PortcullisError) throw error instanceof ConfigErrors ? error : new ConfigErrors([error]);
    throw new ConfigErrors([new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, (error as Error).message, { cause: error })]);
  }

  const routers = new Map<string, (ctx: RequestContext) => CompiledSite | null>();
  for (const plan of listeners) {
    routers.set(plan.key, createSiteRouter(plan.sites.map(({ site, addresses }) => ({ value: compiled.get(site)!, addresses }))));
  }
  return {
    config,
    listeners,
    routers,
    metrics: deps.metrics !== null && configUsesMetrics(config) ? createHttpMetrics(deps.metrics) : null,
    clientIp: deps.clientIp ?? null,
    gate: deps.gate ?? null,
    challenge: deps.gate ? (deps.challenge ?? null) : null,
    inflight: 0,
    dispose,
  };
}
