/**
 * The built-in request rules: JSON files in the package's data/rules/ (one category a file),
 * written for Portcullis, read once per config load and checked strictly, since a rule that
 * quietly fails to compile is a hole nobody sees.
 *
 * A file: `{ category, description, define?, rules: [{ id, description, paths?, regexps? }] }`.
 * - `paths`: segment patterns on the normalised, lower-cased path. `wp-admin` matches that
 *   segment anywhere (`/blog/wp-admin/x`); `actuator/env` consecutive segments anywhere;
 *   a leading `/` anchors at the root (`/bitrix`); one `*` a segment spans characters within
 *   it (`*.sql`, `phpmyadmin*`, `wp-*.php`); `{a,b}` lists alternatives (`{www,db}.{zip,tgz}`).
 * - `regexps`: `{ in: [targets], pattern, plain?, needles?, why? }`. Targets: `path` (the raw path
 *   percent-decoded until no escape is left, lower-cased), `query` (the same, `+` as space),
 *   `user_agent` (lower-cased), `headers` (every header value, lower-cased, tried only when
 *   it contains one of `needles`, so the common request pays an indexOf per header; every
 *   string the pattern matches must contain a needle, or the match is never tried).
 *   Patterns are lower-case JavaScript regexps without flags (see inspect-decode.ts), kept to
 *   what V8's linear-time engine accepts. `{name}` inserts the file's `define`d fragment.
 * - Plain input: a raw path or query of PLAIN characters only, without `..`, is tried only
 *   against the regexps that list its target in `plain` (`"plain": ["query"]`): most of what
 *   the regexps look for (encodings, quotes, spaces, markup, `${`) needs other characters, and
 *   skipping them keeps API and analytics queries cheap. A regexp that can match plain text
 *   must say so; the loader refuses one that matches plain text made of its own words without
 *   declaring it. On paths, what plain text can hold belongs in `paths` instead: a rule with
 *   `paths` is taken to cover plain paths with them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { packageFile } from '../../kernel/package-files.ts';

/** The shipped rules (package.json `files` ships data/). */
export const SHIPPED_RULES_DIR: string = packageFile('data/rules/');

export const TARGETS = ['path', 'query', 'user_agent', 'headers'] as const;
export type Target = (typeof TARGETS)[number];

export interface BuiltinRegexp {
  in: Target[];
  /** Targets (path, query) where it also reads plain input. */
  plain: Target[];
  /** The JavaScript source, `{name}` fragments expanded. */
  pattern: string;
  /** Header values are inspected only when they contain one of these. */
  needles: string[];
}

export interface BuiltinRule {
  id: string;
  category: string;
  description: string;
  paths: string[];
  regexps: BuiltinRegexp[];
  /** The data file it came from (for messages). */
  file: string;
}

/** Rule ids and categories: lower-case words joined by single dashes. */
export const RULE_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** A segment pattern: lower-case path characters and `*`, segments split by `/`. */
const PATH_PATTERN = /^\/?[a-z0-9._~!$&'()+,;=:@*-]+(?:\/[a-z0-9._~!$&'()+,;=:@*-]+)*$/;

/** Plain input (with no `..` in it): only the regexps declaring `plain` for its target read it. */
export const PLAIN = /^[A-Za-z0-9/._~=&-]*$/;

/** Whether a raw path or query is plain (see the file comment). */
export function isPlain(raw: string): boolean {
  return PLAIN.test(raw) && raw.indexOf('..') === -1;
}

/** The targets whose plain input skips the regexps that do not declare it. */
const PLAIN_TARGETS: readonly Target[] = ['path', 'query'];

/** More alternatives than this from one pattern's braces is a mistake, not a list. */
const MAX_EXPANSION = 1000;

