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
