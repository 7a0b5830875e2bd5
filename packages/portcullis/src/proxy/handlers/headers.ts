/**
 * The `header` / `request_header` handler (Caddy's http.handlers.headers). Request edits apply
 * at once; response edits are queued on ctx.responseHeaderOps and run by writeHead right before
 * the head goes out, whoever produces the response (Caddy's deferred mode, always: a header set
 * here wins over one an upstream sends, and `require` sees the final status and headers).
 */
import type { HeadersHandler } from '../../config/types.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileRequestHeaderOps, compileResponseHeaderOps } from '../header-ops.ts';

/** Compiles a `headers` handler config into a handler. */
export function createHeaders(config: HeadersHandler, _deps: HandlerDeps): Handler {
  const editRequest = config.request === undefined ? null : compileRequestHeaderOps(config.request);
  const response = config.response;
  const editResponse = response === undefined ? null : compileResponseHeaderOps(response, response.require);
  if (editRequest !== null && editResponse !== null) {
    return (ctx, next) => {
      editRequest(ctx);
      ctx.responseHeaderOps.push((res, status) => editResponse(ctx, res, status));
      return next();
    };
  }
  if (editResponse !== null) {
    return (ctx, next) => {
      ctx.responseHeaderOps.push((res, status) => editResponse(ctx, res, status));
      return next();
    };
  }
  if (editRequest !== null) {
    return (ctx, next) => {
      editRequest(ctx);
      return next();
    };
  }
  return (_ctx, next) => next();
}
