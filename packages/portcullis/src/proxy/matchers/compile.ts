/**
 * Compiles a route's matcher sets into one predicate: OR across sets, AND within a set, as in
 * Caddy. Each matcher becomes a small closure; within a set the cheap ones run first and the
 * regexps (which record captures) last.
 *
 * An unknown matcher name is a config error, never ignored: a matcher silently dropped would
 * turn `@admin_only { remote_ip ...; typo ... }` into "match everything".
 */
import type { MatcherSet } from '../../config/types.ts';
import type { RequestContext } from '../context.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { compilePathMatcher } from './path.ts';
import { compileHostMatcher } from './host.ts';
import { compileHeaderMatcher, compileHeaderRegexpMatcher } from './header.ts';
import { compileQueryMatcher } from './query.ts';
import { compileCapturingRegexp } from './regexp.ts';
import { compileClientIpMatcher, compileRemoteIpMatcher } from './ip.ts';
import { compileMethodMatcher } from './method.ts';
import { compileProtocolMatcher } from './protocol.ts';
import { negateSets } from './not.ts';

type Predicate = (ctx: RequestContext) => boolean;

/**
 * null when there are no matchers (always matches). OR across sets, AND within a set. Throws
 * PortcullisError ERR_CONFIG_INVALID for a bad regexp/CIDR/pattern or an unknown matcher.
 */
export function compileMatcherSets(sets: MatcherSet[] | undefined): Predicate | null {
  if (sets === undefined || sets.length === 0) return null;
  const compiled = sets.map(compileSet);
  // A set with no matchers matches every request, and so does the OR.
  if (compiled.some((s) => s === null)) return null;
  const tests = compiled as Predicate[];
  if (tests.length === 1) return tests[0]!;
  return (ctx) => {
    for (let i = 0; i < tests.length; i++) if (tests[i]!(ctx)) return true;
    return false;
  };
}

/** One set; null when it has no matchers. */
export function compileSet(set: MatcherSet): Predicate | null {
  if (set === null || typeof set !== 'object' || Array.isArray(set)) throw invalid('a matcher set must be an object');
  const cheap: Predicate[] = [];
  const regexps: Predicate[] = [];
  for (const [name, value] of Object.entries(set)) {
    if (value === undefined) continue;
    switch (name) {
      case 'method':
        cheap.push(compileMethodMatcher(strings(value, name)));
        break;
      case 'host':
        cheap.push(compileHostMatcher(strings(value, name)));
        break;
      case 'path':
        cheap.push(compilePathMatcher(strings(value, name)));
        break;
      case 'protocol':
        if (typeof value !== 'string') throw invalid('protocol: expected a string');
        cheap.push(compileProtocolMatcher(value));
        break;
      case 'remote_ip':
        cheap.push(compileRemoteIpMatcher(ranges(value, name)));
        break;
      case 'client_ip':
        cheap.push(compileClientIpMatcher(ranges(value, name)));
        break;
      case 'header':
        cheap.push(compileHeaderMatcher(object(value, name) as Record<string, string[] | null>));
        break;
      case 'query':
        cheap.push(compileQueryMatcher(object(value, name) as Record<string, string[]>));
        break;
      case 'not':
        if (!Array.isArray(value)) throw invalid('not: expected a list of matcher sets');
        cheap.push(negateSets((value as MatcherSet[]).map(compileSet)));
        break;
      case 'path_regexp': {
        const spec = object(value, name) as { name?: string; pattern?: unknown };
        if (typeof spec.pattern !== 'string') throw invalid('path_regexp: expected a pattern');
        const match = compileCapturingRegexp(spec.name ?? '', spec.pattern);
        regexps.push((ctx) => match(ctx, ctx.path));
        break;
      }
      case 'header_regexp':
        regexps.push(compileHeaderRegexpMatcher(object(value, name) as NonNullable<MatcherSet['header_regexp']>));
        break;
      default:
        throw invalid(`unknown matcher '${name}'`);
    }
  }
  const all = [...cheap, ...regexps];
  if (all.length === 0) return null;
  if (all.length === 1) return all[0]!;
  if (all.length === 2) {
    const [a, b] = all as [Predicate, Predicate];
    return (ctx) => a(ctx) && b(ctx);
  }
  return (ctx) => {
    for (let i = 0; i < all.length; i++) if (!all[i]!(ctx)) return false;
    return true;
  };
}

function invalid(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, message);
}

function strings(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalid(`${name}: expected a list of strings`);
  return value as string[];
}

function object(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${name}: expected an object`);
  return value as Record<string, unknown>;
}

function ranges(value: unknown, name: string): string[] {
  return strings(object(value, name).ranges, name);
}
