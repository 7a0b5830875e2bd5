/**
 * Leaky buckets, one per key (a client address, an account), as CrowdSec's scenarios use
 * them: each event pours one unit in, the bucket leaks `leakPerSecond` units a second, and
 * the event that does not fit (the level would pass `capacity`) makes it overflow: the
 * bucket fires. With capacity 20 the 21st event in a burst fires.
 *
 * - `distinct`: only events with a value the bucket has not seen count (distinct paths of
 *   404s, not the same missing favicon twenty times). The values seen are remembered while
 *   the bucket lives, at most 2 x (capacity + 1) of them, oldest forgotten first.
 * - Blackhole: once fired, the key is ignored for `blackholeMs`, so one attack makes one
 *   decision, not one per further request (a banned client's 403s keep arriving as events).
 * - Contributors: with a `source` per event (the client address of a failed login), a fired
 *   bucket reports how many of its events came from each source (the `sources` most active
 *   are kept), so a scenario keyed by account can act on the addresses behind the attack.
 *   Each source's count leaks as the bucket does: an attacker can keep an account's bucket
 *   from draining for days, and the user's own typos over those days must not add up to a ban.
 *
 * Memory is bounded: at most `maxKeys` keys. Once they fill half of that, each new key looks
 * at the next two in a round over the keys and drops the drained ones (a drained bucket is the
 * same as an absent one); when full, it drops the first key the round finds untouched since
 * its last visit (CLOCK, the second-chance approximation of least-recently-used: a key being
 * hammered is never the one dropped, a flood of one-shot keys drops its own). Keys and distinct values longer than 64
 * characters are kept as their SHA-256: a path of 8 KiB costs what a short one does.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../kernel/clock.ts';

export interface LeakyBucketOptions {
  /** Events a bucket holds; the one after overflows. At least 1. */
  capacity: number;
  /** Units leaked a second (1 per 10 s: 0.1). Greater than 0. */
  leakPerSecond: number;
  /** How long a key is ignored after its bucket fired; 0: not at all. */
  blackholeMs: number;
  clock: Clock;
  /** Most keys remembered (buckets and blackholes); default 50 000. */
  maxKeys?: number;
  /** Most distinct sources counted per bucket; default 64. */
  maxSources?: number;
}

/** What pour() reports when the bucket fired. */
export interface Overflow {
  key: string | number;
  /**
   * Events per source, each leaked at the bucket's rate since (4 failures a minute apart with
   * a leak of 1 a minute count 1); empty when pour() was given no source.
   */
  sources: Map<string, number>;
}

export interface LeakyBuckets {
  /**
   * Pours one event for `key`: a text, or a small integer (an IPv4 address as a signed 32-bit
   * number: V8 hashes it without reading any string, and the table holds no string per client).
   * `distinct`: the value it must be new in (when the buckets count distinct values); `source`:
   * who sent it, for Overflow.sources. Returns the overflow when this event made the bucket
   * fire, else null.
   */
  pour(key: string | number, distinct?: string, source?: string): Overflow | null;
  /** Keys remembered (for tests and metrics). */
  readonly size: number;
}

interface Bucket {
  level: number;
  /** When `level` was computed, ms since the clock's epoch. */
  at: number;
  /** Values seen (distinct buckets only). */
  seen: Set<string> | null;
  sources: Map<string, SourceCount> | null;
  /** Ignored until then; 0: not blackholed. */
  blackholeUntil: number;
  /** Poured into since the round last passed it: spared once when the buckets are full. */
  touched: boolean;
}

/** A source's events in a bucket: a level of its own, leaking at the bucket's rate. */
interface SourceCount {
  level: number;
  at: number;
}

export const DEFAULT_MAX_KEYS = 50_000;
const MAX_RAW = 64;
const SWEEP_PER_INSERT = 2;

