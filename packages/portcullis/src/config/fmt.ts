/**
 * `portcullis fmt`: canonical Caddyfile layout, as `caddy fmt` does (caddyconfig/caddyfile/
 * formatter.go). Only the space between tokens changes: tabs by nesting depth, one space
 * between tokens on a line, at most one blank line, `{` at the end of the line it opens, `}`
 * alone on its line, a blank line after each top-level block. Every token (comments, quotes,
 * backticks, heredocs, escapes, `{$ENV}`) is written exactly as it was.
 */
import { lex } from './lexer.ts';
import type { LexToken } from './lexer.ts';

/** Canonical formatting, as `caddy fmt` does: tabs for nesting, one space between tokens, comments kept. */
export function formatCaddyfile(text: string): string {
  const { tokens, errors } = lex(text, '', { comments: true });
  // Text that does not lex (an unclosed quote...) is left alone rather than guessed at, and so
  // is nesting deeper than the parser accepts (its indentation alone would be enormous).
  if (errors.length > 0 || maxDepth(tokens) > MAX_DEPTH) return verbatim(text);
  const out = render(text, tokens);
  // Backstop, as Caddy's formatter has: formatting must not change what the file means and
  // must be a fixed point. Should some odd input slip past the rules, keep it as written.
  const again = lex(out, '', { comments: true });
  if (again.errors.length > 0 || !sameMeaning(text, out) || render(out, again.tokens) !== out) return verbatim(text);
  return out;
}

/** As in the parser: deeper blocks are refused there. */
const MAX_DEPTH = 64;

function maxDepth(tokens: LexToken[]): number {
  let depth = 0;
  let max = 0;
  for (const t of tokens) {
    if (isWord(t, '{')) max = Math.max(max, ++depth);
    else if (isWord(t, '}') && depth > 0) depth--;
  }
  return max;
}

function verbatim(text: string): string {
  return text.trim() + '\n';
}

function isWord(t: LexToken | undefined, text: string): boolean {
  return t !== undefined && t.kind === 'word' && t.text === text;
}

function render(src: string, tokens: LexToken[]): string {
  let out = '';
  let nesting = 0;
  let atLineStart = true;
  let prevTopClose = false;
  let prevWasComment = false;
  let prevWasClose = false;
  let lineStartsWithImport = false;

  for (let i = 0; i < tokens.length; i++) {
    const tk = tokens[i] as LexToken;
    const prev = tokens[i - 1];
    const wrote = prev !== undefined;
    const isOpen = isWord(tk, '{');
    // A `}` with no open block is a stray word, written where it stands.
    const isClose = isWord(tk, '}') && nesting > 0;
    const trailingComment = tk.kind === 'comment' && wrote && !tk.nl;
    if (!isOpen && !isWord(tk, '}') && (!wrote || tk.nl)) {
      lineStartsWithImport = nesting === 0 && isWord(tk, 'import');
    }

    let breaks = 0;
    if (wrote && tk.nl) breaks = tk.gapLines >= 2 ? 2 : 1;
    if (isOpen) {
      // `{` joins the line it opens, except after a comment (it would be commented out) and
      // after a top-level `import` line, where it opens the global options block instead.
      const keepOwnLine = prevWasComment || (lineStartsWithImport && nesting === 0 && tk.nl && breaks < 2);
      if (!keepOwnLine) breaks = 0;
    } else if (isClose) {
      if (wrote) breaks = 1;
      nesting--;
    } else if (trailingComment) {
      breaks = 0;
    }
    if (prevWasClose && breaks === 0 && !isClose && !trailingComment) breaks = 1;
    if (isWord(prev, '{') && breaks === 0 && !trailingComment) breaks = 1;
    // A trailing comment stays on the `}` line; the blank line then comes after it.
    if (prevTopClose && breaks < 2 && !trailingComment) breaks = 2;
    if (!trailingComment) prevTopClose = false;

    if (breaks > 0) {
      out += breaks === 2 ? '\n\n' : '\n';
      atLineStart = true;
    }
    if (atLineStart) {
      out += '\t'.repeat(nesting);
    } else if (tk.continued) {
      out += ' \\\n' + '\t'.repeat(nesting + 1);
    } else {
      out += ' ';
    }
    out += src.slice(tk.start, tk.end);
    atLineStart = false;
    prevWasComment = tk.kind === 'comment';
    prevWasClose = isClose;
    if (isOpen) nesting++;
    else if (isClose && nesting === 0) prevTopClose = true;
  }
  return out.trim() + '\n';
}

/**
 * Same tokens, and the same line structure wherever the formatter may not change it: line
 * breaks may only move around braces (`{` joins its line, `}` and what follows a brace get
 * their own). Compared without comments, as the parser sees the file.
 */
function sameMeaning(before: string, after: string): boolean {
  const a = lex(before, '').tokens;
  const b = lex(after, '').tokens;
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k] as LexToken;
    const y = b[k] as LexToken;
    if (x.text !== y.text || x.kind !== y.kind) return false;
    const movable = isWord(x, '{') || isWord(x, '}') || isWord(a[k - 1], '{') || isWord(a[k - 1], '}');
    if (!movable && x.nl !== y.nl) return false;
  }
  return true;
}
