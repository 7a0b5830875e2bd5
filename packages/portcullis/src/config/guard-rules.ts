/**
 * The `rules { ... }` block of the global `guard` option: the built-in rule set on or off,
 * log-only mode, per-site exclusions and custom rules. Values are checked by the same functions
 * for Caddyfiles and JSON configs (checkRequestRulesJson), and every problem is reported at its
 * line.
 *
 * Rule regexps meet hostile input on every request, so beyond RE2 syntax they must stay within
 * what V8's linear-time engine can take over when they backtrack too much (see
 * kernel/case-fold.ts): no `\p{...}` / `\x{...}` (they need the `u` flag, which that engine
 * refuses), no inline flag groups but a leading `(?i)`, and no nested repetition such as
 * `(a+)+`, the classic catastrophic pattern.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { domainToASCII } from 'node:url';
import type { Directive, Token } from './ast.ts';
import type { CustomRule, RequestRulesConfig } from './types.ts';
import type { SourceLocation } from '../kernel/errors.ts';
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import { argCount, didYouMean, type Dispenser, eachSubdirective, flag, noBlock, once, singleArg, where } from './dispenser.ts';
import { checkRegexp } from './matcher-syntax.ts';
import { packageFile } from '../kernel/package-files.ts';

/** The built-in rule files, for their names (guard/rules/rule-files.ts reads and checks them in full). */
const BUILTIN_RULES_DIR: string = packageFile('data/rules/');

/** The category of rules from config; `exclude <host> custom` excludes them all. */
export const CUSTOM_RULES_CATEGORY = 'custom';

export const RULE_ACTIONS = ['block', 'log', 'challenge'] as const;

const METHOD = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The rules settings when the block is absent: built-ins on, enforcing, nothing excluded. */
export function defaultRequestRules(): RequestRulesConfig {
  return { builtin: true, logOnly: false, exclusions: [], custom: [] };
}

/** The ids and categories of the built-in rules, or why they cannot be read. */
export interface BuiltinRuleNames {
  ids: Set<string>;
  categories: Set<string>;
  error: string | null;
}

/** Reads the names of the built-in rules from their data files (default: the shipped ones). */
export function builtinRuleNames(dir: string = BUILTIN_RULES_DIR): BuiltinRuleNames {
  const names: BuiltinRuleNames = { ids: new Set(), categories: new Set(), error: null };
  try {
    for (const file of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const data = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as { category?: unknown; rules?: { id?: unknown }[] };
      if (typeof data.category === 'string') names.categories.add(data.category);
      for (const rule of Array.isArray(data.rules) ? data.rules : []) if (typeof rule?.id === 'string') names.ids.add(rule.id);
    }
  } catch (error) {
    names.error = `cannot read the built-in rules in ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Value checks shared by the Caddyfile and JSON readers: each returns a message or null.

/** A rule id: letters, digits, `.`, `_`, `-`; not `custom`, not a built-in name. */
export function ruleIdProblem(id: string, builtin: BuiltinRuleNames): string | null {
  if (!RULE_ID.test(id)) return `rule id ${JSON.stringify(id)} may contain only letters, digits, '.', '_' and '-' (at most 64)`;
  if (id === CUSTOM_RULES_CATEGORY || builtin.ids.has(id) || builtin.categories.has(id)) {
    return `rule id ${JSON.stringify(id)} is the name of a built-in rule or category (exclude names either): choose another`;
  }
  return null;
}

/** A path pattern in Caddy's path matcher syntax, on the decoded path. */
export function rulePathProblem(pattern: string): string | null {
  if (!pattern.startsWith('/') && !pattern.startsWith('*')) return `path ${JSON.stringify(pattern)} never matches: request paths start with "/"`;
  if (pattern.includes('{') || pattern.includes('}')) return `path ${JSON.stringify(pattern)}: placeholders are not supported in rules`;
  // Rules see the decoded, normalised path only; escapes and `//` would never match it.
  if (pattern.includes('%')) return `path ${JSON.stringify(pattern)}: rules match the decoded path; write the characters, not %-escapes`;
  if (pattern.includes('//')) return `path ${JSON.stringify(pattern)}: rules match the normalised path, which has no "//"`;
  if (pattern.endsWith('\\')) return `path ${JSON.stringify(pattern)}: trailing backslash`;
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === '[') depth++;
    else if (pattern[i] === ']' && depth > 0) depth--;
  }
  return depth === 0 ? null : `path ${JSON.stringify(pattern)}: unterminated [ class`;
}

