/**
 * Leaky buckets kept in the client table's records (client-table.ts), for the per-client
 * scenarios that count events, not distinct values (bad-user-agent, aggressive-crawl): the
 * same rules as leaky-bucket.ts (pour one unit, leak `leakPerSecond`, fire on the unit that does
 * not fit, then ignore the client for `blackholeMs`), without a Map or an object per client.
 * A request then costs such a scenario three numbers next to the slow-scraper's in the record
 * its lookup already brought in, instead of a lookup of its own.
 */
import type { ClientTable } from './client-table.ts';
import { leakedLevel } from './leaky-bucket.ts';

export interface ClientBucketOptions {
  /** Events a bucket holds; the one after overflows. At least 1. */
  capacity: number;
  /** Units leaked a second. Greater than 0. */
  leakPerSecond: number;
  /** How long a client is ignored after its bucket fired; 0: not at all. */
  blackholeMs: number;
}

export interface ClientBuckets {
  /** Pours one event into the bucket of the client in `slot` (ClientTable.slot); true when it fired. */
  pour(slot: number, now: number): boolean;
}

/** A bucket's times in a record: its level, when that was computed, and the end of its blackhole (0: none). */
const LEVEL = 0;
const AT = 1;
const BLACKHOLE_UNTIL = 2;

/** Reserves one bucket per client in `clients`: before the table admits its first client. */
export function createClientBuckets(clients: ClientTable, options: ClientBucketOptions): ClientBuckets {
  const capacity = Math.max(1, Math.floor(options.capacity));
  const leakPerMs = options.leakPerSecond / 1000;
  if (!(leakPerMs > 0) || !Number.isFinite(leakPerMs)) throw new RangeError('leakPerSecond must be a positive number');
  const { blackholeMs } = options;
  // A new client's record is zeros: an empty bucket, not blackholed.
  const { timesAt } = clients.reserve(0, 3);
  return {
    pour(slot, now) {
      const t = clients.times(slot);
      const b = clients.timeBase(slot) + timesAt;
      if (t[b + BLACKHOLE_UNTIL]! > now) return false;
      const level = leakedLevel(t[b + LEVEL]!, t[b + AT]!, now, leakPerMs) + 1;
      t[b + AT] = now;
      if (level <= capacity) {
        t[b + LEVEL] = level;
        return false;
      }
      t[b + LEVEL] = 0;
      t[b + BLACKHOLE_UNTIL] = now + blackholeMs;
      return true;
    },
  };
}
