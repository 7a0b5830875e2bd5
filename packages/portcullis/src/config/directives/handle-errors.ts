/**
 * `handle_errors { ... }`: routes that answer when a handler fails (an upstream down, a file
 * missing, an `error` directive). `{err.status_code}` and `{err.message}` describe the error.
 * Directives inside are sorted as in a site; several handle_errors blocks add up, in order.
 */
import type { Directive } from '../ast.ts';
import type { RouteConfig } from '../types.ts';
import type { Dispenser } from '../dispenser.ts';
import type { MatcherScope } from '../matcher-syntax.ts';

export function adaptHandleErrors(
  d: Directive,
  disp: Dispenser,
  scope: MatcherScope,
  nestedRoutes: (block: Directive[], scope: MatcherScope, sorted: boolean) => RouteConfig[],
): RouteConfig[] {
  if (d.args.length > 0) {
    // Caddy 2.8 filters by status here (via CEL expressions); match on {err.status_code} is not possible yet.
    disp.error(d.args[0]!, 'status code filters are not supported yet; write handle_errors { ... } and branch inside with error-independent matchers');
  }
  if (d.block === null) {
    disp.error(d, 'expected a block: handle_errors { ... }');
    return [];
  }
  return nestedRoutes(d.block, scope, true);
}
