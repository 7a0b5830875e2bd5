/**
 * `respond [<matcher>] <status>|<body> [<status>] { body <text>; close }`: answers from config.
 * With one argument, a three-digit number is the status and anything else the body (Caddy).
 */
import type { RouteConfig, StaticResponseHandler } from '../types.ts';
import { argCount, eachSubdirective, flag, noBlock } from '../dispenser.ts';
import { looksLikeStatus, matcherAndArgs, parseStatus, routeOf, type DirectiveInput } from './common.ts';

const STATUS = { min: 100, max: 599, placeholder: true };

export function adaptRespond(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 0, 2, 'respond [<matcher>] <status>|<body> [<status>]')) return null;
  const handler: StaticResponseHandler = { handler: 'static_response' };
  let good = ok;
  if (args.length === 1 && looksLikeStatus(args[0]!.text)) {
    const status = parseStatus(disp, args[0]!, 'status', STATUS);
    if (status === null) good = false;
    else handler.status_code = status;
  } else if (args.length >= 1) {
    handler.body = args[0]!.text;
    if (args.length === 2) {
      const status = parseStatus(disp, args[1]!, 'status', STATUS);
      if (status === null) good = false;
      else handler.status_code = status;
    }
  }
  eachSubdirective(disp, d, {
    body: (sub) => {
      noBlock(disp, sub);
      if (handler.body !== undefined) {
        disp.error(sub, 'body: the body is already given');
        good = false;
        return;
      }
      if (!argCount(disp, sub, sub.args, 1, 1, 'body <text>')) good = false;
      else handler.body = sub.args[0]!.text;
    },
    close: (sub) => {
      if (handler.close) disp.error(sub, 'close: already given');
      if (flag(disp, sub)) handler.close = true;
    },
  });
  return good ? routeOf(match, handler, d) : null;
}
