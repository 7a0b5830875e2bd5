/**
 * `request_body max_size`: refuse request bodies over a size with 413. A declared
 * Content-Length over the limit is refused before anything is read. A chunked body is counted
 * as it arrives; the moment it passes the limit the request stream fails with the 413, and
 * whoever reads the body (reverse_proxy) sees that error and fails the same way, so the 413
 * goes out through the normal error path (handle_errors, error id, access log). The
 * connection is closed after that response, since the rest of the body is never read.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestBodyHandler } from '../../config/types.ts';
import { ErrorCodes, httpError, type PortcullisError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';

type Push = IncomingMessage['push'];

/** Compiles one request_body handler. */
export function createRequestBody(config: RequestBodyHandler, _deps: HandlerDeps): Handler {
  const max = config.max_size;
  return (ctx, next) => {
    const declared = ctx.req.headers['content-length'];
    if (declared !== undefined && Number(declared) > max) {
      ctx.res.shouldKeepAlive = false;
      return Promise.reject(tooLarge(max));
    }
    limitStream(ctx, max);
    return next();
  };
}

function tooLarge(max: number): PortcullisError {
  return httpError(413, `request body is larger than ${max} bytes`, ErrorCodes.ERR_HTTP_BODY_TOO_LARGE);
}

/** Absorbs the refusal for a request nobody reads: an 'error' without a listener would kill the process. */
function ignore(): void {}

/**
 * The http parser feeds the body through `push`, so counting there sees every byte before any
 * consumer (reverse_proxy, a form parser) does, without switching the stream to flowing mode.
 * Past the limit no byte reaches the stream again: the chunk that crossed it and everything
 * after are dropped, and returning false makes the parser stop reading the socket.
 */
function limitStream(ctx: RequestContext, max: number): void {
  const req = ctx.req;
  const push: Push = req.push;
  let seen = 0;
  let refused = false;
  req.push = function limitedPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (refused) return false;
    if (chunk !== null && chunk !== undefined) {
      seen += (chunk as Buffer).length;
      if (seen > max) {
        refused = true;
        refuse(ctx, tooLarge(max));
        return false;
      }
    }
    return push.call(this, chunk, encoding);
  } as Push;
}

/**
 * Fails the request stream with `error` while keeping the connection, so the 413 can still be
 * written. Runs inside the parser's push: it only changes state; the 'error' event itself is
 * emitted on the next tick by the stream machinery.
 */
function refuse(ctx: RequestContext, error: PortcullisError): void {
  const { req, res } = ctx;
  // The body is left unread on the wire: the connection cannot carry another request.
  res.shouldKeepAlive = false;
  if (res.headersSent) {
    // No 413 can be sent any more. A finished response stays whole (its bytes are flushed
    // before the close); one still being written is cut, so it cannot pass for complete.
    const socket = req.socket;
    if (res.writableEnded && !res.writableFinished) res.once('finish', () => socket.destroy());
    else socket.destroy();
  }
  if (req.destroyed) return;
  // IncomingMessage's own _destroy resets the socket of an incomplete request, which would
  // throw away the 413 before it is written. The socket's lifetime stays with the response
  // (shouldKeepAlive above), the stream just fails.
  req._destroy = (err, callback) => callback(err);
  req.on('error', ignore);
  req.destroy(error);
}
