/**
 * Request matchers in Caddyfile syntax: named matcher definitions (`@name path /a*` on one line,
 * or `@name { ... }` as a block), the inline matcher token a handler directive may start with
 * (`*`, `/path*`, `@name`), and the checks on their values (regexps, CIDRs, methods).
 *
 * As in Caddy, the named matchers of a block are collected before its directives are read (a
 * directive may use a matcher defined below it), `handle`/`route` blocks see their parents'
 * matchers plus their own, and defining the same name twice in one scope is an error.
 */
import type { Directive, Token } from './ast.ts';
import type { MatcherSet, RegexpMatcher } from './types.ts';
import type { SourceLocation } from '../kernel/errors.ts';
import { compileIpRanges, PRIVATE_RANGES } from '../kernel/ip-ranges.ts';
import { argCount, didYouMean, type Dispenser } from './dispenser.ts';

export interface MatcherDef {
  set: MatcherSet;
  source: SourceLocation;
}

/** Named matchers visible in a block, by name with the `@`. */
export type MatcherScope = ReadonlyMap<string, MatcherDef>;

/** One matcher line: `path /a /b`, `not { ... }`, ... */
interface Entry {
  name: string;
  nameToken: Token;
  args: Token[];
  block: Directive[] | null;
  source: SourceLocation;
}

/** Matcher names Portcullis implements. */
export const MATCHER_NAMES = ['client_ip', 'header', 'header_regexp', 'host', 'method', 'not', 'path', 'path_regexp', 'protocol', 'query', 'remote_ip'] as const;

/** Caddy matchers Portcullis does not implement (yet), with the reason shown to the user. */
const UNSUPPORTED_MATCHERS: Record<string, string> = {
  expression: 'CEL expression matchers are not supported; use the other matchers (combine them in a named matcher, negate with not)',
  file: 'the file matcher is not supported yet',
  vars: 'the vars matcher is not supported yet',
  vars_regexp: 'the vars_regexp matcher is not supported yet',
  tls: 'the tls matcher is not supported yet',
};

/** True when a directive's first argument is a matcher token rather than a value. */
export function isMatcherToken(token: Token | undefined): token is Token {
  if (token === undefined || token.quoted) return false;
  return token.text === '*' || token.text.startsWith('/') || token.text.startsWith('@');
}

export type TokenMatch = { ok: true; match: MatcherSet[] | undefined } | { ok: false };

/** Resolves a matcher token: `*` matches everything (no matcher), `/p` is a path matcher, `@n` named. */
export function resolveMatcherToken(token: Token, scope: MatcherScope, disp: Dispenser): TokenMatch {
  if (token.text === '*') return { ok: true, match: undefined };
  if (token.text.startsWith('/')) return { ok: true, match: [{ path: [token.text] }] };
  const def = scope.get(token.text);
  if (def === undefined) {
    const hint = didYouMean(token.text, scope.keys());
    disp.error(token, `matcher ${token.text} is not defined${hint}`);
    return { ok: false };
  }
  return { ok: true, match: [structuredClone(def.set)] };
}

/**
 * Collects the named matcher definitions among `directives` into a new scope layered on
 * `parent`, and returns the other directives in their original order.
 */
export function defineMatchers(directives: Directive[], parent: MatcherScope, disp: Dispenser): { scope: MatcherScope; rest: Directive[] } {
  const scope = new Map(parent);
  const rest: Directive[] = [];
  for (const d of directives) {
    if (!d.name.startsWith('@')) {
      rest.push(d);
      continue;
    }
    const md = disp.named(d.name);
    if (d.name.length === 1) {
      md.error(d, 'a named matcher needs a name after @');
      continue;
    }
    const existing = scope.get(d.name);
    if (existing !== undefined) {
      md.error(d, `matcher ${d.name} is already defined at ${existing.source.file}:${existing.source.line}`);
      continue;
    }
    const set = parseNamedMatcher(d, md);
    scope.set(d.name, { set, source: d.source });
  }
  return { scope, rest };
}

