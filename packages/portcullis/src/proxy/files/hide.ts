/**
 * The `hide` list, with Caddy's semantics: an entry without a slash is a name or glob matched
 * against every path component under the root (`.git` hides `/.git/config` and `/a/.git`); an
 * entry with a slash is a file system path (relative ones resolve against the working directory,
 * as in Caddy) hiding that file or everything below it, or a glob over the whole path.
 * Globs follow Go's filepath.Match: `*` and `?` never cross `/`, `[a-z]`, `[^...]`, `\` escapes.
 */
import path from 'node:path';
import { globSource } from '../matchers/path.ts';

/** A path as the resolver sees it: absolute, and relative to the root (`''` for the root itself). */
export interface HideCandidate {
  abs: string;
  rel: string;
}

export type HidePredicate = (candidate: HideCandidate) => boolean;

/**
 * Compiles a Go-style glob to an anchored RegExp (matchers/path.ts globSource: the path
 * matcher's compiler, without the `u` flag so V8's linear-time fallback applies); null for a
 * malformed pattern (it then matches only itself).
 */
export function globToRegExp(glob: string): RegExp | null {
  try {
    return new RegExp(`${globSource(glob, 'any')}$`);
  } catch {
    return null;
  }
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
