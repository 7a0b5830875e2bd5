/**
 * Percent-encoding for the URIs Portcullis builds: rewritten request targets and Location
 * headers. Two kinds of text go into them and must be escaped differently:
 *  - text that is already a URI (config literals, the raw request target): `%XX` in it is an
 *    escape and is kept (`escapePath`);
 *  - a decoded value (the normalised path, a header, a regexp capture): `%` in it is data and
 *    becomes `%25` (`escapePathValue`, `escapeQueryValue`). Keeping its `%XX` would decode the
 *    client's input a second time: a literal `%2e%2e` segment (sent as `%252e%252e`) would
 *    reach the upstream as `%2e%2e`, which resolves as `..` (RFC 3986 §6.2.2.2, §5.2.4).
 */
import type { RequestContext } from './context.ts';
import { decodePath } from './normalize-path.ts';

/** RFC 3986 §3.3 `pchar` plus `/`: what a path may hold unescaped. */
const PATH_SAFE = "A-Za-z0-9\\-._~!$&'()*+,;=:@/";
const NOT_PATH_SAFE_OR_ESCAPE = new RegExp(`%(?![0-9A-Fa-f]{2})|[^${PATH_SAFE}%]`, 'gu');
const NOT_PATH_SAFE = new RegExp(`[^${PATH_SAFE}]`, 'gu');
const ALL_PATH_SAFE = new RegExp(`^[${PATH_SAFE}]*$`);

// `u` regexps see a surrogate pair as one character; toWellFormed() turns a lone surrogate into
// U+FFFD first, because encodeURIComponent throws URIError on one (a 500 from a crafted value).
const encode = (ch: string): string => encodeURIComponent(ch);

/**
 * Escapes text that is already in URI form: characters outside `pchar` and `/` are
 * percent-encoded, an existing `%XX` escape is kept, a `%` that starts no escape becomes `%25`.
 */
export function escapePath(path: string): string {
  return path.toWellFormed().replace(NOT_PATH_SAFE_OR_ESCAPE, encode);
}

/**
 * Escapes a decoded value for a path: every character outside `pchar` and `/`, `%` included,
 * is percent-encoded, so decoding the result once gives the value back.
 */
export function escapePathValue(value: string): string {
  return ALL_PATH_SAFE.test(value) ? value : value.toWellFormed().replace(NOT_PATH_SAFE, encode);
}

/**
 * Go's url.QueryEscape, which Caddy applies to placeholder values in a rewritten query
 * (rewrite.go buildQueryString): all but `A-Za-z0-9-_.~` encoded, space as `+`. A value can
 * then never add a `&` or `=` of its own.
 */
export function escapeQueryValue(value: string): string {
  return encodeURIComponent(value.toWellFormed())
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

/**
 * A percent-encoded form of the normalised path `path` for sending on: `raw` itself (escaped
 * where it holds characters outside `pchar`) when it decodes to exactly `path`, so the client's
 * own encoding survives (`%2F` inside a segment, as Go's URL.EscapedPath keeps RawPath), else a
 * fresh encoding of `path`. Either way the result decodes to the path the matchers saw and holds
 * no dot segment, so a prefix put before it cannot be climbed out of.
 */
export function canonicalRawPath(raw: string, path: string): string {
  return decodePath(raw) === path ? escapePath(raw) : escapePathValue(path);
}

/**
 * The request's path in escaped form: what Caddy's `{http.request.uri.path}` becomes in a
 * rewrite target (rewrite.go escapePathPlaceholders uses URL.EscapedPath()).
 */
export function escapedRequestPath(ctx: RequestContext): string {
  return canonicalRawPath(ctx.rawPath, ctx.path);
}

// Everything but visible ASCII, and the backslash, which WHATWG URL parsers read as `/`.
const LOCATION_UNSAFE = /[^\x21-\x5b\x5d-\x7e]/u;
const LOCATION_UNSAFE_G = /[^\x21-\x5b\x5d-\x7e]/gu;
const LEADING_SLASHES = /^[/\\\t\r\n]+/;

/**
 * Makes a Location value safe to send. Control characters (CR/LF would otherwise make Node
 * throw, CWE-113), space, non-ASCII and `\` are percent-encoded. With `guard`, a path-absolute
 * value that begins with `//` or `/\` (tab, CR and LF ignored, as browsers strip them per the
 * WHATWG URL standard) is collapsed to one leading `/`: browsers would read it as a
 * protocol-relative URL to another host (open redirect, CWE-601).
 */
export function safeLocation(value: string, guard: boolean): string {
  let out = LOCATION_UNSAFE.test(value) ? value.toWellFormed().replace(LOCATION_UNSAFE_G, encode) : value;
  if (guard && out.charCodeAt(0) === 47 /* / */) {
    const lead = LEADING_SLASHES.exec(out)![0];
    if (lead.replace(/[\t\r\n]/g, '').length > 1) out = '/' + out.slice(lead.length);
  }
  return out;
}
