/**
 * `vars [<matcher>] [<name> <value>] { <name> <value>... }` sets request variables
 * (`{vars.NAME}`); `log_skip [<matcher>]` (Caddy's, also spelled `skip_log`) sets the variable
 * that keeps a request out of the access log.
 */
import type { Token } from '../ast.ts';
import type { RouteConfig } from '../types.ts';
import { argCount, noBlock, type Dispenser } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

function addVar(disp: Dispenser, vars: Record<string, string>, tokens: Token[], at: Token): boolean {
  if (tokens.length !== 2) {
    disp.error(at, `expected a name and a value, got ${tokens.length} token${tokens.length === 1 ? '' : 's'} (usage: vars [<matcher>] <name> <value>)`);
    return false;
  }
  vars[tokens[0]!.text] = tokens[1]!.text;
  return true;
}

export function adaptVars(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  const vars: Record<string, string> = {};
  let good = ok;
  if (args.length > 0) good = addVar(disp, vars, args, args[0]!) && good;
  for (const sub of d.block ?? []) {
    noBlock(disp, sub);
    good = addVar(disp, vars, [sub.nameToken, ...sub.args], sub.nameToken) && good;
  }
  if (args.length === 0 && (d.block === null || d.block.length === 0)) {
    disp.error(d, 'expected variables to set (usage: vars [<matcher>] <name> <value>, or a block of name value lines)');
    return null;
  }
  return good ? routeOf(match, { handler: 'vars', vars }, d) : null;
}

export function adaptLogSkip(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  noBlock(disp, d);
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 0, 0, `${d.name} [<matcher>]`) || !ok) return null;
  return routeOf(match, { handler: 'vars', vars: { log_skip: 'true' } }, d);
}
