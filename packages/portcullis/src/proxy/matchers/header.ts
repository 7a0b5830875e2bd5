/**
 * The `header` and `header_regexp` matchers (Caddy's MatchHeader, MatchHeaderRE). Values are
 * compared as Node presents them: repeated header lines arrive joined with `, ` in one string
 * (set-cookie excepted), so `header X-A b` does not match a request that sent `X-A` twice.
 * `Host` reads the Host header (ctx.hostport when absent, as with HTTP/2's :authority).
 */
import type { RequestContext } from '../context.ts';
import type { RegexpMatcher } from '../../config/types.ts';
import { compileTemplate, hasPlaceholders } from '../placeholders.ts';
import { compileCapturingRegexp } from './regexp.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';

type ValueTest = (ctx: RequestContext, value: string) => boolean;

/** The values of request header `name` (lower-case), or null when absent. */
export function headerValues(ctx: RequestContext, name: string): readonly string[] | null {
  const v = ctx.req.headers[name];
  if (v === undefined) {
    if (name === 'host' && ctx.hostport !== '') return [ctx.hostport];
    return null;
  }
  return typeof v === 'string' ? [v] : v;
}

/**
 * Compiles `{ name: values }`: every named header must match. A null list requires the header to
 * be absent, an empty list only present; otherwise one of the values must match one of the
 * patterns (`*` any, `*x` suffix, `x*` prefix, `*x*` substring; case-sensitive).
 */
export function compileHeaderMatcher(spec: Record<string, string[] | null>): (ctx: RequestContext) => boolean {
  const fields = Object.entries(spec).map(([name, patterns]) => {
    if (patterns !== null && (!Array.isArray(patterns) || patterns.some((p) => typeof p !== 'string'))) {
      throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `header ${name}: expected a list of values or null`);
    }
    return { name: name.toLowerCase(), patterns: patterns === null ? null : patterns.map(compileValuePattern) };
  });
  return (ctx) => {
    for (const field of fields) {
      const values = headerValues(ctx, field.name);
      if (field.patterns === null) {
        if (values !== null) return false;
        continue;
      }
      if (values === null) return false;
      if (field.patterns.length === 0) continue;
      if (!anyMatches(ctx, values, field.patterns)) return false;
    }
    return true;
  };
}

function anyMatches(ctx: RequestContext, values: readonly string[], patterns: ValueTest[]): boolean {
  for (const value of values) for (const test of patterns) if (test(ctx, value)) return true;
  return false;
}

/** A value pattern with Caddy's `*` forms; placeholders are filled per request. */
export function compileValuePattern(pattern: string): ValueTest {
  if (hasPlaceholders(pattern)) {
    const template = compileTemplate(pattern);
    return (ctx, value) => staticValueTest(template(ctx))(value);
  }
  const test = staticValueTest(pattern);
  return (_ctx, value) => test(value);
}

function staticValueTest(pattern: string): (value: string) => boolean {
  if (pattern === '*') return () => true;
  const starts = pattern.startsWith('*');
  const ends = pattern.endsWith('*');
  if (starts && ends) {
    const inner = pattern.slice(1, -1);
    return (v) => v.includes(inner);
  }
  if (starts) {
    const suffix = pattern.slice(1);
    return (v) => v.endsWith(suffix);
  }
  if (ends) {
    const prefix = pattern.slice(0, -1);
    return (v) => v.startsWith(prefix);
  }
  return (v) => v === pattern;
}

/** Compiles `{ name: { name?, pattern } }`: every header must have a value matching its regexp. */
export function compileHeaderRegexpMatcher(spec: Record<string, RegexpMatcher>): (ctx: RequestContext) => boolean {
  const fields = Object.entries(spec).map(([name, m]) => {
    if (m === null || typeof m !== 'object' || typeof m.pattern !== 'string') {
      throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `header_regexp ${name}: expected a pattern`);
    }
    return { name: name.toLowerCase(), match: compileCapturingRegexp(m.name ?? '', m.pattern) };
  });
  return (ctx) => {
    for (const field of fields) {
      const values = headerValues(ctx, field.name);
      if (values === null) return false;
      let matched = false;
      for (const value of values) {
        if (field.match(ctx, value)) {
          matched = true;
          break;
        }
      }
      if (!matched) return false;
    }
    return true;
  };
}
