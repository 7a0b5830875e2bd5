/**
 * Regexps an operator wrote in a `rule` (Go/RE2 syntax, as everywhere in the Caddyfile),
 * compiled so that V8 can always fall back to its linear-time engine when hostile input makes
 * them backtrack: never the `i` flag (case-fold.ts rewrites it away) nor `u` (the config
 * refuses `\p{...}` and `\x{...}` in rules), and `\z` as `$` rather than a lookahead.
 * config/guard-rules.ts refuses what cannot be made so (and nested repetition such as `(a+)+`).
 */
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { compileGoRegexp } from '../../proxy/index.ts';
import { foldCase } from './case-fold.ts';

/** compileGoRegexp spells `\z` as this lookahead, which the linear-time engine refuses. */
const END_OF_INPUT = '(?![\\s\\S])';

/** Compiles a rule regexp; throws PortcullisError ERR_CONFIG_INVALID when it cannot be. */
export function compileRuleRegexp(pattern: string): RegExp {
  const re = compileGoRegexp(pattern);
  let flags = re.flags;
  let source = re.source;
  if (flags.includes('u')) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `regexp '${pattern}': \\p{...} and \\x{...} are not supported in rules`);
  // Without `m`, `$` already means the end of the input in JavaScript.
  if (!flags.includes('m')) source = source.replaceAll(END_OF_INPUT, '$');
  if (flags.includes('i')) {
    source = foldCase(source);
    flags = flags.replace('i', '');
  }
  return new RegExp(source, flags);
}
