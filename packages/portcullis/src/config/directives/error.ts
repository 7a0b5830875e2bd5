/**
 * `error [<matcher>] <status>|<message> [<status>] { message <text> }`: fails the request with
 * an error the site's handle_errors routes (or the default error page) answer. Status 500 by
 * default; with one argument a three-digit number is the status, anything else the message.
 */
import type { ErrorHandler, RouteConfig } from '../types.ts';
import { argCount, eachSubdirective, noBlock } from '../dispenser.ts';
import { looksLikeStatus, matcherAndArgs, parseStatus, routeOf, type DirectiveInput } from './common.ts';

const STATUS = { min: 400, max: 599, placeholder: true };

export function adaptError(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 1, 2, 'error [<matcher>] <status>|<message> [<status>]')) return null;
  const handler: ErrorHandler = { handler: 'error', status_code: 500, error: '' };
  let good = ok;
  let statusToken = args.length === 2 ? args[1] : undefined;
  if (args.length === 1 && looksLikeStatus(args[0]!.text)) statusToken = args[0];
  else handler.error = args[0]!.text;
  if (statusToken !== undefined) {
    const status = parseStatus(disp, statusToken, 'status', STATUS);
    if (status === null) good = false;
    else handler.status_code = status;
  }
  eachSubdirective(disp, d, {
    message: (sub) => {
      noBlock(disp, sub);
      if (handler.error !== '') {
        disp.error(sub, 'message: the message is already given');
        good = false;
      } else if (argCount(disp, sub, sub.args, 1, 1, 'message <text>')) handler.error = sub.args[0]!.text;
      else good = false;
    },
  });
  return good ? routeOf(match, handler, d) : null;
}
