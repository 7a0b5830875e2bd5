/**
 * `{$VAR}` and `{$VAR:default}` substitution, done on a file's text before it is lexed, as
 * Caddy does: a value may therefore hold a partial token, several tokens or even several lines
 * (`trusted_proxies static {$PROXIES}` with PROXIES="10.0.0.0/8 fd00::/8" gives two args).
 * Values are spliced once and never scanned again for `{$`, so a value cannot pull in another
 * variable. Newlines that come from a value still end a directive line, but they are recorded
 * so the lexer does not count them: line numbers keep pointing at the file the user wrote.
 */

export type Env = Record<string, string | undefined>;

export interface EnvExpansion {
  text: string;
  /** Offsets in `text` of newline characters that came from variable values. */
  injectedNewlines: Set<number>;
}

const OPEN = '{$';
const DEFAULT_DELIMITER = ':';

/**
 * Replaces every `{$NAME}` / `{$NAME:default}` in `text`. An unset variable without a default
 * becomes the empty string and a set-but-empty one stays empty (Caddy's behaviour). The span
 * must close on the same line; `{$}` and an unclosed `{$` are left as written.
 */
export function expandEnv(text: string, env: Env): EnvExpansion {
  const injectedNewlines = new Set<number>();
  let from = text.indexOf(OPEN);
  if (from < 0) return { text, injectedNewlines };
  let out = '';
  let copied = 0;
  while (from >= 0) {
    const close = text.indexOf('}', from + OPEN.length);
    const eol = text.indexOf('\n', from);
    if (close < 0 || (eol >= 0 && eol < close)) {
      // Not a placeholder on this line: keep scanning after it.
      from = text.indexOf(OPEN, from + OPEN.length);
      continue;
    }
    const spec = text.slice(from + OPEN.length, close);
    if (spec === '') {
      from = text.indexOf(OPEN, close + 1);
      continue;
    }
    const cut = spec.indexOf(DEFAULT_DELIMITER);
    const name = cut < 0 ? spec : spec.slice(0, cut);
    const fallback = cut < 0 ? '' : spec.slice(cut + 1);
    const value = Object.hasOwn(env, name) && env[name] !== undefined ? (env[name] as string) : fallback;
    out += text.slice(copied, from);
    for (let nl = value.indexOf('\n'); nl >= 0; nl = value.indexOf('\n', nl + 1)) {
      injectedNewlines.add(out.length + nl);
    }
    out += value;
    copied = close + 1;
    from = text.indexOf(OPEN, copied);
  }
  return { text: out + text.slice(copied), injectedNewlines };
}