/** A regexp in a rule: RE2 syntax, and safe to run on hostile input (see the file comment). */
export function ruleRegexpProblem(pattern: string): string | null {
  const syntax = checkRegexp(pattern);
  if (syntax !== null) return syntax;
  return regexpShapeProblem(pattern);
}

/** What makes a pattern unsafe or unsupported in rules (after the syntax check), or null. */
function regexpShapeProblem(pattern: string): string | null {
  const show = JSON.stringify(pattern);
  const lead = /^\(\?[imsU]+\)/.exec(pattern);
  // Whether each open group's body repeats something (a quantifier allowing more than one).
  const repeats: boolean[] = [false];
  let i = lead ? lead[0].length : 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const e = pattern[i + 1] ?? '';
      if (e === 'p' || e === 'P' || (e === 'x' && pattern[i + 2] === '{')) return `regexp ${show}: \\p{...} and \\x{...} are not supported in rules`;
      if (e === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        i = end === -1 ? pattern.length : end + 2;
      } else i += 2;
    } else if (c === '[') {
      const end = classEnd(pattern, i);
      if (/\\[pP]|\\x\{/.test(pattern.slice(i, end))) return `regexp ${show}: \\p{...} and \\x{...} are not supported in rules`;
      i = end + 1;
    } else if (c === '(') {
      i++;
      if (pattern[i] === '?') {
        const named = /^\?P?<[^>]*>/.exec(pattern.slice(i));
        if (named) i += named[0].length;
        else if (pattern[i + 1] === ':') i += 2;
        else return `regexp ${show}: flag groups such as (?i:...) are not supported in rules; start the pattern with (?i) instead`;
      }
      repeats.push(false);
      continue;
    } else if (c === ')') {
      const inner = repeats.length > 1 ? repeats.pop()! : false;
      const q = quantifier(pattern, i + 1);
      if (inner && q.unbounded) {
        return `regexp ${show}: nested repetition such as (a+)+ can take exponential time on hostile input; repeat a character class instead ([\\w.]+ rather than (\\w+\\.)+)`;
      }
      if (inner || q.repeats) repeats[repeats.length - 1] = true;
      i = q.next;
      continue;
    } else i++;
    const q = quantifier(pattern, i);
    if (q.repeats) repeats[repeats.length - 1] = true;
    i = q.next;
  }
  return null;
}

/** The quantifier at `i`, if any: whether it allows more than one and has no small bound. */
function quantifier(p: string, i: number): { repeats: boolean; unbounded: boolean; next: number } {
  const c = p[i];
  let repeats = false;
  let unbounded = false;
  let next = i;
  if (c === '*' || c === '+') {
    repeats = unbounded = true;
    next = i + 1;
  } else if (c === '?') {
    next = i + 1;
  } else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 24));
    if (m) {
      const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
      repeats = max > 1;
      // Past 16 copies V8's linear-time engine gives up too, so count it as unbounded.
      unbounded = max > 16;
      next = i + m[0].length;
    }
  }
  if (next > i && p[next] === '?') next++; // lazy
  return { repeats, unbounded, next };
}

/** The index of the `]` closing the class at `start` (RE2: a leading `]` is literal). */
function classEnd(p: string, start: number): number {
  let i = start + 1;
  if (p[i] === '^') i++;
  if (p[i] === ']') i++;
  for (; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === '[' && p[i + 1] === ':') {
      const end = p.indexOf(':]', i + 2);
      if (end !== -1) i = end + 1;
    } else if (p[i] === ']') return i;
  }
  return p.length;
}

/** An HTTP method token, upper-cased as Caddy's method matcher does. */
export function ruleMethodProblem(method: string): string | null {
  return METHOD.test(method) ? null : `method ${JSON.stringify(method)} is not an HTTP method token`;
}

