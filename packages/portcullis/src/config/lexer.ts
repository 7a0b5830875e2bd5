/**
 * The Caddyfile lexer: a hand-written scanner that ports the behaviour of Caddy v2's
 * caddyconfig/caddyfile/lexer.go. Tokens are separated by whitespace; a newline ends a
 * directive line unless a backslash escapes it; `#` at the start of a token starts a comment;
 * "double quotes" (with `\"`), `backticks` (no escapes) and `<<MARKER` heredocs make quoted
 * tokens. Besides each token's text, the scanner records what the parser and the formatter need
 * about the space before it (newline, blank lines, continuation) and the token's verbatim source.
 */

export type TokenKind = 'word' | 'quote' | 'backtick' | 'heredoc' | 'comment';

export interface LexToken {
  text: string;
  file: string;
  /** Line the token starts on, counted in the file as written (env values add no lines). */
  line: number;
  quoted: boolean;
  /** An unescaped newline, or the start of the input, comes before this token: it begins a line. */
  nl: boolean;
  kind: TokenKind;
  /**
   * Offsets of the token as written in the lexed text (quotes, escapes, heredoc marker and body
   * included): the formatter writes `text.slice(start, end)` back unchanged.
   */
  start: number;
  end: number;
  /** Newlines in the whitespace between the previous token and this one (blank-line detection). */
  gapLines: number;
  /** A line continuation (a backslash before a newline) comes before this token. */
  continued: boolean;
}

export interface LexError {
  message: string;
  line: number;
}

export interface LexOptions {
  /** Emit comment tokens (kind 'comment'); the formatter needs them, the parser does not. */
  comments?: boolean;
  /** Offsets of newlines that do not count as source lines (they came from `{$ENV}` values). */
  injectedNewlines?: Set<number>;
}

