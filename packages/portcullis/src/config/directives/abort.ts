/** `abort [<matcher>]`: drops the connection without a response. */
import type { RouteConfig } from '../types.ts';
import { argCount, noBlock } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

export function adaptAbort(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  noBlock(disp, d);
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 0, 0, 'abort [<matcher>]') || !ok) return null;
  return routeOf(match, { handler: 'static_response', abort: true }, d);
}
