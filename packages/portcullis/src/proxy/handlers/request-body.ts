/**
 * `request_body max_size`: refuse request bodies over a size with 413. A declared
 * Content-Length over the limit is refused before anything is read; a chunked body is counted
 * as it arrives and the request is cut off the moment it passes the limit.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestBodyHandler } from '../../config/types.ts';
import { ErrorCodes, httpError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { writeErrorResponse } from '../error-response.ts';

type Push = IncomingMessage['push'];

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

function tooLarge(max: number) {
  return httpError(413, `request body is larger than ${max} bytes`, ErrorCodes.ERR_HTTP_BODY_TOO_LARGE);
}

/**
 * The http parser feeds the body through `push`, so counting there sees every byte before any
 * consumer (reverse_proxy, a form parser) does, without switching the stream to flowing mode.
 */
function limitStream(ctx: RequestContext, max: number): void {
  const req = ctx.req;
  const push: Push = req.push;
  let seen = 0;
  req.push = function limitedPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined) {
      seen += (chunk as Buffer).length;
      if (seen > max) {
        req.push = push;
        if (!ctx.res.headersSent) {
          ctx.res.shouldKeepAlive = false;
          writeErrorResponse(ctx, tooLarge(max));
        }
        req.destroy(tooLarge(max));
        return false;
      }
    }
    return push.call(this, chunk, encoding);
  } as Push;
}
