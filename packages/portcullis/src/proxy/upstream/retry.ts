/**
 * When a failed attempt may be tried again on another upstream (Caddy's `lb_try_duration`,
 * `lb_try_interval`, `lb_retry_match`). A request that never reached an upstream (dial error,
 * no upstream available) is always safe to retry; one that did is retried only when its body
 * can be sent again and it is a GET (or matches retry_match): never a POST whose body streamed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MatcherSet, ReverseProxyHandler } from '../../config/types.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { RequestContext } from '../context.ts';

type LoadBalancing = ReverseProxyHandler['load_balancing'];

/** Caddy's default pause between attempts, so a dead pool does not spin the CPU. */
const DEFAULT_TRY_INTERVAL_MS = 250;

/** Errors undici raises for a request it refused to build: no other upstream would take it either. */
const UNSENDABLE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

export interface RetryPolicy {
  /** 0 when retries are off, else how long a request may keep trying (ms). */
  readonly tryDuration: number;
  readonly tryInterval: number;
  /** Whether a request that reached the upstream (or may have) may be sent again. */
  readonly mayResend: (ctx: RequestContext) => boolean;
}

export function compileRetryPolicy(lb: LoadBalancing, logger: Logger): RetryPolicy {
  const tryDuration = lb.try_duration_ms > 0 ? lb.try_duration_ms : 0;
  const tryInterval = lb.try_interval_ms > 0 ? lb.try_interval_ms : DEFAULT_TRY_INTERVAL_MS;
  return { tryDuration, tryInterval, mayResend: compileRetryMatch(lb.retry_match, logger) };
}

/**
 * `retry_match` with the matchers this handler can evaluate on its own: `method`. A set with
 * any other matcher never matches (so such a request is not resent: the safe side).
 */
function compileRetryMatch(sets: MatcherSet[] | undefined, logger: Logger): (ctx: RequestContext) => boolean {
  if (sets === undefined || sets.length === 0) return (ctx) => ctx.method === 'GET';
  const methodSets: Set<string>[] = [];
  for (const set of sets) {
    const keys = Object.keys(set);
    if (keys.length === 1 && keys[0] === 'method' && set.method !== undefined) {
      methodSets.push(new Set(set.method.map((m) => m.toUpperCase())));
    } else {
      logger.warn({ matchers: keys }, 'reverse_proxy: retry_match supports only `method` here; this matcher set never matches');
    }
  }
  return (ctx) => methodSets.some((methods) => methods.has(ctx.method));
}

/** The decision after one failed attempt. */
export function mayTryAgain(
  policy: RetryPolicy,
  deadline: number,
  error: Error,
  started: boolean,
  bodyReplayable: boolean,
  ctx: RequestContext,
): boolean {
  if (policy.tryDuration === 0 || performance.now() >= deadline) return false;
  if (UNSENDABLE.has((error as { code?: string }).code ?? '')) return false;
  if (!started) return true;
  return bodyReplayable && policy.mayResend(ctx);
}

/** Pauses before the next attempt; false when the client left meanwhile. */
export async function pauseBeforeRetry(policy: RetryPolicy, ctx: RequestContext): Promise<boolean> {
  await sleep(policy.tryInterval);
  return !ctx.res.destroyed;
}
