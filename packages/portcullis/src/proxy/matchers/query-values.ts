/**
 * The request's query string parsed once, lazily, for the `query` matcher and `{query.KEY}`
 * placeholders. Cached per request (keyed by ctx, re-parsed if a rewrite changed ctx.query).
 *
 * Parsing follows Go's url.ParseQuery, which Caddy uses: pairs split on `&` only; a `;` in a
 * key or a malformed `%` escape makes the query malformed. The matcher then matches nothing
 * (parser differentials between proxy and app are how `;`-smuggled parameters bypass rules,
 * golang/go#25192), while placeholders still see the well-formed pairs.
 */
import type { RequestContext } from '../context.ts';

export interface QueryValues {
  /** The query string this was parsed from. */
  readonly raw: string;
  readonly values: ReadonlyMap<string, readonly string[]>;
  /** True when some pair failed to parse. */
  readonly malformed: boolean;
}

const EMPTY: QueryValues = { raw: '', values: new Map(), malformed: false };

/**
 * A memo keyed by the request object, not shared state: entries are reachable only through
 * their own request and are collected with it. RequestContext deliberately has no field for it.
 */
const cache = new WeakMap<RequestContext, QueryValues>();

/** The parsed query of `ctx`, parsed at most once per distinct ctx.query. */
export function queryValues(ctx: RequestContext): QueryValues {
  const raw = ctx.query;
  if (raw === '') return EMPTY;
  const cached = cache.get(ctx);
  if (cached !== undefined && cached.raw === raw) return cached;
  const parsed = parseQuery(raw);
  cache.set(ctx, parsed);
  return parsed;
}

/** Go's url.ParseQuery. */
export function parseQuery(raw: string): QueryValues {
  const values = new Map<string, string[]>();
  let malformed = false;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    if (rawKey.indexOf(';') !== -1) {
      malformed = true;
      continue;
    }
    const key = unescapeQuery(rawKey);
    const value = eq === -1 ? '' : unescapeQuery(pair.slice(eq + 1));
    if (key === null || value === null) {
      malformed = true;
      continue;
    }
    const list = values.get(key);
    if (list === undefined) values.set(key, [value]);
    else list.push(value);
  }
  return { raw, values, malformed };
}

const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Go's url.QueryUnescape: `+` is a space, `%XX` a byte; null on a malformed escape. */
export function unescapeQuery(s: string): string | null {
  const plus = s.indexOf('+') !== -1;
  if (s.indexOf('%') === -1) return plus ? s.replaceAll('+', ' ') : s;
  if (BAD_ESCAPE.test(s)) return null;
  const spaced = plus ? s.replaceAll('+', ' ') : s;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Valid escapes that are not UTF-8: Go keeps the bytes; here they become U+FFFD.
    return decoder.decode(Buffer.from(spaced.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1'));
  }
}
