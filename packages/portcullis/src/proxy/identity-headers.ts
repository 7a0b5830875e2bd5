/**
 * The identity headers `authenticate` sends upstream (and `jwt`'s claim headers, and
 * `forward_auth`'s copied fields), and their removal from what clients send. Removal is per site, on every route (open ones too), before
 * any handler runs: a client that sends `Remote-User: admin` to an open route of a gated site
 * must not reach an upstream that trusts the header. Names are compared the way upstreams read
 * them: any case, and `_` for `-` (many frameworks, CGI and PHP among them, fold both to the
 * same variable).
 */
import { HEADER_ALIASES, headerKey } from '../config/index.ts';
import type { AuthenticateHandler, RouteConfig } from '../config/types.ts';
import type { SignedInUser } from '../kernel/auth-policy.ts';
import { dropCookies } from '../kernel/cookies.ts';
import type { Handler } from './context.ts';

export type HeaderSetter = readonly [name: string, value: (user: SignedInUser) => string];

/** Every identity header an `authenticate` handler sets, with how its value is made. */
export function identityHeaderSetters(config: AuthenticateHandler): HeaderSetter[] {
  const sets = [{ ...config.headers, groupSeparator: ',', nameCarries: 'name' }, ...config.aliases.map((alias) => HEADER_ALIASES[alias])];
  return sets.flatMap((names): HeaderSetter[] => [
    [names.user, (u) => u.username],
    [names.email, (u) => u.email ?? ''],
    [names.name, names.nameCarries === 'username' ? (u) => u.username : (u) => u.name],
    [names.groups, (u) => u.groups.join(names.groupSeparator)],
  ]);
}

/**
 * Every header name a site's `authenticate` (assertion headers included), `jwt` (claim headers)
 * and `forward_auth` (copy_headers targets) handlers set, folded. forward_auth removes its exact
 * targets itself; only here do `Remote_User` and the like go too, on every route of the site.
 */
export function siteIdentityHeaders(routes: RouteConfig[]): Set<string> {
  const names = new Set<string>();
  const visit = (list: RouteConfig[]) => {
    for (const route of list) {
      for (const h of route.handle) {
        if (h.handler === 'subroute') visit(h.routes);
        if (h.handler === 'jwt') for (const { header } of h.claimHeaders) names.add(headerKey(header));
        if (h.handler === 'forward_auth') for (const { to } of h.copy_headers) names.add(headerKey(to));
        if (h.handler !== 'authenticate') continue;
        for (const [name] of identityHeaderSetters(h)) names.add(headerKey(name));
        if (h.assertionHeader !== null) names.add(headerKey(h.assertionHeader));
      }
    }
  };
  visit(routes);
  return names;
}


/**
 * Wraps a site's handler: removes every client-sent copy of the site's identity headers and
 * Portcullis's own cookies (an upstream never sees a session) before the routes run. A null
 * `cookiePrefix` leaves cookies alone (a config without the identity provider, or the
 * provider's own site).
 */
export function stripIdentityHeaders(names: ReadonlySet<string>, cookiePrefix: string | null, inner: Handler): Handler {
  const own = (cookieName: string) => {
    const bare = cookieName.replace(/^__(Host|Secure)-/, '');
    return bare === cookiePrefix || bare.startsWith(`${cookiePrefix}.`);
  };
  return (ctx, next) => {
    const headers = ctx.req.headers;
    if (names.size > 0) {
      for (const key of Object.keys(headers)) {
        if (names.has(headerKey(key))) delete headers[key];
      }
      const connection = headers.connection;
      if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') headers.connection = unlisted(connection, names);
    }
    if (cookiePrefix !== null) dropCookies(headers, cookiePrefix, own);
    return inner(ctx, next);
  };
}

/**
 * A Connection field without the identity headers it names. The proxy drops the fields a
 * client's Connection lists (RFC 9110 §7.6.1), after the handlers ran: naming Remote-User
 * there would take away the identity `authenticate` set, and the app would see the signed-in
 * request as anonymous.
 */
function unlisted(connection: string, names: ReadonlySet<string>): string {
  const kept = connection.split(',').filter((token) => !names.has(headerKey(token.trim())));
  return kept.join(',');
}
