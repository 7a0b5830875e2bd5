/**
 * The one way terminal handlers start a response, so queued `header` edits (ctx.responseHeaderOps)
 * are applied exactly once, right before the head goes out, whoever produces the response.
 */
import type { RequestContext } from './context.ts';

/** Applies the queued response header edits, then writes the status line and headers. */
export function writeHead(ctx: RequestContext, status: number): void {
  const ops = ctx.responseHeaderOps;
  for (let i = 0; i < ops.length; i++) ops[i]!(ctx.res, status);
  ctx.res.writeHead(status);
}

/**
 * writeHead with the response's own fields as a flat `[name, value, ...]` list, each name given
 * once and overriding a field of that name set earlier. With no header edits queued and nothing
 * set through setHeader, Node writes the list as it is (no per-field setHeader bookkeeping: the
 * cheapest head it can write); otherwise the fields are set one by one so the edits see them.
 * `contentLength` (-1 when none) is recorded on ctx for the access log, which cannot read a raw
 * list back.
 */
export function writeHeadWith(ctx: RequestContext, status: number, fields: readonly (string | string[])[], contentLength: number): void {
  const res = ctx.res;
  const ops = ctx.responseHeaderOps;
  if (ops.length === 0) {
    res.writeHead(status, fields as string[]);
    // Only once the head is out: a head Node refused leaves the error response to set its own.
    ctx.contentLength = contentLength;
    return;
  }
  // The edits may change any field, Content-Length included: the access log reads them back.
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i] as string, fields[i + 1]!);
  for (let i = 0; i < ops.length; i++) ops[i]!(res, status);
  res.writeHead(status);
}
