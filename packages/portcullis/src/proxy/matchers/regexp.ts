/**
 * Regular expressions written for Caddy (Go's RE2 syntax) compiled to JavaScript ones, plus the
 * capture bookkeeping behind `{re.NAME.GROUP}` and Go's `$1` / `${name}` replacement templates.
 *
 * RE2-only syntax is translated: `(?P<name>`, leading flag groups `(?i)` `(?s)` `(?m)`, `\A`,
 * `\z`, `\Q...\E`, `[[:alpha:]]` classes, `\pL`, `\p{Greek}`, `\x{263a}`, and escaped
 * punctuation (`\-`, `\@`).
 *
 * Unlike RE2, V8's engine backtracks: a pathological pattern (`(a+)+$`) takes exponential time
 * on hostile input. V8 can fall back to a linear-time engine on excessive backtracking (flag
 * `--enable-experimental-regexp-engine-on-excessive-backtracks`), but only for patterns without
 * the `u` flag, so `u` is used only where the pattern needs it (`\p{...}`, `\x{...}`); without
 * it `.` matches one UTF-16 unit rather than a whole rune. That engine also refuses the `i` flag,
 * inline `(?i:...)` groups and lookarounds, so case-insensitive parts are rewritten into letter
 * classes (kernel/case-fold.ts) and `\A` / `\z` become `^` / `$` where they mean the same.
 */
import type { RequestContext } from '../context.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { foldCase } from '../../kernel/case-fold.ts';

/** Caddy requires regexp matcher names to be word characters (they become placeholder keys). */
const NAME_RE = /^\w*$/;

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const GENERAL_CATEGORY = /^(L[ultmo]?|M[nce]?|N[dlo]?|P[cdseifo]?|S[mcko]?|Z[slp]?|C[cfson]?)$/;

/** Characters that keep their backslash in a `u`-mode pattern. */
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/');

function configError(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, message);
}

/**
 * Compiles a Go/RE2-syntax pattern. `extraFlags` adds JavaScript flags (`g` for replacements).
 * Throws PortcullisError ERR_CONFIG_INVALID when the pattern is invalid.
 */
