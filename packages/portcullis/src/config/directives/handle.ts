/**
 * Blocks of directives that form a nested route list:
 *
 * - `handle [<matcher>] { ... }`: the first matching `handle` of a block runs, the others are
 *   skipped (they share a group); inside, directives are sorted as in a site.
 * - `handle_path <path> { ... }`: a `handle` that also strips the matched prefix
 *   (`handle_path /api/*` sends `/api/users` on as `/users`). Only a path matcher is allowed.
 * - `route [<matcher>] { ... }`: directives run in the order written, not sorted.
 *
 * Each block may define its own named matchers, visible only inside it.
 */
import type { RouteConfig, SubrouteHandler } from '../types.ts';
import { argCount } from '../dispenser.ts';

import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

function nested(input: DirectiveInput, sorted: boolean): RouteConfig[] {
  const block = input.d.block ?? [];
  return input.nestedRoutes(block, input.scope, sorted);
}

function subroute(kind: SubrouteHandler['kind'], routes: RouteConfig[]): SubrouteHandler {
  return { handler: 'subroute', routes, kind };
}

export function adaptHandle(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  const argsOk = argCount(disp, d, args, 0, 0, 'handle [<matcher>] { ... }');
  const routes = nested(input, true);
  return ok && argsOk ? routeOf(match, subroute('handle', routes), d) : null;
}

export function adaptRoute(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  const argsOk = argCount(disp, d, args, 0, 0, 'route [<matcher>] { ... }');
  const routes = nested(input, false);
  return ok && argsOk ? routeOf(match, subroute('route', routes), d) : null;
}

export function adaptHandlePath(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const routes = nested(input, true);
  if (!argCount(disp, d, d.args, 1, 1, 'handle_path <path> { ... }')) return null;
  const path = d.args[0]!;
  if (!path.text.startsWith('/')) {
    disp.error(path, `the path must start with / (got ${JSON.stringify(path.text)}); handle_path takes only a path, no named matcher`);
    return null;
  }
  // Strip what precedes the wildcard: `/api/*` strips `/api` so the rest keeps its leading slash.
  let strip = path.text;
  if (strip.endsWith('/*')) strip = strip.slice(0, -2);
  else if (strip.endsWith('*')) strip = strip.slice(0, -1);
  const stripRoute: RouteConfig = { handle: [{ handler: 'rewrite', strip_path_prefix: strip }] };
  return routeOf([{ path: [path.text] }], subroute('handle_path', [stripRoute, ...routes]), d);
}

