/**
 * The built-in regexps of one request field (path, query, user agent, header values) as a
 * single combined RegExp: an ordinary request pays one test per field. Only when it matches
 * are the rules' own RegExps tried, in order, to name the rule (and skip excluded ones).
 */
/** A rule index, or -1. */
export type RuleMatch = number;

export interface FieldMatcher {
  /** The first rule (not in `excluded`) whose regexp matches `input`, or -1. */
  match(input: string, excluded: ReadonlySet<number> | null): RuleMatch;
}

interface Entry {
  rule: number;
  re: RegExp;
}

/** One pattern that matches where any of `patterns` (flagless sources) does. */
export function combineSources(patterns: string[]): string {
  return patterns.map((p) => `(?:${p})`).join('|');
}

/** Compiles `{ rule, pattern }` pairs (flagless sources); null when there are none. */
export function compileFieldMatcher(entries: { rule: number; pattern: string }[]): FieldMatcher | null {
  if (entries.length === 0) return null;
  const list: Entry[] = entries.map((e) => ({ rule: e.rule, re: new RegExp(e.pattern) }));
  const combined = new RegExp(combineSources(entries.map((e) => e.pattern)));
  return {
    match(input, excluded) {
      if (!combined.test(input)) return -1;
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!;
        if ((excluded === null || !excluded.has(e.rule)) && e.re.test(input)) return e.rule;
      }
      return -1;
    },
  };
}

/** Characters by how rarely ordinary header values hold them (user agents hold parentheses). */
const RARE_FIRST = '$`|\\^~<>[]}{#!@%)(';

function rarity(c: string): number {
  const i = RARE_FIRST.indexOf(c);
  return i === -1 ? RARE_FIRST.length : i;
}

export interface HeaderMatcher {
  /**
   * The first rule matching any header value, or -1. `rawHeaders` is Node's flat list (name,
   * value, name, value, ...): an array walk, where a for-in over the headers object walked a
   * dictionary's keys on every request; a repeated header's values are tested one by one.
   */
  match(rawHeaders: readonly string[], excluded: ReadonlySet<number> | null): RuleMatch;
}

/**
 * Regexps over every header value. A value is lower-cased and tested only when it contains one
 * of the needles (`${`, `%{`, `{`): payloads such as Log4Shell's can sit in any header, and the
 * common request must not pay a regexp per header to find none. A key character of the needles
 * is looked for first (`{` for the shipped rules: one indexOf per header value), since a search
 * for a single character is several times cheaper than one for a string.
 */
export function compileHeaderMatcher(entries: { rule: number; pattern: string; needles: string[] }[]): HeaderMatcher | null {
  const field = compileFieldMatcher(entries);
  if (field === null) return null;
  // Each needle is looked for only when its key character is there: the character most
  // needles share (one indexOf serves them all), the rarer on a tie.
  const needles = [...new Set(entries.flatMap((e) => e.needles))];
  const shared = (c: string) => needles.filter((n) => n.includes(c)).length;
  const byKey = new Map<string, string[]>();
  for (const needle of needles) {
    const key = [...needle].sort((a, b) => shared(b) - shared(a) || rarity(a) - rarity(b))[0]!;
    byKey.set(key, [...(byKey.get(key) ?? []), needle]);
  }
  const groups = [...byKey].map(([key, needles]) => ({ key, needles }));
  const suspicious = (value: string): boolean => {
    for (let g = 0; g < groups.length; g++) {
      const { key, needles } = groups[g]!;
      if (value.indexOf(key) === -1) continue;
      for (let i = 0; i < needles.length; i++) if (value.indexOf(needles[i]!) !== -1) return true;
    }
    return false;
  };
  const test = (value: string, excluded: ReadonlySet<number> | null): RuleMatch => (suspicious(value) ? field.match(value.toLowerCase(), excluded) : -1);
  return {
    match(rawHeaders, excluded) {
      for (let i = 1; i < rawHeaders.length; i += 2) {
        const hit = test(rawHeaders[i]!, excluded);
        if (hit !== -1) return hit;
      }
      return -1;
    },
  };
}
