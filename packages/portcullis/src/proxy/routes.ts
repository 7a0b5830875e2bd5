/**
 * Route lists with Caddy's semantics: routes run in order; a route whose matchers fail is
 * skipped; only the first matching route of a group runs (`handle` blocks); a terminal route
 * ends the list (its handlers' `next` does nothing). A route's handlers form a middleware chain
 * whose end continues with the following routes.
 *
 * Per request this allocates as little as it can: a route with one handler gets the
 * continuation itself as its `next`, and a route whose followers can only be skipped (the rest
 * of its `handle` group, or nothing) continues with the list's own `next`, so the common shapes
 * (`handle` blocks, a subroute of single-handler routes) create one closure or none.
 */
import { basename } from 'node:path';
import type { HandlerConfig, RouteConfig } from '../config/types.ts';
import type { Handler, Next, RequestContext } from './context.ts';
import { endOfChain } from './context.ts';
import { compileMatcherSets } from './matchers/compile.ts';

interface CompiledRoute {
  match: ((ctx: RequestContext) => boolean) | null;
  group: string | null;
  terminal: boolean;
  chain: Handler[];
  /** `file:line` for metrics; '' when the route has no source. */
  name: string;
  /**
   * Where the list continues once this route ran: the first later route not in this route's
   * group (those are skipped unconditionally, their group being taken now).
   */
  resumeAt: number;
  /** Whether a route at or after resumeAt shares the group, so the taken group must be recorded. */
  recordGroup: boolean;
}

let listCounter = 0;

/** Compiles a route list into one handler; `compileHandler` turns each handler config into a closure. */
export function compileRouteList(routes: RouteConfig[], compileHandler: (config: HandlerConfig) => Handler): Handler {
  // Group names are made unique per list: a nested list reusing "group0" must not collide
  // with the enclosing list's group of the same name in the per-request set.
  const listId = ++listCounter;
  const compiled: CompiledRoute[] = routes.map((route) => ({
    match: compileMatcherSets(route.match),
    group: route.group ? `${listId}:${route.group}` : null,
    terminal: route.terminal === true,
    chain: route.handle.map(compileHandler),
    name: route.source ? `${basename(route.source.file)}:${route.source.line}` : '',
    resumeAt: 0,
    recordGroup: false,
  }));
  for (let i = 0; i < compiled.length; i++) {
    const route = compiled[i]!;
    let resume = i + 1;
    if (route.group !== null) {
      while (resume < compiled.length && compiled[resume]!.group === route.group) resume++;
      for (let j = resume; j < compiled.length; j++) if (compiled[j]!.group === route.group) route.recordGroup = true;
    }
    route.resumeAt = resume;
  }
  const count = compiled.length;

  function runFrom(ctx: RequestContext, start: number, next: Next): Promise<void> {
    for (let i = start; i < count; i++) {
      const route = compiled[i]!;
      if (route.match !== null && !route.match(ctx)) continue;
      if (route.group !== null) {
        const groups = ctx.groups;
        if (groups !== null && groups.has(route.group)) continue;
        if (route.recordGroup) (groups ?? (ctx.groups = new Set())).add(route.group);
      }
      // The innermost matched route with a source names the request in metrics.
      if (route.name !== '') ctx.routeName = route.name;
      const resume = route.resumeAt;
      const after: Next = route.terminal ? endOfChain : resume >= count ? next : () => runFrom(ctx, resume, next);
      const chain = route.chain;
      if (chain.length === 1) return chain[0]!(ctx, after);
      return runChain(ctx, chain, 0, after);
    }
    return next();
  }

  return (ctx, next) => runFrom(ctx, 0, next);
}

function runChain(ctx: RequestContext, chain: Handler[], index: number, after: Next): Promise<void> {
  if (index === chain.length) return after();
  return chain[index]!(ctx, () => runChain(ctx, chain, index + 1, after));
}
