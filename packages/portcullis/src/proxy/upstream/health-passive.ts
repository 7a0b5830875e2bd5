/**
 * Passive health checks (Caddy's `fail_duration`, `max_fails`, `unhealthy_status`,
 * `unhealthy_latency`): failures seen while proxying take an upstream out for fail_duration.
 * Each failure is forgotten fail_duration after it happened, as in Caddy.
 */
import type { ReverseProxyHandler } from '../../config/types.ts';
import type { Upstream } from './upstream.ts';

type Passive = NonNullable<ReverseProxyHandler['health_checks']['passive']>;

export interface PassiveHealth {
  /** A failed attempt: dial error, timeout, broken response. */
  recordFailure(upstream: Upstream): void;
  /** A response head arrived: strikes for an unhealthy status or too much latency. */
  recordResponse(upstream: Upstream, status: number, latencyMs: number): void;
  /** Forgets pending timers (config unload). */
  stop(): void;
}

/**
 * `maxFails` is the handler's limit (0 when passive checks are off: then this does nothing);
 * `onChange` is told when an upstream may have changed health, for the gauge.
 */
export function createPassiveHealth(config: Passive | null, maxFails: number, onChange: (upstream: Upstream) => void): PassiveHealth {
  if (config === null || maxFails === 0 || config.fail_duration_ms <= 0) {
    return { recordFailure() {}, recordResponse() {}, stop() {} };
  }
  const failDuration = config.fail_duration_ms;
  const badStatus = config.unhealthy_status;
  const badLatency = config.unhealthy_latency_ms ?? 0;
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  function recordFailure(upstream: Upstream): void {
    if (stopped) return;
    // Once out, more strikes would only pile up timers: an upstream that is down gets no new
    // traffic, so it comes back fail_duration after the strike that took it out.
    if (upstream.fails >= maxFails) return;
    upstream.fails++;
    if (upstream.fails === maxFails) onChange(upstream);
    const timer = setTimeout(() => {
      timers.delete(timer);
      upstream.fails--;
      if (upstream.fails === maxFails - 1) onChange(upstream);
    }, failDuration);
    timer.unref();
    timers.add(timer);
  }

  function recordResponse(upstream: Upstream, status: number, latencyMs: number): void {
    for (const bad of badStatus) {
      if (statusMatches(status, bad)) {
        recordFailure(upstream);
        break;
      }
    }
    if (badLatency > 0 && latencyMs >= badLatency) recordFailure(upstream);
  }

  function stop(): void {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  }

  return { recordFailure, recordResponse, stop };
}

/** Caddy's status matching: a one-digit code names a class (5 = 5xx). */
export function statusMatches(actual: number, expected: number): boolean {
  if (expected < 10) return Math.floor(actual / 100) === expected;
  return actual === expected;
}
