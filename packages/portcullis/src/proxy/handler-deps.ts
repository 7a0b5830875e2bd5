/**
 * What handler factories may use while compiling. Factories run once per config load; the
 * closures they return run per request and must not reach back into config.
 */
import type { EventBus } from '../kernel/events.ts';
import type { Logger } from '../kernel/logger.ts';
import type { Clock } from '../kernel/clock.ts';
import type { MetricsKit } from '../kernel/metrics.ts';
import type { RouteConfig } from '../config/types.ts';
import type { Handler } from './context.ts';
import type { Authenticator, IdentityEndpoint, RateLimiter } from './ports.ts';

export interface HandlerDeps {
  logger: Logger;
  events: EventBus;
  clock: Clock;
  /** Prometheus support when the config serves metrics; null otherwise (nothing is counted). */
  metrics: MetricsKit | null;
  /** The identity provider, when the config has sites with `identity_provider`; null otherwise. */
  identity: IdentityEndpoint | null;
  /** Sign-in sessions for `authenticate`, when the config has an identity provider; null otherwise. */
  authenticator: Authenticator | null;
  /** Counters for `rate_limit` (the guard's, kept across reloads); null when unavailable. */
  rateLimiter: RateLimiter | null;
  /** Absolute path of the config file, which file_server never serves. */
  configFile: string | null;
  /** CIDRs of proxies whose X-Forwarded-* headers are believed (global `trusted_proxies`). */
  trustedProxies: string[];
  /** Compiles nested routes (subroute, handle, route). */
  compileRoutes(routes: RouteConfig[]): Handler;
  /** Registers cleanup (timers, pools) run when this config is replaced or the process stops. */
  onDispose(fn: () => void | Promise<void>): void;
}
