/**
 * Conditional requests, RFC 9110 §13.2.2 order of evaluation: If-Match, else If-Unmodified-Since;
 * then If-None-Match, else If-Modified-Since. The same steps as Go's http.ServeContent, which
 * Caddy's file_server uses.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Outcome of the preconditions: serve the representation, 304, or 412. */
export type PreconditionResult = 200 | 304 | 412;

/**
 * Calls `visit(tag, weak)` for each entity tag in a list header (`"a", W/"b"`); `*` is reported
 * as the tag `*`. Stops at the first malformed element, which then matches nothing.
 */
function eachTag(list: string, visit: (tag: string, weak: boolean) => boolean): boolean {
  let i = 0;
  const n = list.length;
  while (i < n) {
    const c = list.charCodeAt(i);
    if (c === 32 || c === 9 || c === 44 /* , */) {
      i++;
      continue;
    }
    if (c === 42 /* * */) {
      if (visit('*', false)) return true;
      i++;
      continue;
    }
    let weak = false;
    if (c === 87 /* W */ && list.charCodeAt(i + 1) === 47 /* / */) {
      weak = true;
      i += 2;
    }
    if (list.charCodeAt(i) !== 34 /* " */) return false;
    // etagc may include commas (RFC 9110 §8.8.3), so the tag ends at the closing quote only.
    const end = list.indexOf('"', i + 1);
    if (end === -1) return false;
    if (visit(list.slice(i, end + 1), weak)) return true;
    i = end + 1;
  }
  return false;
}

/** Strong comparison (RFC 9110 §8.8.3.2): both tags strong and equal; `*` matches a current representation. */
export function matchesStrong(list: string, etag: string): boolean {
  return eachTag(list, (tag, weak) => tag === '*' || (!weak && etag !== '' && tag === etag));
}

/** Weak comparison: opaque tags equal whatever their weakness. */
export function matchesWeak(list: string, etag: string): boolean {
  return eachTag(list, (tag) => tag === '*' || (etag !== '' && tag === etag));
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Parses an HTTP-date to whole seconds; NaN when absent or invalid (then the header is ignored). */
function dateSeconds(value: string | undefined): number {
  if (value === undefined) return Number.NaN;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? Number.NaN : Math.floor(ms / 1000);
}

/**
 * Evaluates the preconditions of a GET/HEAD (or other method, for 412) against a file's
 * validators. `lastModifiedSec` is NaN when the file has no useful mtime.
 */
export function evaluatePreconditions(
  headers: IncomingHttpHeaders,
  isGetOrHead: boolean,
  etag: string,
  lastModifiedSec: number,
): PreconditionResult {
  const ifMatch = headerValue(headers['if-match']);
  if (ifMatch !== undefined) {
    if (!matchesStrong(ifMatch, etag)) return 412;
  } else {
    // RFC 9110 §13.1.4: evaluated only when If-Match is absent.
    const since = dateSeconds(headers['if-unmodified-since']);
    if (!Number.isNaN(since) && !Number.isNaN(lastModifiedSec) && lastModifiedSec > since) return 412;
  }
  const ifNoneMatch = headerValue(headers['if-none-match']);
  if (ifNoneMatch !== undefined) {
    if (matchesWeak(ifNoneMatch, etag)) return isGetOrHead ? 304 : 412;
    return 200;
  }
  if (isGetOrHead) {
    // RFC 9110 §13.1.3: ignored when If-None-Match is present (handled above).
    const since = dateSeconds(headers['if-modified-since']);
    if (!Number.isNaN(since) && !Number.isNaN(lastModifiedSec) && lastModifiedSec <= since) return 304;
  }
  return 200;
}

/**
 * If-Range (RFC 9110 §13.1.5): true when the Range header may be honoured. An entity tag must match
 * strongly; a date must equal Last-Modified exactly. Otherwise the whole representation is sent.
 */
export function ifRangeAllows(value: string | undefined, etag: string, lastModifiedSec: number): boolean {
  if (value === undefined) return true;
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    return !v.startsWith('W/') && etag !== '' && v === etag;
  }
  const since = dateSeconds(v);
  return !Number.isNaN(since) && !Number.isNaN(lastModifiedSec) && since === lastModifiedSec;
}
