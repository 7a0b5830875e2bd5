/** `respond`, `redir` and `abort`: answer from config without calling anything else. */
import type { StaticResponseHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileValue } from '../header-ops.ts';
import { compileTemplate } from '../placeholders.ts';
import { writeHead } from '../response.ts';
import { safeLocation } from '../uri-escape.ts';

type HeaderValue = (ctx: RequestContext) => string | null;

/**
 * A Location value: request values are escaped as TemplateEscape `location` describes, then the
 * whole made header-safe, with the open-redirect guard (safeLocation). A target the operator
 * wrote as protocol-relative (`//cdn.example/x`) is meant; only there is the guard left off.
 */
function compileLocation(template: string): HeaderValue {
  const guard = !/^[/\\]{2}/.test(template);
  const render = compileTemplate(template, { escape: 'location' });
  return (ctx) => safeLocation(render(ctx), guard);
}

/**
 * Other header values: control characters from a placeholder drop the value (header-ops.ts
 * compileValue); a CR/LF would otherwise make Node throw and turn the response into a 500.
 */
function compileHeader(name: string, template: string): HeaderValue {
  return name.toLowerCase() === 'location' ? compileLocation(template) : compileValue(template);
}

/** 1xx, 204 and 304 have no content, so no Content-Type or Content-Length (RFC 9110 §8.6, §15.3.5, §15.4.5). */
function hasNoContent(code: number): boolean {
  return code < 200 || code === 204 || code === 304;
}

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
    ([name, values]) => [name, values.map((v) => compileHeader(name, v))] as const,
  );
  const hasContentType = headers.some(([name]) => name.toLowerCase() === 'content-type');
  const close = config.close === true;

  return (ctx) => {
    const res = ctx.res;
    const code = status(ctx);
    for (const [name, values] of headers) setHeaderValues(res, name, values, ctx);
    const noContent = hasNoContent(code);
    const text = body === null || noContent ? '' : body(ctx);
    if (!noContent) {
      if (text !== '' && !hasContentType) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(text));
    }
    if (close) res.shouldKeepAlive = false;
    writeHead(ctx, code);
    // No body for HEAD, 1xx, 204 and 304 (RFC 9110 §6.4.1).
    res.end(noContent || ctx.method === 'HEAD' ? undefined : text);
    return Promise.resolve();
  };
}

function setHeaderValues(res: RequestContext['res'], name: string, values: readonly HeaderValue[], ctx: RequestContext): void {
  const out: string[] = [];
  for (const value of values) {
    const v = value(ctx);
    if (v !== null) out.push(v);
  }
  if (out.length > 0) res.setHeader(name, out.length === 1 ? out[0]! : out);
}