export function compileGoRegexp(pattern: string, extraFlags = ''): RegExp {
  let flags = extraFlags;
  let body = pattern;
  // A leading `(?flags)` applies to the whole pattern; JavaScript expresses that as flags.
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'U') throw configError(`regexp '${pattern}': the ungreedy flag (?U) is not supported`);
      if (!flags.includes(f)) flags += f;
    }
    body = body.slice(lead[0].length);
  }
  // Without `m` (anywhere: `(?m:...)` turns it on for a group) `^` and `$` already mean the
  // start and end of the input in JavaScript; the lookarounds would not be linear-time.
  const anchors = !flags.includes('m') && !/\(\?[a-zA-Z]*m/.test(body);
  const source = translate(body, pattern, anchors);
  if (/\\[pPu]\{/.test(source.replace(/\\\\/g, ''))) flags += 'u';
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (err) {
    throw configError(`invalid regexp '${pattern}': ${(err as Error).message}`);
  }
  return flags.includes('u') ? re : withoutCaseFlag(re);
}

/** Modifier group opener in JavaScript syntax: `(?i:`, `(?-i:`, `(?is-m:`. */
const MODIFIER_GROUP = /^\(\?([a-z]*)(?:-([a-z]*))?:/;

/**
 * `re` (no `u` flag) rewritten to match the same strings without the `i` flag or `i` modifier
 * groups, which V8's linear-time engine refuses: the case-insensitive stretches of the source are
 * case-folded. Returned unchanged when it has neither, or when folding is impossible
 * (a back-reference, which RE2 syntax has not; config validation refuses them).
 */
function withoutCaseFlag(re: RegExp): RegExp {
  const source = re.source;
  const caseless = re.flags.includes('i');
  if (!caseless && !/\(\?[a-z]*-?[a-z]*i[a-z]*:/.test(source)) return re;
  try {
    return new RegExp(foldSegments(source, caseless), re.flags.replace('i', ''));
  } catch {
    return re;
  }
}

/**
 * Folds the parts of `source` where case-insensitivity is on (`caseless` at the top level, then
 * as `(?i:` / `(?-i:` groups set it) and drops `i` from modifier groups. foldCase works token by
 * token, so cutting the source at group openers and closers is safe.
 */
function foldSegments(source: string, caseless: boolean): string {
  let out = '';
  let segment = '';
  const stack: boolean[] = [];
  let on = caseless;
  const flush = (): void => {
    out += on ? foldCase(segment) : segment;
    segment = '';
  };
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      segment += source.slice(i, i + 2);
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      segment += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      segment += c;
      continue;
    }
    if (c === '(') {
      const m = MODIFIER_GROUP.exec(source.slice(i, i + 16));
      if (m && (m[1]!.includes('i') || (m[2] ?? '').includes('i'))) {
        flush();
        stack.push(on);
        on = m[1]!.includes('i');
        const add = m[1]!.replace('i', '');
        const remove = (m[2] ?? '').replace('i', '');
        out += '(?' + add + (remove === '' ? '' : '-' + remove) + ':';
        i += m[0].length - 1;
        continue;
      }
      stack.push(on);
      segment += c;
      continue;
    }
    if (c === ')') {
      const outer = stack.pop() ?? on;
      if (outer !== on) {
        flush();
        on = outer;
      }
      segment += c;
      continue;
    }
    segment += c;
  }
  flush();
  return out;
}

/** `anchors`: `\A` and `\z` may be written `^` and `$` (no multi-line mode anywhere). */
function translate(p: string, original: string, anchors: boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const next = p[i + 1];
      if (next === undefined) throw configError(`invalid regexp '${original}': trailing backslash`);
      if (next === 'Q') {
        const end = p.indexOf('\\E', i + 2);
        const literal = end === -1 ? p.slice(i + 2) : p.slice(i + 2, end);
        out += escapeLiteral(literal);
        i = end === -1 ? p.length : end + 1;
        continue;
      }
      if (next === 'A' && !inClass) {
        out += anchors ? '^' : '(?<![\\s\\S])';
        i++;
        continue;
      }
      if (next === 'z' && !inClass) {
        out += anchors ? '$' : '(?![\\s\\S])';
        i++;
        continue;
      }
      if (next === 'p' || next === 'P') {
        // `\pL`, `\p{Lu}`, `\p{Greek}`: JavaScript wants braces, and `Script=` before a script.
        const braced = p[i + 2] === '{';
        const end = braced ? p.indexOf('}', i + 3) : i + 3;
        const name = braced ? p.slice(i + 3, end) : p.slice(i + 2, end);
        if (name === '' || end === -1) throw configError(`invalid regexp '${original}': incomplete \\${next}`);
        const property = name === 'Any' || GENERAL_CATEGORY.test(name) ? name : `Script=${name}`;
        out += `\\${next}{${property}}`;
        i = braced ? end : i + 2;
        continue;
      }
      if (next === 'x' && p[i + 2] === '{') {
        const end = p.indexOf('}', i + 3);
        if (end === -1) throw configError(`invalid regexp '${original}': unterminated \\x{`);
        out += `\\u{${p.slice(i + 3, end)}}`;
        i = end;
        continue;
      }
      if (/[!-/:-@[-`{-~]/.test(next) && !JS_SYNTAX.has(next) && !(inClass && next === '-')) {
        // RE2 allows escaping any punctuation; `u` mode only syntax characters.
        out += next;
        i++;
        continue;
      }
      out += c + next;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[' && p[i + 1] === ':') {
        const end = p.indexOf(':]', i + 2);
        const name = end === -1 ? '' : p.slice(i + 2, end);
        const chars = POSIX_CLASSES[name];
        if (chars === undefined) throw configError(`invalid regexp '${original}': unsupported class [:${name}:]`);
        out += chars;
        i = end + 1;
        continue;
      }
      if (c === ']') inClass = false;
      // A literal `[` inside a class needs escaping in `u` mode.
      out += c === '[' ? '\\[' : c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // `[]a]` and `[^]a]`: a leading `]` is a literal in RE2.
      if (p[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (p[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && p.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
      continue;
    }
    out += c;
  }
  return out;
}

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Throws unless `name` is usable in `{re.NAME.GROUP}`. */
export function checkRegexpName(name: string): void {
  if (!NAME_RE.test(name)) throw configError(`invalid regexp name '${name}' (must contain only word characters)`);
}

/**
 * A compiled matcher regexp: on a match, stores the captures as `ctx.captures[name]` (numbered
 * '0', '1', ... and by group name) and as `ctx.captures['']`, Caddy's short `{re.GROUP}` form,
 * which the latest match overwrites.
 */
export function compileCapturingRegexp(name: string, pattern: string): (ctx: RequestContext, input: string) => boolean {
  checkRegexpName(name);
  const re = compileGoRegexp(pattern);
  return (ctx, input) => {
    const m = re.exec(input);
    if (m === null) return false;
    const record: Record<string, string> = {};
    for (let i = 0; i < m.length; i++) record[i] = m[i] ?? '';
    const groups = m.groups;
    if (groups !== undefined) for (const g in groups) record[g] = groups[g] ?? '';
    if (name !== '') ctx.captures[name] = record;
    ctx.captures[''] = record;
    return true;
  };
}

/** One piece of a Go replacement template: literal text, a group number, or a group name. */
type TemplatePart = string | number | { name: string };

/**
 * Parses a Go `Regexp.Expand` template: `$1`, `${1}`, `$name`, `${name}`, `$$`. As in Go, `$name`
 * takes the longest run of word characters, so `$1x` refers to a group named `1x` (empty).
 */
export function parseReplacement(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') {
      literal += c;
      continue;
    }
    if (template[i + 1] === '$') {
      literal += '$';
      i++;
      continue;
    }
    let name: string | null = null;
    let end = i;
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close === -1 ? '' : template.slice(i + 2, close);
      if (close !== -1 && /^\w+$/.test(inner)) {
        name = inner;
        end = close;
      }
    } else {
      const m = /^\w+/.exec(template.slice(i + 1));
      if (m) {
        name = m[0];
        end = i + m[0].length;
      }
    }
    if (name === null) {
      literal += '$';
      continue;
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push(/^\d+$/.test(name) ? Number(name) : { name });
    i = end;
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

/** Replaces every match of `re` (which must have the `g` flag) in `input` using Go template parts. */
export function replaceAllGo(re: RegExp, input: string, parts: TemplatePart[]): string {
  return input.replace(re, (...args: unknown[]) => {
    const hasNamed = typeof args[args.length - 1] === 'object' && args[args.length - 1] !== undefined;
    const groups = hasNamed ? (args[args.length - 1] as Record<string, string | undefined>) : undefined;
    const numbered = args.length - (hasNamed ? 3 : 2);
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') out += part;
      else if (typeof part === 'number') out += part < numbered ? ((args[part] as string | undefined) ?? '') : '';
      else out += groups?.[part.name] ?? '';
    }
    return out;
  });
}
