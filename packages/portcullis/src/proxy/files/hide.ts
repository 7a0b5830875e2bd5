/**
 * The `hide` list, with Caddy's semantics: an entry without a slash is a name or glob matched
 * against every path component under the root (`.git` hides `/.git/config` and `/a/.git`); an
 * entry with a slash is a file system path (relative ones resolve against the working directory,
 * as in Caddy) hiding that file or everything below it, or a glob over the whole path.
 * Globs follow Go's filepath.Match: `*` and `?` never cross `/`, `[a-z]`, `[^...]`, `\` escapes.
 */
import path from 'node:path';
import { ASTRAL_CHARACTER, ONE_CHARACTER } from '../matchers/path.ts';

/** A path as the resolver sees it: absolute, and relative to the root (`''` for the root itself). */
export interface HideCandidate {
  abs: string;
  rel: string;
}

export type HidePredicate = (candidate: HideCandidate) => boolean;

/** Compiles a Go-style glob to an anchored RegExp; null for a malformed pattern (it then matches only itself). */
export function globToRegExp(glob: string): RegExp | null {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += ONE_CHARACTER;
    else if (c === '\\') {
      const next = glob[++i];
      if (next === undefined) return null;
      out += escapeRegExp(next);
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) return null;
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('^') || body.startsWith('!');
      if (negate) body = body.slice(1);
      if (body === '') return null;
      // Keep only literal characters and ranges; anything else in a class is escaped.
      const cls = body.replace(/[\]\\^[]/g, (m) => '\\' + m);
      // No `u` flag (see globToRegExp's end): a negated class takes any character outside the
      // BMP whole, even one it lists (hiding more, never less); a listed one matches whole.
      const astral = body.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g) ?? [];
      const bmp = cls.replace(/[\uD800-\uDFFF]/g, '');
      if (astral.length === 0 && bmp === '') return null;
      if (negate) out += `(?:${ASTRAL_CHARACTER}|[^/${bmp}\\uD800-\\uDFFF])`;
      else out += `(?:${[...astral.map(escapeRegExp), ...(bmp === '' ? [] : [`[${bmp}]`])].join('|')})`;
      i = close;
    } else out += escapeRegExp(c);
  }
  try {
    // No `u` flag, no lookaround: V8's linear-time fallback takes only such patterns
    // (matchers/path.ts compileGlob says why it matters).
    return new RegExp(out + '$');
  } catch {
    return null;
  }
}

function escapeRegExp(s: string): string {
  // Only syntax characters.
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function matcher(pattern: string): (s: string) => boolean {
  const re = /[*?[\\]/.test(pattern) ? globToRegExp(pattern) : null;
  return re === null ? (s) => s === pattern : (s) => re.test(s);
}

/**
 * Compiles the hide list. `alwaysHidden` are absolute paths (the config file, lexical and real)
 * that are never served whatever the list says.
 */
export function compileHide(patterns: readonly string[], alwaysHidden: readonly string[]): HidePredicate {
  const names: ((s: string) => boolean)[] = [];
  const paths: { prefix: string; match: (s: string) => boolean }[] = [];
  for (const p of patterns) {
    if (p === '') continue;
    if (p.includes('/')) {
      const abs = path.resolve(p);
      paths.push({ prefix: abs === '/' ? '/' : abs + '/', match: matcher(abs) });
    } else names.push(matcher(p));
  }
  const exact = new Set(alwaysHidden);
  return ({ abs, rel }) => {
    if (exact.has(abs)) return true;
    for (const p of paths) {
      if (p.match(abs) || abs.startsWith(p.prefix)) return true;
    }
    if (names.length > 0 && rel !== '') {
      for (const component of rel.split('/')) {
        for (const m of names) if (m(component)) return true;
      }
    }
    return false;
  };
}
