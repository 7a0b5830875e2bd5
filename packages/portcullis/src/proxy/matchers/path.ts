/**
 * The `path` matcher with Caddy's semantics (MatchPath): case-insensitive; `*` alone matches
 * everything; `/a*` is a prefix, `*.css` a suffix and `*x*` a substring match, in which `*`
 * spans any characters including `/`; any other pattern is a Go path.Match glob, in which `*`
 * and `?` stop at `/` (`/accounts/*\/info` matches one segment) and `[a-z]` classes work.
 *
 * Matching happens on ctx.path, the decoded and cleaned path, so `/%61dmin` and `//admin` meet
 * `/admin*`. Two Caddy refinements: a pattern containing `//` sees the path with its slashes
 * unmerged, and a pattern containing `%` compares those parts in escaped space (`/a%2Fb` matches
 * a request for `/a%2Fb` but not `/a/b`; `%*` is a wildcard over the undecoded path).
 */
import type { RequestContext } from '../context.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { cleanPath, decodePath } from '../normalize-path.ts';
import { compileTemplate, hasPlaceholders } from '../placeholders.ts';

type PathTest = (ctx: RequestContext) => boolean;

/** Compiles a list of path patterns (any one may match). */
export function compilePathMatcher(patterns: string[]): PathTest {
  // The common patterns test the lower-cased normalised path, computed once per request.
  const simple: Array<(path: string) => boolean> = [];
  const special: PathTest[] = [];
  for (const raw of patterns) {
    if (hasPlaceholders(raw)) {
      special.push(compileDynamic(raw));
      continue;
    }
    const pattern = raw.toLowerCase();
    if (pattern.indexOf('%') === -1 && pattern.indexOf('//') === -1) simple.push(pattern === '*' ? () => true : compileStringTest(pattern));
    else special.push(compileStatic(pattern));
  }
  if (special.length === 0 && simple.length === 1) {
    const only = simple[0]!;
    return (ctx) => only(requestPath(ctx, false));
  }
  return (ctx) => {
    if (simple.length > 0) {
      const path = requestPath(ctx, false);
      for (let i = 0; i < simple.length; i++) if (simple[i]!(path)) return true;
    }
    for (let i = 0; i < special.length; i++) if (special[i]!(ctx)) return true;
    return false;
  };
}

function compileDynamic(pattern: string): PathTest {
  const template = compileTemplate(pattern);
  return (ctx) => {
    let test: PathTest;
    try {
      test = compileStatic(template(ctx).toLowerCase());
    } catch {
      return false; // a placeholder produced a bad glob: Caddy ignores path.Match's error
    }
    return test(ctx);
  };
}

/** Windows ignores trailing dots and spaces in file names (Caddy #2917, #5613). */
const TRIM_WINDOWS = process.platform === 'win32';

function compileStatic(pattern: string): PathTest {
  if (pattern === '*') return () => true;
  const keepSlashes = pattern.indexOf('//') !== -1;
  if (pattern.indexOf('%') !== -1) {
    checkEscapes(pattern);
    const glob = compileGlob(pattern.replaceAll('%*', '*'));
    return (ctx) => {
      const escaped = keepSlashes ? cleanKeepSlashes(ctx.rawPath) : cleanPath(ctx.rawPath);
      const built = buildEscapedComparand(escaped.toLowerCase(), pattern);
      return built !== null && glob(built);
    };
  }
  const test = compileStringTest(pattern);
  return (ctx) => test(requestPath(ctx, keepSlashes));
}

function requestPath(ctx: RequestContext, keepSlashes: boolean): string {
  let path = ctx.path;
  if (keepSlashes) path = cleanKeepSlashes(decodePath(ctx.rawPath) ?? ctx.path);
  path = path.toLowerCase();
  return TRIM_WINDOWS ? path.replace(/[. ]+$/, '') : path;
}

