/** `respond`, `redir` and `abort`: answer from config without calling anything else. */
import type { StaticResponseHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileTemplate } from '../placeholders.ts';
import { writeHead } from '../response.ts';

function compileStatus(status: number | string | undefined): (ctx: RequestContext) => number {
  if (status === undefined) return () => 200;
  if (typeof status === 'number') return () => status;
  const template = compileTemplate(status);
  return (ctx) => {
    const value = Number(template(ctx));
    // A placeholder that yields garbage must not become a bogus status line.
    if (!Number.isInteger(value) || value < 100 || value > 999) {
      throw new PortcullisError(ErrorCodes.ERR_INTERNAL, `status placeholder gave ${JSON.stringify(template(ctx))}`);
    }
    return value;
  };
}

export function createStaticResponse(config: StaticResponseHandler, _deps: HandlerDeps): Handler {
  if (config.abort) {
    return (ctx) => {
      // Caddy's abort: drop the connection, no response at all.
      ctx.req.socket.destroy();
      return Promise.resolve();
    };
  }
  const status = compileStatus(config.status_code);
  const body = config.body === undefined ? null : compileTemplate(config.body);
  const headers = Object.entries(config.headers ?? {}).map(
    ([name, values]) => [name, values.map((v) => compileTemplate(v))] as const,
  );
  const hasContentType = headers.some(([name]) => name.toLowerCase() === 'content-type');
  const close = config.close === true;

  return (ctx) => {
    const res = ctx.res;
    const code = status(ctx);
    for (const [name, values] of headers) {
      res.setHeader(name, values.length === 1 ? values[0]!(ctx) : values.map((v) => v(ctx)));
    }
    const text = body === null ? '' : body(ctx);
    if (text !== '' && !hasContentType) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    if (close) res.shouldKeepAlive = false;
    writeHead(ctx, code);
    // No body for HEAD, 1xx, 204 and 304 (RFC 9110 §6.4.1).
    const bodyless = ctx.method === 'HEAD' || code < 200 || code === 204 || code === 304;
    res.end(bodyless ? undefined : text);
    return Promise.resolve();
  };
}