/** Reads every `*.json` in `dir` (in name order). Throws ERR_CONFIG_INVALID listing every problem. */
export function loadBuiltinRules(dir: string = SHIPPED_RULES_DIR): BuiltinRule[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (error) {
    throw invalid(`cannot read the built-in rules in ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
  }
  if (names.length === 0) throw invalid(`no built-in rules in ${dir}`);
  const problems: string[] = [];
  const rules: BuiltinRule[] = [];
  const categories = new Set<string>();
  for (const name of names) {
    const file = join(dir, name);
    const report = (where: string, message: string) => problems.push(`${file}: ${where}${where === '' ? '' : ': '}${message}`);
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      report('', `cannot read: ${(error as Error).message}`);
      continue;
    }
    const category = readCategory(data, report, categories);
    if (category !== null) rules.push(...category.rules.map((r) => ({ ...r, category: category.name, file })));
  }
  const ids = new Map<string, string>();
  for (const r of rules) {
    const first = ids.get(r.id);
    if (first !== undefined) problems.push(`${r.file}: rule ${r.id} is also defined in ${first}`);
    else ids.set(r.id, r.file);
    // `exclude` names either; a rule may share only its own category's name (sqli in sqli).
    if (categories.has(r.id) && r.id !== r.category) problems.push(`${r.file}: rule ${r.id} has the name of another category`);
  }
  if (problems.length > 0) throw invalid(`built-in rules:\n${problems.join('\n')}`);
  return rules;
}

function invalid(message: string, cause?: unknown): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, message, cause === undefined ? {} : { cause });
}

type Report = (where: string, message: string) => void;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(v: Record<string, unknown>, allowed: string[], where: string, report: Report): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) report(where, `unknown field ${JSON.stringify(k)}`);
}

function stringList(v: unknown, where: string, report: Report): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
    report(where, 'expected a list of non-empty strings');
    return [];
  }
  return v as string[];
}

function readCategory(
  data: unknown,
  report: Report,
  seen: Set<string>,
): { name: string; rules: Omit<BuiltinRule, 'category' | 'file'>[] } | null {
  if (!isObject(data)) {
    report('', 'expected an object');
    return null;
  }
  onlyKeys(data, ['category', 'description', 'define', 'rules'], '', report);
  const name = data.category;
  if (typeof name !== 'string' || !RULE_NAME.test(name)) {
    report('category', 'expected a lower-case name (letters, digits, dashes)');
    return null;
  }
  if (seen.has(name)) report('category', `${name} is the category of another file too`);
  seen.add(name);
  if (typeof data.description !== 'string' || data.description === '') report('description', 'expected a description');
  const defines = readDefines(data.define, report);
  if (!Array.isArray(data.rules) || data.rules.length === 0) {
    report('rules', 'expected a non-empty list');
    return { name, rules: [] };
  }
  const rules = data.rules.flatMap((r, i) => {
    const rule = readRule(r, `rules[${i}]`, defines, report);
    return rule === null ? [] : [rule];
  });
  return { name, rules };
}

function readDefines(v: unknown, report: Report): Map<string, string> {
  const out = new Map<string, string>();
  if (v === undefined) return out;
  if (!isObject(v)) {
    report('define', 'expected an object of name -> regexp fragment');
    return out;
  }
  for (const [k, x] of Object.entries(v)) {
    if (!/^[a-z_]+$/.test(k) || typeof x !== 'string') report(`define.${k}`, 'expected a lower-case name and a string');
    else out.set(k, x);
  }
  return out;
}

function readRule(v: unknown, where: string, defines: Map<string, string>, report: Report): Omit<BuiltinRule, 'category' | 'file'> | null {
  if (!isObject(v)) {
    report(where, 'expected an object');
    return null;
  }
  if (typeof v.id !== 'string' || !RULE_NAME.test(v.id)) {
    report(`${where}.id`, 'expected a lower-case name (letters, digits, dashes)');
    return null;
  }
  const at = `rule ${v.id}`;
  onlyKeys(v, ['id', 'description', 'paths', 'regexps'], at, report);
  if (typeof v.description !== 'string' || v.description === '') report(at, 'expected a description');
  const paths: string[] = [];
  for (const written of stringList(v.paths, `${at}: paths`, report)) {
    const expanded = expandBraces(written);
    if (typeof expanded === 'string') {
      report(`${at}: paths`, `${JSON.stringify(written)}: ${expanded}`);
      continue;
    }
    for (const p of expanded) {
      const problem = pathPatternProblem(p);
      if (problem !== null) report(`${at}: paths`, `${JSON.stringify(p)}: ${problem}`);
      else paths.push(p);
    }
  }
  const regexps: BuiltinRegexp[] = [];
  if (v.regexps !== undefined && !Array.isArray(v.regexps)) report(`${at}: regexps`, 'expected a list');
  else {
    ((v.regexps as unknown[] | undefined) ?? []).forEach((r, i) => {
      const re = readRegexp(r, `${at}: regexps[${i}]`, defines, paths.length > 0, report);
      if (re !== null) regexps.push(re);
    });
  }
  if (paths.length === 0 && regexps.length === 0) report(at, 'has neither paths nor regexps');
  return { id: v.id, description: typeof v.description === 'string' ? v.description : '', paths, regexps };
}

/** `{a,b}` groups (not nested) expanded into every combination; a string says what is wrong. */
export function expandBraces(pattern: string): string[] | string {
  const open = pattern.indexOf('{');
  if (open === -1) return pattern.includes('}') ? 'unbalanced }' : [pattern];
  const close = pattern.indexOf('}', open);
  const inner = close === -1 ? '' : pattern.slice(open + 1, close);
  if (close === -1 || inner.includes('{') || inner.includes('/')) return 'braces must close, hold no / and not nest';
  const tails = expandBraces(pattern.slice(close + 1));
  if (typeof tails === 'string') return tails;
  const heads = inner.split(',').map((alt) => pattern.slice(0, open) + alt);
  if (heads.length * tails.length > MAX_EXPANSION) return `expands to more than ${MAX_EXPANSION} patterns`;
  return heads.flatMap((h) => tails.map((t) => h + t));
}

/** Why a segment pattern (braces expanded) is unusable, or null. */
export function pathPatternProblem(p: string): string | null {
  if (!PATH_PATTERN.test(p)) return 'expected lower-case path segments (letters, digits, ._~!$&\'()+,;=:@-) and *';
  for (const segment of p.replace(/^\//, '').split('/')) {
    if (segment === '.' || segment === '..') return 'dot segments never reach a normalised path';
    if (/^\**$/.test(segment)) return 'a segment needs at least one character besides *';
    if (segment.indexOf('*') !== segment.lastIndexOf('*')) return 'at most one * a segment';
  }
  return null;
}

/** `coversPlainPaths`: the rule has segment patterns, which are what plain paths meet. */
function readRegexp(v: unknown, where: string, defines: Map<string, string>, coversPlainPaths: boolean, report: Report): BuiltinRegexp | null {
  if (!isObject(v)) {
    report(where, 'expected an object');
    return null;
  }
  onlyKeys(v, ['in', 'pattern', 'plain', 'needles', 'why'], where, report);
  const targets = stringList(v.in, `${where}.in`, report);
  const unknown = targets.filter((t) => !(TARGETS as readonly string[]).includes(t));
  if (targets.length === 0 || unknown.length > 0 || new Set(targets).size !== targets.length) {
    report(`${where}.in`, `expected distinct targets among ${TARGETS.join(', ')}`);
    return null;
  }
  const plain = stringList(v.plain, `${where}.plain`, report) as Target[];
  if (plain.some((t) => !targets.includes(t) || !PLAIN_TARGETS.includes(t))) report(`${where}.plain`, `expected some of its targets among ${PLAIN_TARGETS.join(', ')}`);
  const needles = stringList(v.needles, `${where}.needles`, report);
  // Needles are looked for in the header value as sent, before lower-casing.
  if (needles.some((n) => /[A-Za-z]/.test(n))) report(`${where}.needles`, 'needles must not contain letters (they are matched before lower-casing)');
  if (targets.includes('headers') !== needles.length > 0) report(`${where}.needles`, 'needles are required with the headers target, and only there');
  if (typeof v.pattern !== 'string' || v.pattern === '') {
    report(`${where}.pattern`, 'expected a regexp');
    return null;
  }
  const pattern = expandDefines(v.pattern, defines, (name) => report(`${where}.pattern`, `{${name}} is not defined`));
  const undeclared = PLAIN_TARGETS.filter((t) => targets.includes(t) && !plain.includes(t) && !(t === 'path' && coversPlainPaths));
  const problem = patternProblem(pattern) ?? (undeclared.length > 0 ? plainProblem(pattern, undeclared) : null);
  if (problem !== null) {
    report(`${where}.pattern`, problem);
    return null;
  }
  return { in: targets as Target[], plain, pattern, needles };
}

function expandDefines(pattern: string, defines: Map<string, string>, missing: (name: string) => void): string {
  return pattern.replace(/\{([a-z_]+)\}/g, (whole, name: string) => {
    const fragment = defines.get(name);
    if (fragment === undefined) missing(name);
    return fragment ?? whole;
  });
}

/**
 * A regexp that does not declare `plain` must need a character plain input lacks. Checked on
 * plain strings made of the pattern's own words, the likely way to get it wrong.
 */
function plainProblem(pattern: string, targets: Target[]): string | null {
  const literal = pattern.replace(/%u[0-9a-f]{4}|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\[a-z]/g, ' ').replace(/\\(.)/g, '$1');
  const words = (literal.match(/[a-z0-9_.~-]{2,}/g) ?? []).filter((w) => !w.includes('..'));
  if (words.length === 0) return null;
  const re = new RegExp(pattern);
  const joined = ['', '/', '.', '-', '_', '=', '&'].map((sep) => words.join(sep));
  const samples = [...joined, ...joined.map((j) => '/' + j), ...words.flatMap((w) => [w, '/' + w, `/x/${w}/y`, `x=${w}`, `${w}=1`, `x=${w}&y=1`])];
  const hit = samples.find((s) => isPlain(s) && re.test(s));
  return hit === undefined ? null : `matches the plain text ${JSON.stringify(hit)}: declare "plain": [${targets.map((t) => JSON.stringify(t)).join(', ')}] (on paths, prefer paths)`;
}

function patternProblem(pattern: string): string | null {
  try {
    new RegExp(pattern);
  } catch (error) {
    return (error as Error).message;
  }
  // The inputs are lower-cased: an upper-case letter (not an escape like \S or \xC0) never matches.
  const letters = pattern.replace(/\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|c[A-Za-z]|.)/g, '');
  if (/[A-Z]/.test(letters)) return 'has an upper-case letter, but the inputs are lower-cased';
  return null;
}
