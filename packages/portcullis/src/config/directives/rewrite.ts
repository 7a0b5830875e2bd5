/**
 * `rewrite [<matcher>] <to>`: replaces the request URI (path and/or `?query`, placeholders
 * allowed) before later handlers see it. Rewrites of one block are mutually exclusive: only the
 * first matching one runs (Caddy issue #2959).
 */
import type { RouteConfig } from '../types.ts';
import { argCount, noBlock } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

export function adaptRewrite(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  noBlock(disp, d);
  // With one argument it is the target, even when it starts with "/" (Caddy).
  const { match, args, ok } = matcherAndArgs(input, 1);
  if (!argCount(disp, d, args, 1, 1, 'rewrite [<matcher>] <to>') || !ok) return null;
  const to = args[0]!.text;
  if (to === '') {
    disp.error(args[0]!, 'the rewrite target is empty');
    return null;
  }
  return routeOf(match, { handler: 'rewrite', uri: to }, d);
}