export function ruleIpProblem(range: string): string | null {
  try {
    compileIpRanges([range]);
    return null;
  } catch {
    return `ip ${JSON.stringify(range)} is not an IP address or CIDR range`;
  }
}

/**
 * A host for `exclude`, as site addresses write it: `example.com`, `*.example.com`, `*`, an IP
 * address. Returns the normalised host (lower-case, IDN as punycode) or a problem.
 */
export function exclusionHost(text: string): { host: string } | { problem: string } {
  const raw = text.trim().toLowerCase();
  if (raw === '*') return { host: raw };
  if (/^\[[0-9a-f:.]+\]$/.test(raw) || (/^[0-9a-f:.]+$/.test(raw) && raw.includes(':'))) {
    return ruleIpProblem(raw.replace(/^\[|\]$/g, '')) === null ? { host: raw.replace(/^\[|\]$/g, '') } : { problem: `exclude: ${JSON.stringify(text)} is not a host` };
  }
  if (/[/:@?#]/.test(raw)) return { problem: `exclude: ${JSON.stringify(text)} is not a host (write the host alone: no scheme, port or path)` };
  const labels = raw.split('.').map((l) => (l === '*' || !/[^\x00-\x7f]/.test(l) ? l : domainToASCII(l)));
  if (labels.some((l) => l !== '*' && !/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))) return { problem: `exclude: ${JSON.stringify(text)} is not a host (a name, *.name, an IP address or *)` };
  return { host: labels.join('.') };
}

/** The names in `rules` that are neither a built-in id or category, nor a custom rule, nor `custom`. */
function unknownNames(rules: string[], builtin: BuiltinRuleNames, customIds: Set<string>): string[] {
  return rules.filter((n) => n !== CUSTOM_RULES_CATEGORY && !builtin.ids.has(n) && !builtin.categories.has(n) && !customIds.has(n));
}

function knownNames(builtin: BuiltinRuleNames, customIds: Set<string>): string[] {
  return [...builtin.ids, ...builtin.categories, ...customIds, CUSTOM_RULES_CATEGORY];
}

// ---------------------------------------------------------------------------------------------
// Caddyfile


/**
 * `rules { builtin on|off; log_only; exclude <host> <rules...>; rule <id> { ... } }` inside the
 * global `guard` block. Reports problems through `disp` (named `guard`) and returns what was
 * valid. `_configDir` is reserved for rule files relative to the config.
 */
export function parseGuardRules(d: Directive, disp: Dispenser, _configDir: string): RequestRulesConfig {
  const rules = defaultRequestRules();
  argCount(disp, d, d.args, 0, 0, 'rules { ... }');
  if (d.block === null) {
    disp.error(d, 'rules: expected a block: rules { builtin on|off; log_only; exclude <host> <rules...>; rule <id> { ... } }');
    return rules;
  }
  const seen = new Map<string, Directive>();
  const excludes: Token[][] = [];
  const customAt = new Map<string, Directive>();
  let builtin: BuiltinRuleNames | null = null;
  const names = (): BuiltinRuleNames => (builtin ??= builtinRuleNames());
  eachSubdirective(disp, d, {
    builtin: (sub) => {
      const t = once(disp, seen, sub, 'rules builtin') ? singleArg(disp, sub, 'builtin on|off') : null;
      if (t === null) return;
      if (t.text === 'on' || t.text === 'off') rules.builtin = t.text === 'on';
      else disp.error(t, `builtin: expected on or off, got ${JSON.stringify(t.text)}`);
    },
    log_only: (sub) => {
      if (once(disp, seen, sub, 'rules log_only') && flag(disp, sub)) rules.logOnly = true;
    },
    exclude: (sub) => {
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 2, Infinity, 'exclude <host> <rule ids or categories...>')) return;
      const host = exclusionHost(sub.args[0]!.text);
      if ('problem' in host) return disp.error(sub.args[0]!, host.problem);
      const list = sub.args.slice(1);
      excludes.push(list);
      rules.exclusions.push({ host: host.host, rules: list.map((t) => t.text), source: where(sub) });
    },
    rule: (sub) => {
      const parsed = parseRule(sub, disp, names);
      if (parsed === null) return;
      const first = customAt.get(parsed.id);
      if (first !== undefined) return disp.error(sub, `rule ${parsed.id} is already defined at ${first.source.file}:${first.source.line}`);
      // Known even when refused, so an exclude naming it adds no second error.
      customAt.set(parsed.id, sub);
      if (parsed.rule !== null) rules.custom.push(parsed.rule);
    },
  });
  if (excludes.length > 0) {
    const catalog = names();
    if (catalog.error !== null) disp.error(d, `rules: ${catalog.error}`);
    const customIds = new Set(customAt.keys());
    for (const list of excludes) {
      for (const t of list) {
        if (catalog.error === null && unknownNames([t.text], catalog, customIds).length > 0) {
          disp.error(t, `exclude: unknown rule or category ${JSON.stringify(t.text)}${didYouMean(t.text, knownNames(catalog, customIds))}`);
        }
      }
    }
  }
  return rules;
}

