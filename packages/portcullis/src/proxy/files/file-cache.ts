/**
 * The two caches that keep file_server off the disk for hot files:
 * - resolutions (request path -> file, index, sidecars, or nothing), trusted for one second, so
 *   each path is re-resolved and re-stat'ed at most once a second however many requests it gets;
 * - contents of files up to a size the caller picks, LRU by bytes, each entry tied to the inode,
 *   size and mtime it was read with, so a changed file is re-read as soon as its resolution is
 *   refreshed.
 * Both are bounded: a flood of distinct paths evicts old entries instead of growing memory.
 */
import type { FileInfo } from './etag.ts';
import { sameFile } from './etag.ts';
import type { Resolution } from './resolve.ts';

/** How long a resolution (and the stat inside it) is trusted. */
export const REVALIDATE_MS = 1000;

export interface ResolutionCache {
  /** The cached resolution when checked less than REVALIDATE_MS ago. */
  fresh(key: string, now: number): Resolution | undefined;
  /** Computes (once for concurrent callers) and stores a resolution. */
  load(key: string, now: number, compute: () => Promise<Resolution>): Promise<Resolution>;
  invalidate(key: string): void;
  clear(): void;
}

interface ResolutionEntry {
  value: Resolution | null;
  checkedAt: number;
  pending: Promise<Resolution> | null;
}

/** A resolution cache holding at most `maxEntries` paths, oldest evicted first. */
export function createResolutionCache(maxEntries: number): ResolutionCache {
  const entries = new Map<string, ResolutionEntry>();
  function insert(key: string, entry: ResolutionEntry): void {
    if (entries.size >= maxEntries && !entries.has(key)) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    entries.set(key, entry);
  }
  return {
    fresh(key, now) {
      const entry = entries.get(key);
      if (entry === undefined || entry.value === null) return undefined;
      return now - entry.checkedAt < REVALIDATE_MS ? entry.value : undefined;
    },
    load(key, now, compute) {
      const existing = entries.get(key);
      if (existing?.pending) return existing.pending;
      const entry: ResolutionEntry = existing ?? { value: null, checkedAt: 0, pending: null };
      const pending = compute().then(
        (value) => {
          entry.pending = null;
          // A transient failure (EMFILE, EIO) must not be remembered for a second.
          if (value.kind === 'unavailable') entry.value = null;
          else {
            entry.value = value;
            entry.checkedAt = now;
          }
          return value;
        },
        (err: unknown) => {
          entry.pending = null;
          throw err;
        },
      );
      entry.pending = pending;
      if (existing === undefined) insert(key, entry);
      return pending;
    },
    invalidate(key) {
      const entry = entries.get(key);
      if (entry !== undefined && entry.pending === null) entries.delete(key);
    },
    clear() {
      entries.clear();
    },
  };
}

export interface ContentCache {
  /** Largest file kept in memory. */
  readonly maxEntryBytes: number;
  /** The bytes of exactly this file version, or undefined. */
  get(file: FileInfo): Buffer | undefined;
  set(file: FileInfo, body: Buffer): void;
  clear(): void;
}

interface ContentEntry {
  file: FileInfo;
  body: Buffer;
}

/** An LRU of file contents bounded by total bytes. */
export function createContentCache(maxEntryBytes: number, maxTotalBytes: number): ContentCache {
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the LRU one.
  const entries = new Map<string, ContentEntry>();
  let total = 0;
  /** The most recently used key: a hit on it needs no re-insertion (one file served hot is the common case). */
  let newest: string | null = null;
  function remove(key: string, entry: ContentEntry): void {
    entries.delete(key);
    total -= entry.body.length;
    if (newest === key) newest = null;
  }
  return {
    maxEntryBytes,
    get(file) {
      const entry = entries.get(file.realPath);
      if (entry === undefined) return undefined;
      if (!sameFile(entry.file, file)) {
        remove(file.realPath, entry);
        return undefined;
      }
      if (newest !== file.realPath) {
        entries.delete(file.realPath);
        entries.set(file.realPath, entry);
        newest = file.realPath;
      }
      return entry.body;
    },
    set(file, body) {
      if (body.length > maxEntryBytes) return;
      const old = entries.get(file.realPath);
      if (old !== undefined) remove(file.realPath, old);
      entries.set(file.realPath, { file, body });
      newest = file.realPath;
      total += body.length;
      for (const [key, entry] of entries) {
        if (total <= maxTotalBytes) break;
        remove(key, entry);
      }
    },
    clear() {
      entries.clear();
      total = 0;
      newest = null;
    },
  };
}

export interface ReadBudget {
  /** Claims `bytes` for a whole-file read; false when that would pass the budget. */
  take(bytes: number): boolean;
  /** Returns bytes claimed by take(). */
  give(bytes: number): void;
}

/**
 * Bounds the memory held by whole-file reads that are still being sent. A cached buffer is shared
 * by every response that sends it, but one read on a miss (or evicted while a slow client is
 * still receiving it) is held per response; without a bound, many slow clients fetching distinct
 * large files would each pin up to a cacheable file's size. Past the budget a file is streamed
 * through a small buffer instead, so memory stays at cache + budget whatever the load.
 */
export function createReadBudget(maxBytes: number): ReadBudget {
  let used = 0;
  return {
    take(bytes) {
      if (used + bytes > maxBytes) return false;
      used += bytes;
      return true;
    },
    give(bytes) {
      used -= bytes;
    },
  };
}
