/**
 * Counters for the `rate_limit` directive, in memory, per zone and key. Created once per
 * process (main.ts) so a reload keeps every client's count, as caddy-ratelimit keeps its zones.
 *
 * The algorithm is GCRA (the generic cell rate algorithm of ATM networks, ITU-T I.371; the
 * arithmetic form of a token bucket): each key keeps one number, its theoretical arrival time
 * (TAT). A limit of `events` per `windowMs` earns one event back every windowMs / events; a
 * key that has been quiet may spend `events + burst` at once. One number per key, whatever
 * the limit, so memory does not grow with `events` (a sliding-window log would keep one
 * timestamp per event). Refused events are not counted: a client that keeps knocking while
 * refused is let in as soon as its budget allows, not later.
 *
 * Memory is bounded: each zone keeps at most `maxKeysPerZone` keys in least-recently-used
 * order. Inserting a key drops up to two expired ones from the old end (an expired key is
 * the same as an absent one), and when the zone is full, the least recently used key. A
 * client being limited keeps touching its key, so a flood of fresh keys (random header
 * values, a botnet) evicts idle keys first, never the one being hammered. Keys longer than
 * 64 characters are stored as their SHA-256, so a key made of an 8 KiB header costs what a
 * short one does.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';

/** One zone's limit: `events` per `windowMs` on average, `events + burst` at once. */
export interface RateLimit {
  events: number;
  windowMs: number;
  burst: number;
}

export interface RateLimiter {
  /**
   * Counts one event for `key` in `zone`; returns 0 when allowed, else the milliseconds until
   * one would be (nothing is counted then).
   */
  take(zone: string, key: string, limit: RateLimit): number;
  /** Keys the zone currently remembers (for tests and metrics). */
  keyCount(zone: string): number;
}

export interface RateLimiterOptions {
  clock: Clock;
  /** Most keys kept per zone; default 100 000. */
  maxKeysPerZone?: number;
}

export const DEFAULT_MAX_KEYS_PER_ZONE = 100_000;

/** Longer keys are stored hashed. */
const MAX_RAW_KEY = 64;

/** Expired keys dropped per insertion, amortising the cleanup over new keys. */
const SWEEP_PER_INSERT = 2;

/**
 * Slack for floating-point rounding: TATs are sums of fractional intervals (1000 / 3 ms), and
 * the Nth event must not be refused because a sum came out a few ulps above its product.
 */
const EPSILON_MS = 1e-3;

/** Creates the process's counters. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const clock = options.clock;
  // TATs are kept relative to creation: small numbers keep sub-millisecond intervals exact
  // (epoch milliseconds as a double have an ulp of ~0.0002 ms).
  const origin = clock.now();
  const maxKeys = Math.max(1, options.maxKeysPerZone ?? DEFAULT_MAX_KEYS_PER_ZONE);
  const zones = new Map<string, Map<string, number>>();

  const makeRoom = (table: Map<string, number>, now: number) => {
    let swept = 0;
    for (const [oldest, tat] of table) {
      const full = table.size >= maxKeys;
      if (!full && (tat > now || swept >= SWEEP_PER_INSERT)) return;
      table.delete(oldest);
      swept++;
    }
  };

  return {
    take(zone, rawKey, limit) {
      const now = clock.now() - origin;
      let table = zones.get(zone);
      if (table === undefined) {
        table = new Map();
        zones.set(zone, table);
      }
      const key = rawKey.length > MAX_RAW_KEY || rawKey.charCodeAt(0) === 0 ? hashed(rawKey) : rawKey;
      const interval = limit.windowMs / limit.events;
      const tolerance = interval * (limit.events + limit.burst - 1);
      const stored = table.get(key);
      // Never further ahead than the current limit allows: after a reload that shortened the
      // window, a client waits for the new limit, not for the old one to drain.
      const tat = stored === undefined || stored < now ? now : Math.min(stored, now + tolerance + interval);
      const wait = tat - now - tolerance;
      if (stored === undefined) makeRoom(table, now);
      // Re-inserted either way: the Map's order is least recently used first.
      else table.delete(key);
      if (wait > EPSILON_MS) {
        table.set(key, tat);
        return wait;
      }
      table.set(key, tat + interval);
      return 0;
    },
    keyCount: (zone) => zones.get(zone)?.size ?? 0,
  };
}

function hashed(key: string): string {
  // Stored keys start with NUL only when hashed (take() hashes raw keys that start with one).
  return '\0' + createHash('sha256').update(key).digest('base64url');
}
