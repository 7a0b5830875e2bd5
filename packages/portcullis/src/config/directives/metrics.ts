/** `metrics [<matcher>]`: serves the Prometheus metrics of this process on the matching route. */
import type { RouteConfig } from '../types.ts';
import { argCount, eachSubdirective } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

export function adaptMetrics(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 0, 0, 'metrics [<matcher>]')) return null;
  eachSubdirective(disp, d, {}, { disable_openmetrics: 'not supported yet (the endpoint serves the Prometheus text format)' });
  return ok ? routeOf(match, { handler: 'metrics' }, d) : null;
}
