/** `metrics`: serves the process's Prometheus metrics on the route it is placed on. */
import type { MetricsHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { writeHead } from '../response.ts';

export function createMetricsEndpoint(_config: MetricsHandler, deps: HandlerDeps): Handler {
  if (deps.metrics === null) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, 'metrics handler compiled without a metrics kit');
  const registry = deps.metrics.registry;
  return async (ctx) => {
    const body = await registry.metrics();
    ctx.res.setHeader('Content-Type', registry.contentType);
    ctx.res.setHeader('Content-Length', Buffer.byteLength(body));
    writeHead(ctx, 200);
    ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
  };
}
