/**
 * The built-in path probes (segment patterns, see rule-files.ts) as one index over the
 * normalised, lower-cased path, without regexps: each path segment costs a lookup in three
 * Maps, keyed by the whole segment (literal patterns), by its first three characters
 * (`phpmyadmin*`, `wp-config*`) and by its last character (`*.sql`, `*~`). Only the few
 * patterns a lookup returns are compared in full. A regexp of the same patterns was measured
 * at ~1 us for `/assets/app.js`; this is a small fraction of that.
 */
import type { RuleMatch } from './field-matcher.ts';

export interface PathIndex {
  /** The rule (not in `excluded`) of the leftmost matching segment, lowest index first, or -1. */
  match(path: string, excluded: ReadonlySet<number> | null): RuleMatch;
}

/** One segment of a pattern: a literal, or `prefix*suffix`. */
interface SegmentTest {
  literal: string | null;
  prefix: string;
  suffix: string;
}

interface Entry {
  rule: number;
  /** Only when the first segment is the path's first. */
  anchored: boolean;
  first: SegmentTest;
  /** The segments that must follow, in order. */
  rest: SegmentTest[];
}

/** Prefix patterns are keyed by this many leading characters. */
const KEY = 3;

function segmentTest(s: string): SegmentTest {
  const star = s.indexOf('*');
  return star === -1 ? { literal: s, prefix: '', suffix: '' } : { literal: null, prefix: s.slice(0, star), suffix: s.slice(star + 1) };
}

function segmentMatches(t: SegmentTest, s: string): boolean {
  if (t.literal !== null) return s === t.literal;
  return s.length >= t.prefix.length + t.suffix.length && s.startsWith(t.prefix) && s.endsWith(t.suffix);
}

function push(map: Map<string, Entry[]>, key: string, e: Entry): void {
  const list = map.get(key);
  if (list) list.push(e);
  else map.set(key, [e]);
}

/**
 * Compiles `{ rule, pattern }` pairs (patterns checked by rule-files.ts: lower-case, braces
 * expanded, at most one `*` a segment); null when there are none.
 */
export function compilePathIndex(entries: { rule: number; pattern: string }[]): PathIndex | null {
  if (entries.length === 0) return null;
  const literal = new Map<string, Entry[]>();
  const byPrefix = new Map<string, Entry[]>();
  const bySuffix = new Map<string, Entry[]>();
  const others: Entry[] = [];
  for (const { rule, pattern } of entries) {
    const anchored = pattern.startsWith('/');
    const segments = (anchored ? pattern.slice(1) : pattern).split('/').map(segmentTest);
    const e: Entry = { rule, anchored, first: segments[0]!, rest: segments.slice(1) };
    const f = e.first;
    if (f.literal !== null) push(literal, f.literal, e);
    else if (f.prefix.length >= KEY) push(byPrefix, f.prefix.slice(0, KEY), e);
    else if (f.suffix !== '') push(bySuffix, f.suffix[f.suffix.length - 1]!, e);
    else others.push(e);
  }

  /** Whether the segments after `end` (the index after the first segment) match `rest`. */
  const restMatches = (path: string, end: number, rest: SegmentTest[]): boolean => {
    let pos = end;
    for (const t of rest) {
      if (path.charCodeAt(pos) !== 47) return false;
      let next = path.indexOf('/', pos + 1);
      if (next === -1) next = path.length;
      if (!segmentMatches(t, path.slice(pos + 1, next))) return false;
      pos = next;
    }
    return true;
  };

  /** The lowest rule among `list` matching the segment `seg` at [start, end), or `best`. */
  const scan = (list: Entry[] | undefined, path: string, seg: string, start: number, end: number, excluded: ReadonlySet<number> | null, best: number): number => {
    if (list === undefined) return best;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if ((best !== -1 && e.rule >= best) || (e.anchored && start !== 1)) continue;
      if (excluded !== null && excluded.has(e.rule)) continue;
      if (segmentMatches(e.first, seg) && (e.rest.length === 0 || restMatches(path, end, e.rest))) best = e.rule;
    }
    return best;
  };

  return {
    match(path, excluded) {
      const n = path.length;
      for (let start = 1; start < n; ) {
        let end = path.indexOf('/', start);
        if (end === -1) end = n;
        if (end > start) {
          const seg = path.slice(start, end);
          let best = scan(literal.get(seg), path, seg, start, end, excluded, -1);
          if (seg.length >= KEY) best = scan(byPrefix.get(seg.slice(0, KEY)), path, seg, start, end, excluded, best);
          best = scan(bySuffix.get(seg[seg.length - 1]!), path, seg, start, end, excluded, best);
          best = scan(others, path, seg, start, end, excluded, best);
          if (best !== -1) return best;
        }
        start = end + 1;
      }
      return -1;
    },
  };
}