/** The fast forms first (decided by `*` alone, as Caddy does), then a glob. */
export function compileStringTest(pattern: string): (path: string) => boolean {
  const stars = pattern.split('*').length - 1;
  if (stars === 2 && pattern.startsWith('*') && pattern.endsWith('*') && pattern.length >= 2) {
    const inner = pattern.slice(1, -1);
    return (p) => p.includes(inner);
  }
  if (stars === 1 && pattern.startsWith('*')) {
    const suffix = pattern.slice(1);
    return (p) => p.endsWith(suffix);
  }
  if (stars === 1 && pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (p) => p.startsWith(prefix);
  }
  if (!/[*?[\\]/.test(pattern)) return (p) => p === pattern;
  return compileGlob(pattern);
}

/**
 * One character but `/`, a surrogate pair counting as one (a decoded path never holds a lone
 * surrogate: decodeURIComponent refuses one), so `??` never takes the two halves of one emoji.
 */
const ONE_CHARACTER = '(?:[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]|[^/\\uD800-\\uDFFF])';
/** Any character outside the Basic Multilingual Plane, as its surrogate pair. */
const ASTRAL_CHARACTER = '[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]';

/**
 * Go's path.Match as a RegExp: `*` any run of non-`/`, `?` one non-`/` character, `[...]`
 * classes with `^` negation and ranges, `\` escapes. Throws on a malformed pattern.
 *
 * Without the `u` flag: V8 hands a match that backtracks too much to its linear-time engine
 * only for patterns without it (regexp.ts), and `*-*-*` against a long run of `-` backtracks
 * polynomially (4 stars and 600 characters: 28 s of a frozen event loop). `?` then spells out
 * a surrogate pair, so it still takes one character outside the BMP.
 */
export function compileGlob(pattern: string): (path: string) => boolean {
  const re = new RegExp(globSource(pattern) + '$', 's');
  return (p) => re.test(p);
}

/**
 * The RegExp source (anchored at the start) of a Go glob, as compileGlob and the file server's
 * `hide` (files/hide.ts) compile it. `negatedAstral`: what a negated class listing a character
 * outside the BMP does: `refuse` it (a config error), or take `any` such character (hide: more
 * is hidden, never less). Throws on a malformed pattern.
 */
export function globSource(pattern: string, negatedAstral: 'refuse' | 'any' = 'refuse'): string {
  let src = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') src += '[^/]*';
    else if (c === '?') src += ONE_CHARACTER;
    else if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw badGlob(pattern);
      src += escapeRegex(next);
      i++;
    } else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end === -1) throw badGlob(pattern);
      src += translateClass(pattern.slice(i + 1, end), pattern, negatedAstral);
      i = end;
    } else src += escapeRegex(c);
  }
  return src;
}

function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  for (let first = true; i < pattern.length; i++, first = false) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === ']' && !first) return i;
  }
  return -1;
}

/**
 * A class as a RegExp that needs no `u` flag: its BMP members in brackets, each member outside
 * the BMP as its surrogate pair in an alternation. A negated class takes any character outside
 * the BMP, so one it lists is refused or ignored (`negatedAstral`: excluding it would need a
 * lookahead, which V8's linear engine lacks); ranges must stay inside the BMP.
 */
function translateClass(body: string, pattern: string, negatedAstral: 'refuse' | 'any'): string {
  let negated = false;
  let i = 0;
  if (body[0] === '^') {
    negated = true;
    i = 1;
  }
  if (i === body.length) throw badGlob(pattern);
  let bmp = '';
  const astral: string[] = [];
  for (; i < body.length; i++) {
    let c = body[i]!;
    if (c === '\\') {
      i++;
      c = body[i] ?? '';
      if (c === '') throw badGlob(pattern);
    } else if (c === '-') {
      throw badGlob(pattern); // a range with no low end
    }
    if (isSurrogate(c)) {
      const low = body[i + 1];
      if (!isHighSurrogate(c) || low === undefined || !isLowSurrogate(low) || body[i + 2] === '-') throw badGlob(pattern);
      if (negated && negatedAstral === 'refuse') throw badGlob(pattern);
      astral.push(escapeRegex(c + low));
      i++;
      continue;
    }
    bmp += escapeClassChar(c);
    if (body[i + 1] === '-') {
      let hi = body[i + 2];
      i += 2;
      if (hi === '\\') {
        i++;
        hi = body[i];
      }
      if (hi === undefined || hi < c || isSurrogate(hi)) throw badGlob(pattern);
      bmp += '-' + escapeClassChar(hi);
    }
  }
  if (negated) return `(?:${ASTRAL_CHARACTER}|[^${bmp}\\uD800-\\uDFFF])`;
  const choices = bmp === '' ? astral : [...astral, `[${bmp}]`];
  return choices.length === 1 ? choices[0]! : `(?:${choices.join('|')})`;
}

