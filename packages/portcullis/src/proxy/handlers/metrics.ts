/** `metrics`: serves the process's Prometheus metrics on the route it is placed on. */
import type { MetricsHandler } from '../../config/types.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { writeHead } from '../response.ts';

export function createMetricsEndpoint(_config: MetricsHandler, deps: HandlerDeps): Handler {
  const registry = deps.metrics;
  return async (ctx) => {
    const body = await registry.metrics();
    ctx.res.setHeader('Content-Type', registry.contentType);
    ctx.res.setHeader('Content-Length', Buffer.byteLength(body));
    writeHead(ctx, 200);
    ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
  };
}
