/** `request_body [<matcher>] { max_size <size> }`: rejects bodies larger than max_size with 413. */
import type { RequestBodyHandler, RouteConfig } from '../types.ts';
import { argCount, eachSubdirective, singleArg, sizeArg } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

export function adaptRequestBody(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 0, 0, 'request_body [<matcher>] { max_size <size> }')) return null;
  let maxSize: number | null = null;
  let given = false;
  eachSubdirective(
    disp,
    d,
    {
      max_size: (sub) => {
        given = true;
        const t = singleArg(disp, sub, 'max_size <size>');
        if (t !== null) maxSize = sizeArg(disp, t, 'max_size');
      },
    },
    { set: 'not supported yet', read_timeout: 'not supported yet', write_timeout: 'not supported yet' },
  );
  if (!given) disp.error(d, 'expected max_size in a block: request_body { max_size 10MB }');
  if (maxSize === null) return null;
  const handler: RequestBodyHandler = { handler: 'request_body', max_size: maxSize };
  return ok ? routeOf(match, handler, d) : null;
}