/** Creates an empty set of buckets sharing one configuration. */
export function createLeakyBuckets(options: LeakyBucketOptions): LeakyBuckets {
  const { clock, blackholeMs } = options;
  const capacity = Math.max(1, Math.floor(options.capacity));
  const leakPerMs = options.leakPerSecond / 1000;
  if (!(leakPerMs > 0) || !Number.isFinite(leakPerMs)) throw new RangeError('leakPerSecond must be a positive number');
  const maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_KEYS);
  const maxSeen = 2 * (capacity + 1);
  const maxSources = Math.max(1, options.maxSources ?? 64);
  const buckets = new Map<string | number, Bucket>();

  /** True when the bucket holds nothing worth keeping: drained and not blackholed. */
  const idle = (b: Bucket, now: number): boolean => b.blackholeUntil <= now && b.level - (now - b.at) * leakPerMs <= 0;

  /**
   * The round over the keys: one live Map iterator kept between inserts. A touch only sets a
   * flag: moving the key to the Map's end at each event (the first way this kept LRU order)
   * stored each request's fresh address string as the key and left V8's table full of deleted
   * entries that every sweep from the head walked past (2.4 µs per new key with 20 000
   * clients, and promoted garbage for the collector).
   */
  let cursor: Iterator<[string | number, Bucket]> | null = null;
  const nextInRound = (): [string | number, Bucket] | null => {
    for (let restarts = 0; restarts < 2; restarts++) {
      cursor ??= buckets.entries();
      const next = cursor.next();
      if (next.done !== true) return next.value;
      cursor = null;
    }
    return null;
  };
  const makeRoom = (now: number): void => {
    // Drained buckets are dropped only once the keys fill half the room: dropped sooner, a
    // client coming back every few seconds (every visitor of a busy site) had a new bucket
    // allocated at each request, each living just long enough to be promoted.
    if (buckets.size < maxKeys / 2) return;
    let looked = 0;
    // Bounded: every touched flag is cleared within one round, so the second round drops.
    const limit = 2 * buckets.size + SWEEP_PER_INSERT;
    while (looked < limit) {
      const full = buckets.size >= maxKeys;
      if (!full && looked >= SWEEP_PER_INSERT) return;
      const entry = nextInRound();
      if (entry === null) return;
      looked++;
      const [key, bucket] = entry;
      if (idle(bucket, now)) {
        buckets.delete(key);
      } else if (full) {
        if (bucket.touched) bucket.touched = false;
        else buckets.delete(key);
      }
    }
  };

  const count = (bucket: Bucket, source: string, now: number): void => {
    const sources = (bucket.sources ??= new Map());
    const held = sources.get(source);
    if (held !== undefined) {
      held.level = leakedLevel(held.level, held.at, now, leakPerMs) + 1;
      held.at = now;
      return;
    }
    if (sources.size >= maxSources) {
      // Full: the least active source makes room (a flood of one-shot sources must not push
      // out the few that keep trying).
      let least: string | null = null;
      let leastCount = Infinity;
      for (const [s, c] of sources) {
        const n = leakedLevel(c.level, c.at, now, leakPerMs);
        if (n < leastCount) [least, leastCount] = [s, n];
      }
      sources.delete(least!);
    }
    sources.set(source, { level: 1, at: now });
  };

  /** The sources' counts as of `now`. */
  const countsAt = (sources: Map<string, SourceCount> | null, now: number): Map<string, number> => {
    const out = new Map<string, number>();
    if (sources !== null) for (const [s, c] of sources) out.set(s, leakedLevel(c.level, c.at, now, leakPerMs));
    return out;
  };

  return {
    get size() {
      return buckets.size;
    },
    pour(rawKey, rawDistinct, source) {
      const now = clock.now();
      const key = typeof rawKey === 'number' ? rawKey : bounded(rawKey);
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        makeRoom(now);
        bucket = { level: 0, at: now, seen: null, sources: null, blackholeUntil: 0, touched: false };
        buckets.set(key, bucket);
      } else {
        bucket.touched = true;
      }
      if (bucket.blackholeUntil > now) return null;
      bucket.blackholeUntil = 0;
      const level = leakedLevel(bucket.level, bucket.at, now, leakPerMs);
      if (level === 0) {
        // Drained: a new bucket, forgetting what the old one saw.
        bucket.seen = null;
        bucket.sources = null;
      }
      bucket.level = level;
      bucket.at = now;
      if (rawDistinct !== undefined) {
        const value = bounded(rawDistinct);
        const seen = (bucket.seen ??= new Set());
        if (seen.has(value)) return null;
        if (seen.size >= maxSeen) seen.delete(seen.values().next().value!);
        seen.add(value);
      }
      if (source !== undefined) count(bucket, source, now);
      bucket.level = level + 1;
      if (bucket.level <= capacity) return null;
      const overflow: Overflow = { key: rawKey, sources: countsAt(bucket.sources, now) };
      bucket.level = 0;
      bucket.seen = null;
      bucket.sources = null;
      bucket.blackholeUntil = blackholeMs > 0 ? now + blackholeMs : 0;
      if (bucket.blackholeUntil === 0) buckets.delete(key);
      return overflow;
    },
  };
}

/** A bucket's level at `now`: `level` when it was computed at `at`, less what leaked since; never below 0. */
export function leakedLevel(level: number, at: number, now: number, leakPerMs: number): number {
  return Math.max(0, level - (now - at) * leakPerMs);
}

function bounded(text: string): string {
  // Stored values start with NUL only when hashed.
  return text.length > MAX_RAW || text.charCodeAt(0) === 0 ? '\0' + createHash('sha256').update(text).digest('base64url') : text;
}