function parseNamedMatcher(d: Directive, disp: Dispenser): MatcherSet {
  const first = d.args[0];
  if (first?.quoted && d.args.length === 1 && d.block === null) {
    disp.error(first, `${UNSUPPORTED_MATCHERS.expression}`);
    return {};
  }
  let entries: Entry[];
  // `@name not { ... }`: a block after an inline matcher belongs to that matcher.
  if (d.args.length > 0) entries = [entryFromArgs(d.args, d.source, d.block)];
  else if (d.block !== null && d.block.length > 0) entries = d.block;
  else {
    disp.error(d, `matcher ${d.name} has no conditions (an empty matcher would match every request)`);
    return {};
  }
  const name = d.name.slice(1);
  return parseMatcherSet(entries, disp, /^\w+$/.test(name) ? name : undefined);
}

/** The matcher line `name args... [{ block }]` written after a matcher name or `match`. */
export function entryFromArgs(args: Token[], source: SourceLocation, block: Directive[] | null = null): Entry {
  const head = args[0]!;
  return { name: head.text, nameToken: head, args: args.slice(1), block, source };
}

/**
 * Parses matcher lines into one set (all must match). `regexpName` names regexp captures when a
 * regexp matcher gives no name of its own (Caddy uses the named matcher's name).
 */
export function parseMatcherSet(entries: readonly Entry[], disp: Dispenser, regexpName: string | undefined): MatcherSet {
  const set: MatcherSet = {};
  for (const entry of entries) parseEntry(set, entry, disp, regexpName);
  return set;
}

function parseEntry(set: MatcherSet, e: Entry, disp: Dispenser, regexpName: string | undefined): void {
  if (e.block !== null && e.name !== 'not') {
    disp.error(e.source, `${e.name}: does not take a block`);
    return;
  }
  const p = matcherParsers[e.name];
  if (p !== undefined) {
    p(set, e, disp, regexpName);
    return;
  }
  if (Object.hasOwn(UNSUPPORTED_MATCHERS, e.name)) {
    disp.error(e.source, `${e.name}: ${UNSUPPORTED_MATCHERS[e.name]}`);
    return;
  }
  disp.error(e.source, `unknown matcher ${JSON.stringify(e.name)}${didYouMean(e.name, MATCHER_NAMES)}`);
}

type EntryParser = (set: MatcherSet, e: Entry, disp: Dispenser, regexpName: string | undefined) => void;

function asDirective(e: Entry): Directive {
  return { name: e.name, nameToken: e.nameToken, args: e.args, block: e.block, source: e.source };
}

function need(disp: Dispenser, e: Entry, min: number, max: number, usage: string): boolean {
  return argCount(disp, asDirective(e), e.args, min, max, usage);
}

const METHOD_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const PROTOCOL_RE = /^(?:http|https|grpc|http\/(?:1\.0|1\.1|2|3)\+?)$/;