const RULE_USAGE = 'rule <id> { path ...; query_regexp <re>; header <name> <re>; user_agent <re>; method ...; ip ...; action block|log|challenge }';

/** The rule's id (null when unusable) and the rule (null when it has a problem, reported). */
function parseRule(d: Directive, disp: Dispenser, names: () => BuiltinRuleNames): { id: string; rule: CustomRule | null } | null {
  if (!argCount(disp, d, d.args, 1, 1, RULE_USAGE)) return null;
  const id = d.args[0]!.text;
  const idProblem = ruleIdProblem(id, names());
  if (idProblem !== null) {
    disp.error(d.args[0]!, idProblem);
    return null;
  }
  const rule: CustomRule = { id, paths: [], queryRegexps: [], headers: {}, userAgent: null, methods: [], ips: [], action: 'block', source: where(d) };
  if (d.block === null || d.block.length === 0) {
    disp.error(d, `rule ${id}: expected a block with at least one condition (usage: ${RULE_USAGE})`);
    return { id, rule: null };
  }
  const rd = disp.named(`rule ${id}`);
  const errorsBefore = rd.errors.errors.length;
  const seen = new Map<string, Directive>();
  // A condition written but refused was reported already; "no condition" would only add noise.
  const written = d.block.some((sub) => sub.name !== 'action');
  const headerAt = new Map<string, Directive>();
  const regexp = (t: Token, label: string): string | null => {
    const problem = ruleRegexpProblem(t.text);
    if (problem !== null) rd.error(t, `${label}: ${problem}`);
    return problem === null ? t.text : null;
  };
  const list = (sub: Directive, usage: string, check: (text: string) => string | null, add: (text: string) => void) => {
    noBlock(rd, sub);
    if (!argCount(rd, sub, sub.args, 1, Infinity, usage)) return;
    for (const t of sub.args) {
      const problem = check(t.text);
      if (problem !== null) rd.error(t, problem);
      else add(t.text);
    }
  };
  // Named after the rule, so messages read `rule <id>: unknown subdirective ...`.
  eachSubdirective(rd, { ...d, name: rd.directive }, {
    path: (sub) => list(sub, 'path <patterns...>', rulePathProblem, (p) => rule.paths.push(p)),
    method: (sub) => list(sub, 'method <methods...>', ruleMethodProblem, (m) => rule.methods.push(m.toUpperCase())),
    ip: (sub) => list(sub, 'ip <ranges...>', ruleIpProblem, (r) => rule.ips.push(r)),
    query_regexp: (sub) => {
      const t = singleArg(rd, sub, 'query_regexp <regexp>');
      const re = t && regexp(t, 'query_regexp');
      if (re !== null) rule.queryRegexps.push(re);
    },
    user_agent: (sub) => {
      const t = once(rd, seen, sub, 'user_agent') ? singleArg(rd, sub, 'user_agent <regexp>') : null;
      rule.userAgent = (t && regexp(t, 'user_agent')) ?? rule.userAgent;
    },
    header: (sub) => {
      noBlock(rd, sub);
      if (!argCount(rd, sub, sub.args, 2, 2, 'header <name> <regexp>')) return;
      const [nameToken, pattern] = sub.args as [Token, Token];
      if (!METHOD.test(nameToken.text)) return rd.error(nameToken, `header: ${JSON.stringify(nameToken.text)} is not a header name`);
      const key = nameToken.text.toLowerCase();
      const first = headerAt.get(key);
      if (first !== undefined) return rd.error(sub, `header ${nameToken.text} is already matched at ${first.source.file}:${first.source.line} (combine the patterns with |)`);
      headerAt.set(key, sub);
      const re = regexp(pattern, `header ${nameToken.text}`);
      if (re !== null) rule.headers[nameToken.text] = re;
    },
    action: (sub) => {
      const t = once(rd, seen, sub, 'action') ? singleArg(rd, sub, 'action block|log|challenge') : null;
      if (t === null) return;
      if ((RULE_ACTIONS as readonly string[]).includes(t.text)) rule.action = t.text as CustomRule['action'];
      else rd.error(t, `action: expected block, log or challenge, got ${JSON.stringify(t.text)}${didYouMean(t.text, RULE_ACTIONS)}`);
    },
  });
  if (!written) rd.error(d, 'a rule needs at least one condition (path, query_regexp, header, user_agent, method or ip)');
  return { id, rule: hasCondition(rule) && rd.errors.errors.length === errorsBefore ? rule : null };
}

