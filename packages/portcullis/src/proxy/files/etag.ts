/**
 * Validators for a file, computed once per stat (never per request): Caddy's entity tag
 * `"<mtime ns base36>-<size base36>"` (a strong validator, RFC 9110 §8.8.3, since ext4 and most
 * file systems keep sub-second mtimes) and the Last-Modified date.
 */
import type { BigIntStats } from 'node:fs';

/** A regular file as seen by one stat (or fstat), with its validators precomputed. */
export interface FileInfo {
  /** Real (symlink-free) absolute path that was checked to lie inside the root. */
  readonly realPath: string;
  readonly size: number;
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mtimeNs: bigint;
  /** Quoted strong entity tag, '' when the mtime is not useful. */
  readonly etag: string;
  /** IMF-fixdate, '' when the mtime is not useful. */
  readonly lastModified: string;
  /** Whole seconds since the epoch of the mtime, NaN when not useful (HTTP dates have 1 s resolution). */
  readonly lastModifiedSec: number;
  /** `size` as a string, for Content-Length. */
  readonly contentLength: string;
}

/**
 * Caddy (issues #5548, #7730) treats mtimes of 0 and 1 s as placeholders set by reproducible
 * builds and package managers, so they make no validator.
 */
function usefulMtime(seconds: number): boolean {
  return seconds !== 0 && seconds !== 1;
}

/** Builds the FileInfo of a regular file from a bigint stat. */
export function fileInfoFromStats(realPath: string, st: BigIntStats): FileInfo {
  const size = Number(st.size);
  const seconds = Number(st.mtimeNs / 1_000_000_000n);
  const useful = usefulMtime(seconds);
  return {
    realPath,
    size,
    dev: st.dev,
    ino: st.ino,
    mtimeNs: st.mtimeNs,
    etag: useful ? `"${st.mtimeNs.toString(36)}-${size.toString(36)}"` : '',
    lastModified: useful ? new Date(seconds * 1000).toUTCString() : '',
    lastModifiedSec: useful ? seconds : Number.NaN,
    contentLength: String(size),
  };
}

/** True when both describe the same bytes: same inode, size and mtime. */
export function sameFile(a: FileInfo, b: FileInfo): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs;
}
