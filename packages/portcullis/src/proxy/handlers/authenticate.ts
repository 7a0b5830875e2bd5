/**
 * `authenticate`: only signed-in users the policy admits go on; their identity goes upstream
 * in headers. Answered in-process from the sign-in session (no call to an auth server).
 * An anonymous browser is sent to sign in and comes back to the exact URL it asked for;
 * anything else that is anonymous gets 401. The site has already removed client-sent copies
 * of these headers and the session cookie (identity-headers.ts).
 */
import type { AuthenticateHandler } from '../../config/types.ts';
import { compilePolicy } from '../../kernel/auth-policy.ts';
import { headerValue } from '../../kernel/header-value.ts';
import { ErrorCodes, httpError, PortcullisError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { identityHeaderSetters } from '../identity-headers.ts';
import { writeHead } from '../response.ts';

export function createAuthenticate(config: AuthenticateHandler, deps: HandlerDeps): Handler {
  const auth = deps.authenticator;
  if (auth === null) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, 'authenticate compiled without the identity module');
  const admitted = compilePolicy(config.require);
  const setters = identityHeaderSetters(config).map(([name, value]) => [name.toLowerCase(), value] as const);
  const assertionHeader = config.assertionHeader?.toLowerCase() ?? null;
  const denyStatus = config.denyStatus;

  return async (ctx, next) => {
    const user = await auth.identify(ctx.clientCookie);
    if (user === null) {
      if (wantsPage(ctx)) return redirect(ctx, auth.signInUrl(`${ctx.scheme}://${ctx.hostport}${ctx.originalUri}`));
      throw httpError(401, 'sign-in required', ErrorCodes.ERR_HTTP_UNAUTHORIZED);
    }
    if (!admitted(user)) throw httpError(denyStatus, denyStatus === 404 ? 'not found' : 'not allowed', ErrorCodes.ERR_HTTP_FORBIDDEN);
    const headers = ctx.req.headers;
    for (const [name, value] of setters) headers[name] = headerValue(value(user));
    if (assertionHeader !== null) headers[assertionHeader] = await auth.assertion(user, `${ctx.scheme}://${ctx.hostport}`);
    return next();
  };
}

/** A browser navigating (not a script or an API client): it can follow a sign-in redirect. */
function wantsPage(ctx: RequestContext): boolean {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
  const accept = ctx.req.headers.accept;
  return accept !== undefined && accept.includes('text/html');
}

function redirect(ctx: RequestContext, location: string): void {
  ctx.res.setHeader('Location', location);
  ctx.res.setHeader('Cache-Control', 'no-store');
  ctx.res.setHeader('Content-Length', 0);
  writeHead(ctx, 302);
  ctx.res.end();
}

