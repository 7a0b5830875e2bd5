/**
 * Rewrites a case-insensitive JavaScript regexp (flag `i`, no `u`) into an equivalent one
 * without the flag: every letter becomes a class of its case variants (`a` -> `[aA]`) and every
 * class gains the variants of its members (`[a-f]` -> `[a-fA-F]`).
 *
 * Why: V8 hands a regexp that backtracks too much to its linear-time engine (the
 * `--enable-experimental-regexp-engine-on-excessive-backtracks` flag main.ts sets), but that
 * engine refuses the `i` and `u` flags. Measured on Node 24: `/(a+)+$/` against 30 a's and a
 * `!` takes 2 ms with the fallback, `/(a+)+$/i` 93 s. Rule regexps meet hostile input on every
 * request, and `(?i)` is how most of them are written.
 *
 * Equivalence follows ECMA-262 Canonicalize for non-Unicode patterns: two characters match when
 * their single-character upper-case forms agree, except that a non-ASCII character never
 * matches an ASCII one (so `k` does not match the Kelvin sign).
 */

/** Escapes that are not a single character to fold (class escapes, assertions, controls). */
const KEEP_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'b', 'B', 'f', 'n', 'r', 't', 'v']);

const CONTROL: Record<string, number> = { f: 12, n: 10, r: 13, t: 9, v: 11 };

/** Canonicalize (ECMA-262 22.2.2.7.3, non-Unicode case). */
function canonicalize(code: number): number {
  const upper = String.fromCharCode(code).toUpperCase();
  if (upper.length !== 1) return code;
  const u = upper.charCodeAt(0);
  return code >= 128 && u < 128 ? code : u;
}

/** Characters grouped by canonical form; built only when a pattern has non-ASCII letters. */
interface FoldTable {
  variants(code: number): number[];
}

function asciiVariants(code: number): number[] {
  if (code >= 65 && code <= 90) return [code, code + 32];
  if (code >= 97 && code <= 122) return [code - 32, code];
  return [code];
}

function createFoldTable(): FoldTable {
  let groups: Map<number, number[]> | null = null;
  const build = (): Map<number, number[]> => {
    const map = new Map<number, number[]>();
    for (let c = 0; c <= 0xffff; c++) {
      const key = canonicalize(c);
      const list = map.get(key);
      if (list) list.push(c);
      else map.set(key, [c]);
    }
    return map;
  };
  return {
    variants(code) {
      if (code < 128) return asciiVariants(code);
      groups ??= build();
      return groups.get(canonicalize(code)) ?? [code];
    },
  };
}

function hex4(code: number): string {
  return '\\u' + code.toString(16).padStart(4, '0');
}

/** One character as a pattern atom matching all its case variants. */
function foldAtom(code: number, written: string, table: FoldTable): string {
  const variants = table.variants(code);
  if (variants.length === 1) return written;
  return '[' + variants.map(hex4).join('') + ']';
}

/** A class member: one character (code) or a range, as written. */
interface ClassItem {
  lo: number;
  hi: number;
}

/** Reads one class atom at i: a code (or -1 for a class escape such as \w) and the next index. */
function classAtom(body: string, i: number): { code: number; next: number } {
  const c = body[i]!;
  if (c !== '\\') return { code: body.charCodeAt(i), next: i + 1 };
  const e = body[i + 1] ?? '';
  if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))) return { code: parseInt(body.slice(i + 2, i + 4), 16), next: i + 4 };
  if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(body.slice(i + 2, i + 6))) return { code: parseInt(body.slice(i + 2, i + 6), 16), next: i + 6 };
  if (e === 'c' && /^[A-Za-z]$/.test(body[i + 2] ?? '')) return { code: body.charCodeAt(i + 2) % 32, next: i + 3 };
  if (e === 'b') return { code: 8, next: i + 2 };
  if (e === '0') return { code: 0, next: i + 2 };
  if (CONTROL[e] !== undefined) return { code: CONTROL[e]!, next: i + 2 };
  if (KEEP_ESCAPES.has(e)) return { code: -1, next: i + 2 };
  return { code: body.charCodeAt(i + 1), next: i + 2 };
}

