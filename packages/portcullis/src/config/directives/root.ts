/** `root [<matcher>] <path>`: sets the site root (the `root` var) that file_server serves from. */
import { argCount, noBlock } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';
import type { RouteConfig } from '../types.ts';

export function adaptRoot(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  noBlock(disp, d);
  // With one argument it is the path, even when it starts with "/" (Caddy).
  const { match, args, ok } = matcherAndArgs(input, 1);
  if (!argCount(disp, d, args, 1, 1, 'root [<matcher>] <path>') || !ok) return null;
  return routeOf(match, { handler: 'vars', vars: { root: args[0]!.text } }, d);
}
