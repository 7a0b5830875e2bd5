/**
 * Caddy durations: Go's `time.ParseDuration` syntax plus a `d` (24h) unit, so `10s`, `1m30s`,
 * `500ms`, `1.5h`, `1d` and `0`. Bare numbers other than 0 are rejected, as in Caddy: `10` could
 * mean seconds or milliseconds, and a silent guess is how timeouts end up 1000x off.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu, also accepted by Go
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/y;

/** Longest duration accepted: Go's limit (about 292 years) expressed in ms. */
const MAX_MS = 9_223_372_036_854;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Parses a duration into milliseconds (fractions kept: `500us` is 0.5). Negative values parse
 * (`-1s`); callers that cannot use them say so.
 */
export function parseDuration(text: string): Parsed<number> {
  if (text.length === 0) return { ok: false, error: 'empty duration' };
  if (text.length > 64) return { ok: false, error: `duration ${JSON.stringify(text.slice(0, 64))}... is too long` };
  let rest = text;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return { ok: true, value: 0 };
  if (/^\d+(\.\d*)?$/.test(rest)) {
    return { ok: false, error: `invalid duration ${JSON.stringify(text)}: missing unit (use ms, s, m, h or d, e.g. ${rest}s)` };
  }
  let total = 0;
  PART.lastIndex = 0;
  let at = 0;
  while (at < rest.length) {
    PART.lastIndex = at;
    const m = PART.exec(rest);
    if (m === null) {
      return { ok: false, error: `invalid duration ${JSON.stringify(text)} (expected forms like 250ms, 10s, 1m30s, 2h, 1d)` };
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = PART.lastIndex;
  }
  if (total > MAX_MS) return { ok: false, error: `duration ${JSON.stringify(text)} is too long` };
  // Round away float noise such as 0.1 * 3 while keeping sub-millisecond units meaningful.
  const value = Math.round(total * 1e6) / 1e6;
  return { ok: true, value: sign * value };
}