export interface LexResult {
  tokens: LexToken[];
  errors: LexError[];
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const BACKSLASH = 92;
const DQUOTE = 34;
const BACKTICK = 96;
const LT = 60;
const BOM = 0xfeff;

/** Go's unicode.IsSpace, which Caddy uses to split tokens. */
function isSpace(c: number): boolean {
  if (c <= SPACE) return c === SPACE || (c >= TAB && c <= CR);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function isMarkerChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
}

function isValidMarker(marker: string): boolean {
  if (marker.length === 0) return false;
  for (let k = 0; k < marker.length; k++) if (!isMarkerChar(marker.charCodeAt(k))) return false;
  return true;
}

/**
 * Splits Caddyfile text into tokens. Never throws: problems (unclosed quotes or heredocs, bad
 * heredoc markers or indentation) are returned as errors with their line, and scanning goes on
 * so that one run reports as much as possible. A leading byte order mark is ignored.
 */
export function lex(input: string, file: string, options: LexOptions = {}): LexResult {
  const src = input;
  const n = src.length;
  const wantComments = options.comments === true;
  const injected = options.injectedNewlines;
  const tokens: LexToken[] = [];
  const errors: LexError[] = [];

  let i = n > 0 && src.charCodeAt(0) === BOM ? 1 : 0;
  let line = 1;
  // Describes the space before the next token; reset each time a token is emitted.
  let nl = true;
  let gapLines = 0;
  let continued = false;

  /** Counts the newline at offset `at` unless an env value put it there. */
  const newline = (at: number): void => {
    if (injected === undefined || !injected.has(at)) line++;
  };

  const emit = (kind: TokenKind, text: string, start: number, end: number, startLine: number): void => {
    tokens.push({
      text,
      file,
      line: startLine,
      quoted: kind === 'quote' || kind === 'backtick' || kind === 'heredoc',
      nl,
      kind,
      start,
      end,
      gapLines,
      continued,
    });
    nl = false;
    gapLines = 0;
    continued = false;
  };

  /** "double quoted": only `\"` is an escape; any other backslash stays in the text. */
  const scanQuote = (start: number, escapedAtStart: boolean): void => {
    const startLine = line;
    let escaped = escapedAtStart;
    let text = '';
    let run = i; // start of the not-yet-copied plain run
    while (i < n) {
      const c = src.charCodeAt(i);
      if (c === BACKSLASH && !escaped) {
        text += src.slice(run, i);
        escaped = true;
        run = ++i;
        continue;
      }
      if (escaped) {
        if (c !== DQUOTE) text += '\\';
        escaped = false;
      } else if (c === DQUOTE) {
        text += src.slice(run, i);
        i++;
        emit('quote', text, start, i, startLine);
        return;
      }
      if (c === LF) newline(i);
      i++;
    }
    errors.push({ message: `unclosed quote: the string opened with " on line ${startLine} never ends`, line: startLine });
    emit('quote', text + src.slice(run, i), start, i, startLine);
  };

  /** `backtick quoted`: no escapes at all. */
  const scanBacktick = (start: number): void => {
    const startLine = line;
    const close = src.indexOf('`', i);
    const end = close < 0 ? n : close;
    for (let k = src.indexOf('\n', i); k >= 0 && k < end; k = src.indexOf('\n', k + 1)) newline(k);
    if (close < 0) {
      errors.push({ message: `unclosed quote: the string opened with \` on line ${startLine} never ends`, line: startLine });
      const text = src.slice(i);
      i = n;
      emit('backtick', text, start, n, startLine);
      return;
    }
    const text = src.slice(i, close);
    i = close + 1;
    emit('backtick', text, start, i, startLine);
  };

  /**
   * Heredoc body, after the newline that ends `<<MARKER`. It closes at a line holding only
   * indentation and the marker (anything may follow the marker on that line, as in Caddy:
   * the tokens after it continue the directive). That indentation is removed from every body
   * line; a non-empty line that does not start with it is an error, because stripping it would
   * silently change the content.
   */
  const scanHeredocBody = (start: number, marker: string, startLine: number): void => {
    const body: string[] = [];
    const bodyLines: number[] = [];
    let p = i;
    for (;;) {
      const eol = src.indexOf('\n', p);
      const e = eol < 0 ? n : eol;
      let k = p;
      while (k < e && (src.charCodeAt(k) === SPACE || src.charCodeAt(k) === TAB)) k++;
      const after = k + marker.length;
      if (src.startsWith(marker, k) && (after >= n || !isMarkerChar(src.charCodeAt(after)))) {
        const padding = src.slice(p, k);
        const out: string[] = [];
        for (let j = 0; j < body.length; j++) {
          const text = (body[j] as string).replaceAll('\r', '');
          if (text === '') {
            out.push('');
          } else if (text.startsWith(padding)) {
            out.push(text.slice(padding.length));
          } else {
            errors.push({
              message: `heredoc <<${marker}: line ${bodyLines[j]} is indented less than the closing marker (every line must start with the marker's indentation)`,
              line: bodyLines[j] as number,
            });
            out.push(text.trimStart());
          }
        }
        i = after;
        emit('heredoc', out.join('\n'), start, i, startLine);
        return;
      }
      if (eol < 0) {
        errors.push({ message: `unclosed heredoc: <<${marker} opened on line ${startLine} has no closing ${marker} line`, line: startLine });
        body.push(src.slice(p));
        i = n;
        emit('heredoc', body.join('\n'), start, n, startLine);
        return;
      }
      body.push(src.slice(p, e));
      bodyLines.push(line);
      newline(eol);
      p = eol + 1;
    }
  };

  /**
   * A token starting with `<<`. Caddy only treats it as a heredoc when the line ends right after
   * the marker; a space after it makes it a plain word.
   */
  const scanHeredocOpener = (start: number): boolean => {
    const startLine = line;
    let k = i + 2;
    let opener = '<<';
    while (k < n) {
      const c = src.charCodeAt(k);
      if (c === SPACE) break;
      if (c === CR) {
        k++;
        continue;
      }
      if (c === LF) {
        const marker = opener.slice(2);
        let problem = '';
        if (marker === '') problem = 'a heredoc needs a marker after <<, for example <<END';
        else if (marker.startsWith('<')) problem = "too many '<' for a heredoc; use two, for example <<END";
        else if (!isValidMarker(marker)) problem = `heredoc marker '${marker}' may only contain letters, digits, '-' and '_'`;
        if (problem !== '') {
          errors.push({ message: problem, line: startLine });
          return false;
        }
        newline(k);
        i = k + 1;
        scanHeredocBody(start, marker, startLine);
        return true;
      }
      opener += src[k];
      k++;
    }
    return false;
  };

  /** A plain word; `escapedAtStart` when a backslash came just before it. */
  const scanWord = (start: number, escapedAtStart: boolean): void => {
    const startLine = line;
    let escaped = escapedAtStart;
    let text = '';
    let run = i;
    let end = i;
    while (i < n) {
      const c = src.charCodeAt(i);
      if (c === BACKSLASH && !escaped) {
        text += src.slice(run, i);
        escaped = true;
        run = ++i;
        continue;
      }
      if (isSpace(c)) {
        if (c === CR) {
          // Caddy drops CR everywhere outside quotes, even inside a word.
          text += src.slice(run, i);
          run = ++i;
          continue;
        }
        text += src.slice(run, i);
        if (c === LF && escaped) {
          // `word\` + newline: the word ends and the next line continues this one.
          newline(i);
          i++;
          emit('word', text, start, end, startLine);
          continued = true;
          return;
        }
        // An escape before other whitespace is dropped, as in Caddy.
        if (c !== LF) i++;
        emit('word', text, start, end, startLine);
        return;
      }
      if (escaped) {
        // `\<` only disarms a heredoc: the backslash goes; any other escape keeps it.
        if (c !== LT) text += '\\';
        escaped = false;
      }
      i++;
      end = i;
    }
    text += src.slice(run, i);
    emit('word', text, start, end, startLine);
  };

  while (i < n) {
    // Space, comments and continuations before the next token.
    let escapeStart = -1;
    let c = 0;
    while (i < n) {
      c = src.charCodeAt(i);
      if (c === LF) {
        newline(i);
        i++;
        if (escapeStart >= 0) {
          escapeStart = -1;
          continued = true;
        } else {
          nl = true;
          gapLines++;
        }
        continue;
      }
      if (isSpace(c)) {
        i++;
        continue;
      }
      if (c === HASH) {
        // A comment runs to the end of the line, whatever it holds (Caddy would let a
        // backslash inside a comment continue the line; that joins lines silently, so not here).
        const eol = src.indexOf('\n', i);
        const e = eol < 0 ? n : eol;
        if (wantComments) {
          const startLine = line;
          const text = src.slice(i, e).trimEnd();
          emit('comment', text, i, i + text.length, startLine);
        }
        escapeStart = -1;
        i = e;
        continue;
      }
      if (c === BACKSLASH && escapeStart < 0) {
        escapeStart = i;
        i++;
        continue;
      }
      break;
    }
    if (i >= n) break;

    const start = escapeStart >= 0 ? escapeStart : i;
    const escaped = escapeStart >= 0;
    if (c === DQUOTE) {
      i++;
      scanQuote(start, escaped);
    } else if (c === BACKTICK) {
      i++;
      scanBacktick(start);
    } else if (!escaped && c === LT && src.charCodeAt(i + 1) === LT && scanHeredocOpener(start)) {
      // scanned as a heredoc
    } else {
      scanWord(start, escaped);
    }
  }
  return { tokens, errors };
}
