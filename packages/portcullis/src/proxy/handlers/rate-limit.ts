/**
 * `rate_limit`: every zone counts the request under its key; the first zone over its limit
 * refuses it with 429 and Retry-After (RFC 6585 §4; RFC 9110 §10.2.3), through the error path
 * so `handle_errors` can answer it. The counters live in the guard's RateLimiter, created once
 * per process, so a reload neither resets a client's budget nor hands it a new one.
 */
import type { RateLimitHandler } from '../../config/types.ts';
import { ErrorCodes, httpError, PortcullisError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileTemplate } from '../placeholders.ts';

interface CompiledZone {
  name: string;
  key: (ctx: RequestContext) => string;
  limit: { events: number; windowMs: number; burst: number };
}

/**
 * `{remote_host}` (caddy-ratelimit's example key) is the connection's address: behind a
 * trusted proxy that is the proxy, and every client would share one budget, so any one of them
 * could spend it for all. In a key it means the resolved client, `{client_ip}`, which is the
 * connection's address when no proxy is trusted (docs/client-ip.md).
 */
const REMOTE_HOST = /(?<!\\)\{(remote_host|http\.request\.remote\.host)\}/g;

/** Compiles a zone key template; `{remote_host}` counts as `{client_ip}`. */
export function compileZoneKey(key: string): (ctx: RequestContext) => string {
  return compileTemplate(key.replace(REMOTE_HOST, '{client_ip}'));
}

export function createRateLimit(config: RateLimitHandler, deps: HandlerDeps): Handler {
  const limiter = deps.rateLimiter;
  if (limiter === null) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, 'rate_limit compiled without a rate limiter');
  const zones: CompiledZone[] = config.zones.map((z) => ({
    name: z.name,
    key: compileZoneKey(z.key),
    limit: { events: z.events, windowMs: z.windowMs, burst: z.burst },
  }));
  // Tightest first, as caddy-ratelimit does: a zone that allows counts the event even when a
  // later zone refuses, so the zone most likely to refuse should ask first.
  zones.sort((a, b) => a.limit.events / a.limit.windowMs - b.limit.events / b.limit.windowMs);

  return (ctx, next) => {
    for (let i = 0; i < zones.length; i++) {
      const zone = zones[i]!;
      const waitMs = limiter.take(zone.name, zone.key(ctx), zone.limit);
      if (waitMs > 0) return Promise.reject(tooManyRequests(waitMs));
    }
    return next();
  };
}

/** 429 with the wait in whole seconds, rounded up: a client that waits that long gets in. */
function tooManyRequests(waitMs: number): PortcullisError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return httpError(429, 'too many requests', ErrorCodes.ERR_HTTP_TOO_MANY_REQUESTS, { 'Retry-After': String(seconds) });
}