/** The class body with the case variants of its members appended. */
function foldClassBody(body: string, table: FoldTable): string {
  const items: ClassItem[] = [];
  for (let i = 0; i < body.length; ) {
    const a = classAtom(body, i);
    i = a.next;
    if (a.code >= 0 && body[i] === '-' && i + 1 < body.length) {
      const b = classAtom(body, i + 1);
      if (b.code >= 0) {
        items.push({ lo: a.code, hi: b.code });
        i = b.next;
        continue;
      }
    }
    if (a.code >= 0) items.push({ lo: a.code, hi: a.code });
  }
  const inside = (code: number): boolean => items.some((r) => code >= r.lo && code <= r.hi);
  const extra = new Set<number>();
  for (const r of items) {
    for (let c = r.lo; c <= r.hi; c++) {
      for (const v of table.variants(c)) if (!inside(v)) extra.add(v);
    }
  }
  if (extra.size === 0) return body;
  // Appended after a trailing literal `-`, the variants would turn it into a range.
  const open = /(^|[^\\])(\\\\)*-$/.test(body) ? body.slice(0, -1) + '\\-' : body;
  return open + ranges([...extra].sort((x, y) => x - y));
}

function ranges(codes: number[]): string {
  let out = '';
  for (let i = 0; i < codes.length; ) {
    let j = i;
    while (j + 1 < codes.length && codes[j + 1] === codes[j]! + 1) j++;
    out += j > i ? `${hex4(codes[i]!)}-${hex4(codes[j]!)}` : hex4(codes[i]!);
    i = j + 1;
  }
  return out;
}

/** The end of a class opened at `start` (the index of its `]`), in non-Unicode syntax. */
function classEnd(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === '^') i++;
  for (; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === ']') return i;
  }
  return -1;
}

/**
 * `source` (a JavaScript pattern meant for the flags `i` without `u`) rewritten to match the
 * same strings without `i`. Throws on a back-reference (rules refuse them, as RE2 does) and on
 * an unterminated class (the source came from a RegExp, so it never has one).
 */
export function foldCase(source: string): string {
  const table = createFoldTable();
  let out = '';
  for (let i = 0; i < source.length; ) {
    const c = source[i]!;
    if (c === '\\') {
      const a = classAtom(source, i);
      const e = source[i + 1] ?? '';
      // A back-reference matches the captured text case-insensitively under `i`: no class can.
      if (/[1-9]/.test(e) || (e === 'k' && source[i + 2] === '<')) throw new Error(`back-references cannot be case-folded: /${source}/`);
      // Outside a class `\b` is a word boundary: kept as written.
      if (a.code < 0 || e === 'b' || e === '0') out += source.slice(i, a.next);
      else out += foldAtom(a.code, source.slice(i, a.next), table);
      i = a.next;
      continue;
    }
    if (c === '[') {
      const end = classEnd(source, i);
      if (end === -1) throw new Error(`unterminated class in /${source}/`);
      const negated = source[i + 1] === '^';
      const body = source.slice(i + (negated ? 2 : 1), end);
      out += '[' + (negated ? '^' : '') + foldClassBody(body, table) + ']';
      i = end + 1;
      continue;
    }
    if (c === '(' && source.startsWith('(?<', i) && source[i + 3] !== '=' && source[i + 3] !== '!') {
      // A group name is not text to match.
      const close = source.indexOf('>', i);
      out += source.slice(i, close + 1);
      i = close + 1;
      continue;
    }
    if (c === '{') {
      const q = /^\{\d+(?:,\d*)?\}/.exec(source.slice(i, i + 24));
      if (q) {
        out += q[0];
        i += q[0].length;
        continue;
      }
    }
    out += foldAtom(source.charCodeAt(i), c, table);
    i++;
  }
  return out;
}