function isSurrogate(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0xd800 && code <= 0xdfff;
}

function isHighSurrogate(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0xdc00 && code <= 0xdfff;
}

function escapeRegex(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? '\\' + c : c;
}

function escapeClassChar(c: string): string {
  return /[\\\]^[-]/.test(c) ? '\\' + c : c;
}

function badGlob(pattern: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `invalid path pattern '${pattern}'`);
}

function checkEscapes(pattern: string): void {
  for (let i = pattern.indexOf('%'); i !== -1; i = pattern.indexOf('%', i + 1)) {
    if (pattern[i + 1] === '*') continue;
    if (!/^[0-9a-f]{2}$/.test(pattern.slice(i + 1, i + 3))) throw badGlob(pattern);
  }
}

/**
 * Walks the pattern and the escaped path together (Caddy's matchPatternWithEscapeSequence): where
 * the pattern has `%XX` the path's escape is kept as written, where it has `%*` the span stays
 * escaped, everywhere else the path is decoded. Bytes are collected as a binary string and read
 * as UTF-8 at the end. Unlike Caddy, the rest of the path after the pattern runs out is kept, so
 * `/a%2fb` is not a prefix match.
 */
function buildEscapedComparand(escaped: string, pattern: string): string | null {
  let out = '';
  let ip = 0;
  let ix = 0;
  const n = escaped.length;
  while (ip < pattern.length && ix < n) {
    const pc = pattern[ip]!;
    if (pc === '%' && pattern[ip + 1] !== '*') {
      const isEscape = escaped[ix] === '%' && ix + 3 <= n;
      out += isEscape ? escaped.slice(ix, ix + 3) : escaped[ix]!;
      ix += isEscape ? 3 : 1;
      ip += 3;
      continue;
    }
    if (pc === '*' || pc === '%') {
      const raw = pc === '%';
      if (raw) ip++;
      let until = n - ix;
      if (ip < pattern.length - 1) {
        const found = escaped.indexOf(pattern[ip + 1]!, ix);
        if (found === -1) return null;
        until = found - ix;
      }
      const span = escaped.slice(ix, ix + until);
      const piece = raw ? span : unescapeBytes(span);
      if (piece === null) return null;
      out += piece;
      ix += until;
      ip++;
      continue;
    }
    const piece = escaped[ix] === '%' ? unescapeBytes(escaped.slice(ix, ix + 3)) : escaped[ix]!;
    if (piece === null) return null;
    out += piece;
    ix += escaped[ix] === '%' ? 3 : 1;
    ip++;
  }
  const rest = unescapeBytes(escaped.slice(ix));
  if (rest === null) return null;
  return Buffer.from(out + rest, 'latin1').toString('utf8');
}

/** Percent-decodes into a binary string (one char per byte); null on a malformed escape. */
function unescapeBytes(s: string): string | null {
  if (s.indexOf('%') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') {
      out += s[i];
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/** Resolves `.` and `..` but keeps runs of slashes (Caddy's CleanPath with mergeSlashes false). */
function cleanKeepSlashes(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '.') continue;
    if (s === '..') {
      out.pop();
      continue;
    }
    out.push(s);
  }
  const last = segments[segments.length - 1];
  if ((last === '.' || last === '..') && out[out.length - 1] !== '') out.push('');
  return '/' + out.join('/');
}
