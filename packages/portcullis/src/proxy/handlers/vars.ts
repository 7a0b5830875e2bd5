/** `vars` and `root`: set request variables read by `{vars.NAME}` and file_server. */
import type { VarsHandler } from '../../config/types.ts';
import type { Handler } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileTemplate } from '../placeholders.ts';

export function createVars(config: VarsHandler, _deps: HandlerDeps): Handler {
  const names = Object.keys(config.vars);
  const values = names.map((name) => compileTemplate(config.vars[name]!));
  return (ctx, next) => {
    for (let i = 0; i < names.length; i++) ctx.vars[names[i]!] = values[i]!(ctx);
    return next();
  };
}
