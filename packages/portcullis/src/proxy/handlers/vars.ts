/** `vars` and `root`: set request variables read by `{vars.NAME}` and file_server. */
import type { VarsHandler } from '../../config/types.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileTemplate } from '../placeholders.ts';

export function createVars(config: VarsHandler, _deps: HandlerDeps): Handler {
  const entries = Object.entries(config.vars).map(([name, value]) => [name, compileTemplate(value)] as const);
  return (ctx, next) => {
    for (const [name, value] of entries) ctx.vars[name] = value(ctx);
    return next();
  };
}
