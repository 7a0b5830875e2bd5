/**
 * `identity_provider`: hands the request to the identity module (OpenID endpoints and login
 * pages). The route's queued `header` edits (HSTS, say) still apply: they run right before
 * the identity module's response head goes out.
 */
import type { IdentityProviderHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';

export function createIdentityProvider(_config: IdentityProviderHandler, deps: HandlerDeps): Handler {
  const identity = deps.identity;
  if (identity === null) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, 'identity_provider compiled without the identity module');
  return async (ctx) => {
    if (ctx.responseHeaderOps.length > 0) applyHeaderOpsOnHead(ctx);
    await identity.handle(ctx.req, ctx.res, { clientIp: ctx.clientIp, remoteIp: ctx.remoteIp, id: ctx.id });
  };
}

/** Runs the queued header edits once, whichever way the response head is written. */
function applyHeaderOpsOnHead(ctx: RequestContext): void {
  const res = ctx.res;
  const writeHead = res.writeHead;
  const ops = ctx.responseHeaderOps;
  res.writeHead = function (this: typeof res, status: number, ...rest: unknown[]) {
    res.writeHead = writeHead;
    for (const op of ops) op(res, status);
    return (writeHead as (...args: unknown[]) => typeof res).call(this, status, ...rest);
  } as typeof res.writeHead;
}