const matcherParsers: Record<string, EntryParser> = {
  path(set, e, disp) {
    if (!need(disp, e, 1, Infinity, 'path <paths...>')) return;
    for (const t of e.args) {
      if (!t.text.startsWith('/') && !t.text.startsWith('*') && !t.text.startsWith('{')) {
        disp.error(t, `path: ${JSON.stringify(t.text)} never matches: request paths start with "/" (write /${t.text}, or *${t.text} for a suffix)`);
        continue;
      }
      (set.path ??= []).push(t.text);
    }
  },
  path_regexp(set, e, disp, regexpName) {
    if (!need(disp, e, 1, 2, 'path_regexp [<name>] <regexp>')) return;
    if (set.path_regexp !== undefined) {
      disp.error(e.source, 'path_regexp: only one path_regexp per matcher (combine the patterns with |)');
      return;
    }
    const re = regexpMatcher(disp, 'path_regexp', e.args.length === 2 ? e.args[0]! : undefined, e.args[e.args.length - 1]!, regexpName);
    if (re !== null) set.path_regexp = re;
  },
  host(set, e, disp) {
    if (!need(disp, e, 1, Infinity, 'host <hosts...>')) return;
    for (const t of e.args) {
      if (!/^[A-Za-z0-9.*_:\[\]{}$-]+$/.test(t.text)) {
        disp.error(t, `host: ${JSON.stringify(t.text)} is not a host name`);
        continue;
      }
      (set.host ??= []).push(t.text.toLowerCase());
    }
  },
  method(set, e, disp) {
    if (!need(disp, e, 1, Infinity, 'method <methods...>')) return;
    for (const t of e.args) {
      if (!METHOD_RE.test(t.text)) {
        disp.error(t, `method: ${JSON.stringify(t.text)} is not an HTTP method`);
        continue;
      }
      (set.method ??= []).push(t.text.toUpperCase());
    }
  },
  header(set, e, disp) {
    if (!need(disp, e, 1, 2, 'header <field> <value> | header !<field>')) return;
    const field = e.args[0]!.text;
    const headers = (set.header ??= {});
    if (field.startsWith('!')) {
      if (field.length === 1 || e.args.length > 1) {
        disp.error(e.source, 'header: !<field> (header must be absent) takes no value');
        return;
      }
      headers[canonicalHeader(field.slice(1))] = null;
      return;
    }
    if (e.args.length < 2) {
      disp.error(e.source, `header: expected a value for ${field} (use * for "any value", or !${field} for "absent")`);
      return;
    }
    const key = canonicalHeader(field);
    const list = headers[key];
    if (list === null) {
      disp.error(e.source, `header: ${key} is required both absent and present`);
      return;
    }
    headers[key] = [...(list ?? []), e.args[1]!.text];
  },
  header_regexp(set, e, disp, regexpName) {
    if (!need(disp, e, 2, 3, 'header_regexp [<name>] <field> <regexp>')) return;
    const named = e.args.length === 3;
    const field = canonicalHeader(e.args[named ? 1 : 0]!.text);
    const map = (set.header_regexp ??= {});
    if (Object.hasOwn(map, field)) {
      disp.error(e.source, `header_regexp: ${field} already has a pattern in this matcher`);
      return;
    }
    const re = regexpMatcher(disp, 'header_regexp', named ? e.args[0]! : undefined, e.args[named ? 2 : 1]!, regexpName);
    if (re !== null) map[field] = re;
  },
  query(set, e, disp) {
    if (!need(disp, e, 1, Infinity, 'query <key>=<value>...')) return;
    for (const t of e.args) {
      const eq = t.text.indexOf('=');
      if (eq <= 0) {
        disp.error(t, `query: ${JSON.stringify(t.text)} must be written key=value (value * matches any value)`);
        continue;
      }
      const key = t.text.slice(0, eq);
      const q = (set.query ??= {});
      q[key] = [...(q[key] ?? []), t.text.slice(eq + 1)];
    }
  },
  protocol(set, e, disp) {
    if (!need(disp, e, 1, 1, 'protocol http|https|grpc|http/1.0|http/1.1|http/2|http/3[+]')) return;
    const t = e.args[0]!;
    if (set.protocol !== undefined) {
      disp.error(t, 'protocol: only one protocol per matcher');
      return;
    }
    if (!PROTOCOL_RE.test(t.text.toLowerCase())) {
      disp.error(t, `protocol: unknown protocol ${JSON.stringify(t.text)} (expected http, https, grpc, http/1.0, http/1.1, http/2 or http/3, optionally with +)`);
      return;
    }
    set.protocol = t.text.toLowerCase();
  },
  remote_ip(set, e, disp) {
    ipRanges(set, 'remote_ip', e, disp);
  },
  client_ip(set, e, disp) {
    ipRanges(set, 'client_ip', e, disp);
  },
  not(set, e, disp, regexpName) {
    let inner: Entry[];
    if (e.args.length > 0) inner = [entryFromArgs(e.args, e.source, e.block)];
    else if (e.block !== null && e.block.length > 0) inner = e.block;
    else {
      disp.error(e.source, 'not: expected matchers to negate (not path /a, or not { ... })');
      return;
    }
    (set.not ??= []).push(parseMatcherSet(inner, disp, regexpName));
  },
};

