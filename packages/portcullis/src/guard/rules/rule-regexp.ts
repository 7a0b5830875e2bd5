/**
 * Regexps an operator wrote in a `rule` (Go/RE2 syntax, as everywhere in the Caddyfile),
 * compiled so that V8 can always fall back to its linear-time engine when hostile input makes
 * them backtrack: never the `i` flag (compileGoRegexp folds it away with kernel/case-fold.ts)
 * nor `u` (the config refuses `\p{...}` and `\x{...}` in rules), and `\z` as `$` rather than a
 * lookahead (compileGoRegexp does that too when there is no `m`).
 * config/guard-rules.ts refuses what cannot be made so (and nested repetition such as `(a+)+`).
 */
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { compileGoRegexp } from '../../proxy/index.ts';

/** Compiles a rule regexp; throws PortcullisError ERR_CONFIG_INVALID when it cannot be. */
export function compileRuleRegexp(pattern: string): RegExp {
  const re = compileGoRegexp(pattern);
  if (re.flags.includes('u')) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `regexp '${pattern}': \\p{...} and \\x{...} are not supported in rules`);
  // compileGoRegexp keeps `i` only when folding is impossible (a back-reference).
  if (re.flags.includes('i')) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `regexp '${pattern}': cannot be made case-insensitive without the i flag`);
  return re;
}
