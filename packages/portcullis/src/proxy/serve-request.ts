/**
 * One request through one site: the route chain, then Caddy's empty 200 when nothing answered,
 * or the error path: `handle_errors` routes if the site has them, else the default error
 * response. 5xx errors are logged with the id the client sees.
 */
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { endOfChain, type RequestContext } from './context.ts';
import { writeErrorResponse } from './error-response.ts';
import { writeHead } from './response.ts';
import type { CompiledSite } from './runtime.ts';

/**
 * Serves one request (or, when the guard `refused` it, its error path); never rejects. A failure of the error path itself is logged and the
 * connection cut here, so the front door attaches no rejection handler per request.
 */
export async function serveRequest(ctx: RequestContext, site: CompiledSite, refused: PortcullisError | null = null): Promise<void> {
  try {
    try {
      if (refused !== null) throw refused;
      await site.handler(ctx, endOfChain);
      // Nothing wrote a response: Caddy answers 200 with an empty body. (A finished WebSocket
      // tunnel also wrote nothing through res, but its socket is gone.)
      const res = ctx.res;
      if (!res.headersSent && !res.writableEnded && !res.destroyed && res.statusCode !== 101) {
        res.setHeader('Content-Length', 0);
        writeHead(ctx, 200);
        res.end();
      }
    } catch (error) {
      await serveError(ctx, site, toPortcullisError(error));
    }
  } catch (error) {
    ctx.logger.error({ err: error, id: ctx.id }, 'request failed outside the error path');
    ctx.res.destroy();
  }
}

export function toPortcullisError(error: unknown): PortcullisError {
  if (error instanceof PortcullisError) return error;
  return new PortcullisError(ErrorCodes.ERR_INTERNAL, error instanceof Error ? error.message : String(error), { cause: error });
}

async function serveError(ctx: RequestContext, site: CompiledSite, error: PortcullisError): Promise<void> {
  const res = ctx.res;
  if (error.status >= 500) {
    ctx.logger.error({ id: ctx.id, code: error.code, err: error.cause ?? error, site: ctx.siteName, uri: ctx.originalUri }, error.message);
  }
  if (res.headersSent || res.destroyed) {
    // The head is gone: cut the connection so a truncated body can never pass for a whole one.
    res.destroy();
    return;
  }
  // Headers a failed handler already set (say an upstream's) must not leak into the error page;
  // the ones the error itself needs (Allow, Content-Range, Retry-After) come with the error.
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  if (error.headers) for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  if (site.errorHandler !== null && ctx.error === null) {
    ctx.error = error;
    try {
      await site.errorHandler(ctx, endOfChain);
    } catch (nested) {
      const again = toPortcullisError(nested);
      if (again.status >= 500) ctx.logger.error({ id: ctx.id, err: again }, 'handle_errors failed');
    }
    if (res.headersSent || res.destroyed) return;
  }
  writeErrorResponse(ctx, error);
}