function hasCondition(r: CustomRule): boolean {
  return r.paths.length + r.queryRegexps.length + Object.keys(r.headers).length + r.methods.length + r.ips.length > 0 || r.userAgent !== null;
}

// ---------------------------------------------------------------------------------------------
// JSON

/** How checkRequestRulesJson reports (validate-json.ts's `fail` and line lookup). */
export interface JsonReporter {
  fail(path: string, message: string): void;
  /** The source location of the object at `path`, for `source` fields left out. */
  sourceAt(path: string): SourceLocation;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A child path, spelled as validate-json.ts spells them (so its line lookup finds them). */
function field(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Checks `guard.rules` in a JSON config with the Caddyfile's checks; fills defaults for fields
 * left out. Returns the value, or undefined when it is unusable (after reporting).
 */
export function checkRequestRulesJson(v: unknown, path: string, r: JsonReporter, builtin: BuiltinRuleNames = builtinRuleNames()): RequestRulesConfig | undefined {
  if (!isObject(v)) {
    r.fail(path, 'expected an object');
    return undefined;
  }
  const out = defaultRequestRules();
  unknownFields(v, ['builtin', 'logOnly', 'exclusions', 'custom'], path, r);
  if (v.builtin !== undefined) out.builtin = bool(v.builtin, field(path, 'builtin'), r) ?? true;
  if (v.logOnly !== undefined) out.logOnly = bool(v.logOnly, field(path, 'logOnly'), r) ?? false;
  const custom = v.custom === undefined ? [] : list(v.custom, field(path, 'custom'), r);
  custom.forEach((c, i) => {
    const rule = customRuleJson(c, field(field(path, 'custom'), i), r, builtin);
    if (rule === null) return;
    if (out.custom.some((o) => o.id === rule.id)) r.fail(field(field(path, 'custom'), i), `rule ${rule.id} is defined twice`);
    else out.custom.push(rule);
  });
  const customIds = new Set(out.custom.map((c) => c.id));
  const exclusions = v.exclusions === undefined ? [] : list(v.exclusions, field(path, 'exclusions'), r);
  exclusions.forEach((e, i) => {
    const at = field(field(path, 'exclusions'), i);
    if (!isObject(e)) return r.fail(at, 'expected an object');
    unknownFields(e, ['host', 'rules', 'source'], at, r);
    const host = typeof e.host === 'string' ? exclusionHost(e.host) : { problem: 'expected a host' };
    if ('problem' in host) r.fail(field(at, 'host'), host.problem);
    const names = strings(e.rules, field(at, 'rules'), r, true);
    if (builtin.error !== null) r.fail(at, builtin.error);
    else for (const n of unknownNames(names ?? [], builtin, customIds)) r.fail(field(at, 'rules'), `unknown rule or category ${JSON.stringify(n)}${didYouMean(n, knownNames(builtin, customIds))}`);
    if ('host' in host && names !== undefined) out.exclusions.push({ host: host.host, rules: names, source: sourceOf(e.source, at, r) });
  });
  return out;
}

function customRuleJson(v: unknown, at: string, r: JsonReporter, builtin: BuiltinRuleNames): CustomRule | null {
  if (!isObject(v)) {
    r.fail(at, 'expected an object');
    return null;
  }
  unknownFields(v, ['id', 'paths', 'queryRegexps', 'headers', 'userAgent', 'methods', 'ips', 'action', 'source'], at, r);
  if (typeof v.id !== 'string') {
    r.fail(field(at, 'id'), 'expected a rule id');
    return null;
  }
  const idProblem = ruleIdProblem(v.id, builtin);
  if (idProblem !== null) r.fail(field(at, 'id'), idProblem);
  const checked = (key: string, check: (s: string) => string | null): string[] => {
    const items = v[key] === undefined ? [] : (strings(v[key], field(at, key), r, false) ?? []);
    return items.filter((s, i) => {
      const problem = check(s);
      if (problem !== null) r.fail(field(field(at, key), i), problem);
      return problem === null;
    });
  };
  const headers: Record<string, string> = {};
  if (v.headers !== undefined) {
    if (!isObject(v.headers)) r.fail(field(at, 'headers'), 'expected an object of header name -> regexp');
    else {
      for (const [name, pattern] of Object.entries(v.headers)) {
        const problem = !METHOD.test(name) ? `${JSON.stringify(name)} is not a header name` : typeof pattern !== 'string' ? 'expected a regexp' : ruleRegexpProblem(pattern);
        if (problem !== null) r.fail(field(field(at, 'headers'), name), problem);
        else headers[name] = pattern as string;
      }
    }
  }
  let userAgent: string | null = null;
  if (v.userAgent !== undefined && v.userAgent !== null) {
    const problem = typeof v.userAgent !== 'string' ? 'expected a regexp or null' : ruleRegexpProblem(v.userAgent);
    if (problem !== null) r.fail(field(at, 'userAgent'), problem);
    else userAgent = v.userAgent as string;
  }
  let action: CustomRule['action'] = 'block';
  if (v.action !== undefined) {
    if (typeof v.action === 'string' && (RULE_ACTIONS as readonly string[]).includes(v.action)) action = v.action as CustomRule['action'];
    else r.fail(field(at, 'action'), `expected one of "block", "log", "challenge"`);
  }
  const rule: CustomRule = {
    id: v.id,
    paths: checked('paths', rulePathProblem),
    queryRegexps: checked('queryRegexps', ruleRegexpProblem),
    headers,
    userAgent,
    methods: checked('methods', ruleMethodProblem).map((m) => m.toUpperCase()),
    ips: checked('ips', ruleIpProblem),
    action,
    source: sourceOf(v.source, at, r),
  };
  const written = ['paths', 'queryRegexps', 'headers', 'userAgent', 'methods', 'ips'].some((k) => v[k] !== undefined && v[k] !== null);
  if (!written) r.fail(at, 'a rule needs at least one condition (paths, queryRegexps, headers, userAgent, methods or ips)');
  return idProblem === null && hasCondition(rule) ? rule : null;
}

function unknownFields(v: Record<string, unknown>, allowed: string[], at: string, r: JsonReporter): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) r.fail(field(at, k), `unknown field${didYouMean(k, allowed)}`);
}

function bool(v: unknown, at: string, r: JsonReporter): boolean | undefined {
  if (typeof v === 'boolean') return v;
  r.fail(at, 'expected true or false');
  return undefined;
}

function list(v: unknown, at: string, r: JsonReporter): unknown[] {
  if (Array.isArray(v)) return v;
  r.fail(at, 'expected a list');
  return [];
}

function strings(v: unknown, at: string, r: JsonReporter, nonEmpty: boolean): string[] | undefined {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
    r.fail(at, 'expected a list of non-empty strings');
    return undefined;
  }
  if (nonEmpty && v.length === 0) {
    r.fail(at, 'expected a non-empty list');
    return undefined;
  }
  return v as string[];
}

function sourceOf(v: unknown, at: string, r: JsonReporter): SourceLocation {
  if (isObject(v) && typeof v.file === 'string' && typeof v.line === 'number') return { file: v.file, line: v.line };
  if (v !== undefined) r.fail(field(at, 'source'), 'expected { file, line }');
  return r.sourceAt(at);
}
