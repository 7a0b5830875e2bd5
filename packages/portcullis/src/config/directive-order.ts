/**
 * The order in which a site's directives run, whatever order they are written in (Caddy's
 * directive order, so a Caddyfile means the same thing here). `route` blocks keep the order they
 * are written in. The `order` global option moves a directive.
 */
import type { RouteConfig } from './types.ts';

/**
 * Caddy's standard order, with Portcullis' own directives placed where they belong. Names that
 * are not implemented stay in the table so `order x after try_files` still resolves; using
 * them in a site is an error.
 */
export const DEFAULT_DIRECTIVE_ORDER: readonly string[] = [
  'tracing',
  // set variables that later directives read
  'map',
  'vars',
  'fs',
  'root',
  'log_append',
  'skip_log',
  'log_skip',
  'log_name',
  'header',
  'copy_response_headers',
  'request_body',
  'redir',
  // incoming request manipulation
  'method',
  'rewrite',
  'uri',
  'try_files',
  // access control: throttle first, then establish who the client is
  'rate_limit',
  'authenticate',
  'basic_auth',
  'basicauth',
  'forward_auth',
  'jwt',
  'request_header',
  'encode',
  'push',
  'intercept',
  'templates',
  // routing
  'invoke',
  'handle',
  'handle_path',
  'route',
  // handlers that respond
  'abort',
  'error',
  'copy_response',
  'respond',
  'metrics',
  'identity_provider',
  'reverse_proxy',
  'php_fastcgi',
  'file_server',
  'acme_server',
];

/** Directives of later Portcullis releases: reserved in the order table, an error to use today. */
export const RESERVED_DIRECTIVES: Record<string, string> = {};

export type OrderPosition = 'first' | 'last' | 'before' | 'after';

/** Moves `name` in `order`; returns the new order, or an error message. */
export function moveDirective(order: readonly string[], name: string, position: OrderPosition, other: string | null): string[] | string {
  if (name === other) return `cannot order ${name} relative to itself`;
  const without = order.filter((d) => d !== name);
  switch (position) {
    case 'first':
      return [name, ...without];
    case 'last':
      return [...without, name];
    default: {
      const at = without.indexOf(other ?? '');
      if (at === -1) return `${JSON.stringify(other)} is not a directive in the order table`;
      const index = position === 'before' ? at : at + 1;
      return [...without.slice(0, index), name, ...without.slice(index)];
    }
  }
}

/** A route produced by one directive, remembered with that directive for sorting and grouping. */
export interface DirectiveRoute {
  /** Directive name, with `handle_path` counted as `handle` (Caddy sorts them together). */
  directive: string;
  route: RouteConfig;
}

/**
 * Sorts routes by directive order (stable). Among routes of one directive, Caddy puts the more
 * specific path first: a single-path matcher before a shorter one, and a route with any matcher
 * before one without; for `vars` the least specific comes first so the most specific sets last.
 */
export function sortRoutes(routes: DirectiveRoute[], order: readonly string[]): void {
  const position = new Map(order.map((d, i) => [d, i]));
  const pos = (d: string) => position.get(d) ?? order.length;
  // Array.prototype.sort is stable, as Caddy's sort.SliceStable.
  routes.sort((a, b) => {
    if (a.directive !== b.directive) return pos(a.directive) - pos(b.directive);
    const aFirst = moreSpecific(a.route, b.route);
    const bFirst = moreSpecific(b.route, a.route);
    if (aFirst === bFirst) return 0;
    const first = a.directive === 'vars' ? !aFirst : aFirst;
    return first ? -1 : 1;
  });
}

function singlePath(route: RouteConfig): string | null {
  if (route.match?.length !== 1) return null;
  const paths = route.match[0]!.path;
  return paths?.length === 1 ? paths[0]! : null;
}

/** Caddy's "i sorts before j" for two routes of the same directive. */
function moreSpecific(i: RouteConfig, j: RouteConfig): boolean {
  const ip = singlePath(i);
  const jp = singlePath(j);
  if (ip !== null && jp !== null && ip.length > 0 && jp.length > 0) {
    // `/foo` before `/foo*`: same path apart from a trailing wildcard, shorter is more specific.
    if (ip.replace(/\*$/, '') === jp.replace(/\*$/, '')) return ip.length < jp.length;
    return ip.length > jp.length;
  }
  return (i.match?.length ?? 0) > 0 && (j.match?.length ?? 0) === 0;
}

/**
 * Some directives are mutually exclusive, as in Caddy: only the first matching `handle` (and
 * `handle_path`), `root` or `rewrite` of a route list runs. Their routes share a group; a
 * single `handle` or `root` needs none, while `rewrite` always gets one so it is never merged
 * with neighbours (the rewritten request may no longer match them).
 */
export function groupExclusiveRoutes(routes: DirectiveRoute[], nextGroup: () => string): void {
  for (const directive of ['handle', 'rewrite', 'root']) {
    const members = routes.filter((r) => r.directive === directive);
    if (members.length === 0 || (members.length === 1 && directive !== 'rewrite')) continue;
    const group = nextGroup();
    for (const m of members) m.route.group = group;
  }
}
