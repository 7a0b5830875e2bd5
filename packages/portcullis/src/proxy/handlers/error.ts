/** `error`: fail the request on purpose with a status, so `handle_errors` can take over. */
import type { ErrorHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileTemplate } from '../placeholders.ts';

export function createError(config: ErrorHandler, _deps: HandlerDeps): Handler {
  const message = compileTemplate(config.error);
  const status = typeof config.status_code === 'number' ? () => config.status_code as number : (() => {
    const template = compileTemplate(String(config.status_code));
    return (ctx: Parameters<Handler>[0]) => Number(template(ctx));
  })();
  return (ctx) => {
    let code = status(ctx);
    if (!Number.isInteger(code) || code < 400 || code > 599) code = 500;
    return Promise.reject(new PortcullisError(ErrorCodes.ERR_HTTP_STATUS, message(ctx), { status: code }));
  };
}
