/**
 * The `query` matcher (Caddy's MatchQuery): every configured key must be present with one of its
 * values (`*` any value); an empty spec matches only a request without a query. A malformed
 * query string matches nothing (see query-values.ts for why).
 */
import type { RequestContext } from '../context.ts';
import { compileTemplate, hasPlaceholders } from '../placeholders.ts';
import { queryValues } from './query-values.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';

type ValueTest = (ctx: RequestContext, actual: readonly string[]) => boolean;

export function compileQueryMatcher(spec: Record<string, string[]>): (ctx: RequestContext) => boolean {
  const keys = Object.entries(spec).map(([key, values]) => {
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
      throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `query ${key}: expected a list of values`);
    }
    return { key, tests: values.map(compileValue) };
  });
  if (keys.length === 0) return (ctx) => queryValues(ctx).values.size === 0;
  return (ctx) => {
    const parsed = queryValues(ctx);
    if (parsed.malformed) return false;
    for (const { key, tests } of keys) {
      const actual = parsed.values.get(key);
      if (actual === undefined) return false;
      let ok = false;
      for (const test of tests) {
        if (test(ctx, actual)) {
          ok = true;
          break;
        }
      }
      if (!ok) return false;
    }
    return true;
  };
}

function compileValue(value: string): ValueTest {
  if (value === '*') return () => true;
  if (hasPlaceholders(value)) {
    const template = compileTemplate(value);
    return (ctx, actual) => {
      const v = template(ctx);
      return v === '*' || actual.includes(v);
    };
  }
  return (_ctx, actual) => actual.includes(value);
}