function ipRanges(set: MatcherSet, key: 'remote_ip' | 'client_ip', e: Entry, disp: Dispenser): void {
  if (!need(disp, e, 1, Infinity, `${key} <ranges...>`)) return;
  if (e.args[0]!.text === 'forwarded') {
    disp.error(e.args[0]!, `${key}: the forwarded option was removed from Caddy; use client_ip with the trusted_proxies server option`);
    return;
  }
  const ranges = checkIpRanges(disp, key, e.args);
  const target = (set[key] ??= { ranges: [] });
  target.ranges.push(...ranges);
}

/**
 * Checks CIDRs and single addresses with the kernel's parser (the one the proxy uses, so
 * what passes here compiles there) and expands `private_ranges`. Returns the valid ones.
 */
export function checkIpRanges(disp: Dispenser, label: string, tokens: readonly Token[]): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    if (t.text === 'private_ranges') {
      out.push(...PRIVATE_RANGES);
      continue;
    }
    try {
      compileIpRanges([t.text]);
      out.push(t.text);
    } catch {
      disp.error(t, `${label}: ${JSON.stringify(t.text)} is not an IP address or CIDR range`);
    }
  }
  return out;
}

function regexpMatcher(disp: Dispenser, label: string, nameToken: Token | undefined, pattern: Token, fallbackName: string | undefined): RegexpMatcher | null {
  let ok = true;
  if (nameToken !== undefined && !/^\w+$/.test(nameToken.text)) {
    disp.error(nameToken, `${label}: regexp name ${JSON.stringify(nameToken.text)} may contain only letters, digits and _`);
    ok = false;
  }
  const problem = checkRegexp(pattern.text);
  if (problem !== null) {
    disp.error(pattern, `${label}: ${problem}`);
    ok = false;
  }
  if (!ok) return null;
  const name = nameToken?.text ?? fallbackName;
  return name === undefined ? { pattern: pattern.text } : { name, pattern: pattern.text };
}

/**
 * Checks a regexp written for Caddy (Go's RE2 syntax). The proxy translates RE2 syntax to
 * JavaScript when compiling; this is the adapter's first check: the pattern must compile after
 * the common translations, and must not use what RE2 rejects and a backtracking engine would
 * make slow (backreferences, lookaround). Returns a message, or null when the pattern is fine.
 */
export function checkRegexp(pattern: string): string | null {
  if (pattern === '') return 'empty regexp';
  if (/\(\?<?[=!]/.test(pattern)) return `invalid regexp ${JSON.stringify(pattern)}: lookaround assertions are not RE2 syntax`;
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(pattern)) return `invalid regexp ${JSON.stringify(pattern)}: backreferences are not RE2 syntax`;
  let source = pattern.replaceAll('(?P<', '(?<');
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    if (lead[1]!.includes('U')) return `invalid regexp ${JSON.stringify(pattern)}: the ungreedy flag (?U) is not supported`;
    flags = lead[1]!;
    source = source.slice(lead[0].length);
  }
  try {
    new RegExp(source, flags);
    return null;
  } catch (err) {
    return `invalid regexp ${JSON.stringify(pattern)}: ${(err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`;
  }
}

/** Go's canonical header key (`x-forwarded-for` -> `X-Forwarded-For`), as Caddy's JSON shows. */
export function canonicalHeader(name: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

/**
 * ANDs two matcher sets into one, or null when both constrain the same key (one set cannot
 * express "path A and also path B").
 */
export function intersectSets(a: MatcherSet, b: MatcherSet): MatcherSet | null {
  const out: MatcherSet = { ...structuredClone(a) };
  for (const key of Object.keys(b) as (keyof MatcherSet)[]) {
    if (out[key] !== undefined) return null;
    (out as Record<string, unknown>)[key] = structuredClone(b[key]);
  }
  return out;
}
