/**
 * `uri [<matcher>] strip_prefix <prefix> | strip_suffix <suffix> | replace <find> <replace>
 * [<limit>] | path_regexp <regexp> <replace>`: edits the request path in place.
 */
import type { RewriteHandler, RouteConfig } from '../types.ts';
import { argCount, intArg, noBlock } from '../dispenser.ts';
import { checkRegexp } from '../matcher-syntax.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

const USAGE = 'uri [<matcher>] strip_prefix|strip_suffix|replace|path_regexp ...';

export function adaptUri(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  noBlock(disp, d);
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 1, Infinity, USAGE)) return null;
  const [op, ...rest] = args;
  const handler: RewriteHandler = { handler: 'rewrite' };
  const count = (min: number, max: number, usage: string) => argCount(disp, d, rest, min, max, usage);
  switch (op!.text) {
    case 'strip_prefix': {
      if (!count(1, 1, 'uri strip_prefix <prefix>')) return null;
      const prefix = rest[0]!.text;
      // Caddy adds the leading slash a prefix was written without.
      handler.strip_path_prefix = prefix.startsWith('/') ? prefix : '/' + prefix;
      break;
    }
    case 'strip_suffix':
      if (!count(1, 1, 'uri strip_suffix <suffix>')) return null;
      handler.strip_path_suffix = rest[0]!.text;
      break;
    case 'replace': {
      if (!count(2, 3, 'uri replace <find> <replace> [<limit>]')) return null;
      if (rest[0]!.text === '') {
        disp.error(rest[0]!, 'replace: the text to find is empty');
        return null;
      }
      const sub: { find: string; replace: string; limit?: number } = { find: rest[0]!.text, replace: rest[1]!.text };
      if (rest[2] !== undefined) {
        const limit = intArg(disp, rest[2], 'replace limit', 0, Number.MAX_SAFE_INTEGER);
        if (limit === null) return null;
        sub.limit = limit;
      }
      handler.uri_substring = [sub];
      break;
    }
    case 'path_regexp': {
      if (!count(2, 2, 'uri path_regexp <regexp> <replace>')) return null;
      const problem = checkRegexp(rest[0]!.text);
      if (problem !== null) {
        disp.error(rest[0]!, `path_regexp: ${problem}`);
        return null;
      }
      handler.path_regexp = [{ find: rest[0]!.text, replace: rest[1]!.text }];
      break;
    }
    case 'query':
      disp.error(op!, 'query: editing the query with uri is not supported yet (use rewrite with ?query)');
      return null;
    default:
      disp.error(op!, `unknown operation ${JSON.stringify(op!.text)} (expected strip_prefix, strip_suffix, replace or path_regexp)`);
      return null;
  }
  return ok ? routeOf(match, handler, d) : null;
}
