/**
 * `header` (response headers) and `request_header` (request headers), in every Caddy form:
 *
 *     header [<matcher>] [[+|-|?|>]<field> [<value>|<regexp>] [<replacement>]] {
 *         <field> <value>             set (replace every value)
 *         +<field> <value>            add
 *         -<field>                    remove (`-X-*` removes by prefix)
 *         ?<field> <value>            set only when the response does not have it
 *         ><field> <value>            set, deferred to when the response is written
 *         <field> <regexp> <replace>  replace within the values
 *         defer
 *         match { ... }
 *     }
 *
 * `match` is Caddy's response matcher (`status 2xx 404`, `header <field> <value>`): the edits
 * apply only to matching responses. Portcullis also accepts request matchers there (`path`,
 * `method`, `host`, `query`, `not`, ...): they join the route's matchers, so
 * `header Cache-Control "max-age=3600" { match { path *.css *.js } }` works as it reads.
 */
import type { Directive, Token } from '../ast.ts';
import type { HeaderOps, HeadersHandler, MatcherSet, RouteConfig } from '../types.ts';
import { argCount, noBlock, type Dispenser } from '../dispenser.ts';
import { canonicalHeader, checkRegexp, entryFromArgs, intersectSets, parseMatcherSet } from '../matcher-syntax.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

export interface HeaderOpRules {
  /** `?Field value` (set when absent): response headers only, as in Caddy. */
  allowDefault: boolean;
  /** `>Field value` (deferred set): the `header` directive only. */
  allowDefer: boolean;
}

export type OpResult = 'ok' | 'deferred' | 'error';

/**
 * Applies one header operation (`[+|-|?|>]Field [value [replacement]]`) to `ops`. Returns
 * 'deferred' when Caddy would defer the edit to write time (deletes and `>`).
 */
export function applyHeaderOp(ops: HeaderOps, tokens: readonly Token[], disp: Dispenser, label: string, rules: HeaderOpRules): OpResult {
  const fieldToken = tokens[0]!;
  // Users often write `Name: value` as in a raw request; Caddy strips the colon too.
  const written = fieldToken.text.replace(/:$/, '');
  const sigil = /^[+\-?>]/.test(written) ? written[0]! : '';
  const field = sigil === '' ? written : written.slice(1);
  const where = label === '' ? field : `${label} ${field}`;
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(field)) {
    disp.error(fieldToken, `${label === '' ? '' : `${label}: `}${JSON.stringify(field)} is not a header field name`);
    return 'error';
  }
  if (tokens.length > 3) {
    disp.error(tokens[3]!, `${where}: too many arguments (usage: [+|-|?|>]<field> [<value>|<regexp> <replacement>])`);
    return 'error';
  }
  const value = tokens[1]?.text;
  if (sigil === '-') {
    if (tokens.length > 1) {
      disp.error(tokens[1]!, `${where}: removing a header takes no value`);
      return 'error';
    }
    (ops.delete ??= []).push(field);
    return 'deferred';
  }
  if (field.includes('*')) {
    disp.error(fieldToken, `${where}: wildcards are allowed only when removing headers (-${field})`);
    return 'error';
  }
  if (value === undefined) {
    disp.error(fieldToken, `${where}: expected a value (to remove the header, write -${field})`);
    return 'error';
  }
  if (tokens.length === 3) {
    if (sigil === '+' || sigil === '?') {
      disp.error(fieldToken, `${where}: ${sigil} cannot be combined with a replacement`);
      return 'error';
    }
    const problem = checkRegexp(value);
    if (problem !== null) {
      disp.error(tokens[1]!, `${where}: ${problem}`);
      return 'error';
    }
    const replace = (ops.replace ??= {});
    (replace[field] ??= []).push({ search_regexp: value, replace: tokens[2]!.text });
    return sigil === '>' ? 'deferred' : 'ok';
  }
  const key = canonicalHeader(field);
  switch (sigil) {
    case '+':
      ((ops.add ??= {})[key] ??= []).push(value);
      return 'ok';
    case '?':
      if (!rules.allowDefault) {
        disp.error(fieldToken, `${where}: ?<field> (set when absent) applies only to response headers; for requests, use a matcher`);
        return 'error';
      }
      (ops.default ??= {})[key] = [value];
      return 'deferred';
    case '>':
      if (!rules.allowDefer) {
        disp.error(fieldToken, `${where}: >(deferred) applies only to the header directive`);
        return 'error';
      }
      (ops.set ??= {})[key] = [value];
      return 'deferred';
    default:
      (ops.set ??= {})[key] = [value];
      return 'ok';
  }
}

function isEmpty(ops: HeaderOps): boolean {
  return ops.set === undefined && ops.add === undefined && ops.delete === undefined && ops.replace === undefined && ops.default === undefined;
}

const RESPONSE_KEYS = new Set(['status', 'header']);

interface ResponseMatch {
  require: { status_code?: number[]; headers?: Record<string, string[]> };
  request: MatcherSet | null;
}

/** Parses `match { ... }` / `match <matcher> <args...>`: response keys into require, others into a request set. */
function parseMatch(sub: Directive, disp: Dispenser): ResponseMatch | null {
  const entries = sub.args.length > 0 ? [entryFromArgs(sub.args, sub.source, sub.block)] : (sub.block ?? []);
  if (entries.length === 0) {
    disp.error(sub, 'match: expected matchers (status <codes...>, header <field> <value>, or request matchers such as path)');
    return null;
  }
  const require: ResponseMatch['require'] = {};
  let good = true;
  for (const e of entries.filter((x) => RESPONSE_KEYS.has(x.name))) {
    if (e.block !== null) {
      disp.error(e.source, `match: ${e.name}: does not take a block`);
      good = false;
    } else if (e.name === 'status') {
      if (e.args.length === 0) {
        disp.error(e.source, 'match: status: expected status codes (200, 404, or a class like 2xx)');
        good = false;
      }
      for (const t of e.args) {
        // Caddy's response matcher: `2xx` is written as the class digit 2.
        const m = /^([1-5])xx$|^([1-5]\d\d)$/.exec(t.text.toLowerCase());
        if (m === null) {
          disp.error(t, `match: status: ${JSON.stringify(t.text)} is not a status code or class (e.g. 404, 2xx)`);
          good = false;
          continue;
        }
        (require.status_code ??= []).push(Number(m[1] ?? m[2]));
      }
    } else {
      if (e.args.length !== 2 || e.args[0]!.text.startsWith('!')) {
        disp.error(e.source, 'match: header: expected <field> <value> (value * matches any value)');
        good = false;
        continue;
      }
      const key = canonicalHeader(e.args[0]!.text);
      ((require.headers ??= {})[key] ??= []).push(e.args[1]!.text);
    }
  }
  const requestEntries = entries.filter((x) => !RESPONSE_KEYS.has(x.name));
  const request = requestEntries.length > 0 ? parseMatcherSet(requestEntries, disp, undefined) : null;
  return good ? { require, request } : null;
}

export function adaptHeader(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  let good = ok;
  const ops: HeaderOps = {};
  let deferred = false;
  let responseMatch: ResponseMatch | null = null;
  if (args.length > 0) {
    const r = applyHeaderOp(ops, args, disp, '', { allowDefault: true, allowDefer: true });
    if (r === 'error') good = false;
    if (r === 'deferred') deferred = true;
  }
  for (const sub of d.block ?? []) {
    if (sub.name === 'defer') {
      if (argCount(disp, sub, sub.args, 0, 0, 'defer') && noBlock(disp, sub)) deferred = true;
      else good = false;
      continue;
    }
    if (sub.name === 'match') {
      if (responseMatch !== null) {
        disp.error(sub, 'match: only one match block per header directive');
        good = false;
        continue;
      }
      responseMatch = parseMatch(sub, disp);
      if (responseMatch === null) good = false;
      continue;
    }
    if (args.length > 0) {
      disp.error(sub, 'header fields go either on the first line or in the block, not both');
      good = false;
      continue;
    }
    if (!noBlock(disp, sub)) {
      good = false;
      continue;
    }
    const r = applyHeaderOp(ops, [sub.nameToken, ...sub.args], disp, '', { allowDefault: true, allowDefer: true });
    if (r === 'error') good = false;
    if (r === 'deferred') deferred = true;
  }
  if (good && isEmpty(ops)) {
    disp.error(d, 'no header fields to change (usage: header [<matcher>] [+|-|?|>]<field> [<value>])');
    return null;
  }
  let routeMatch = match;
  const response: NonNullable<HeadersHandler['response']> = { ...ops };
  if (responseMatch !== null) {
    const { require, request } = responseMatch;
    if (require.status_code !== undefined || require.headers !== undefined) {
      response.require = require;
      deferred = true;
    }
    if (request !== null) {
      if (routeMatch === undefined) routeMatch = [request];
      else {
        const combined = routeMatch.map((set) => intersectSets(set, request));
        if (combined.some((s) => s === null)) {
          disp.error(d, 'the matcher token and the match block constrain the same thing; put all request conditions in one named matcher');
          return null;
        }
        routeMatch = combined as MatcherSet[];
      }
    }
  }
  if (deferred) response.deferred = true;
  return good ? routeOf(routeMatch, { handler: 'headers', response }, d) : null;
}

export function adaptRequestHeader(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  noBlock(disp, d);
  const { match, args, ok } = matcherAndArgs(input);
  if (!argCount(disp, d, args, 1, 3, 'request_header [<matcher>] [+|-]<field> [<value>|<regexp> <replacement>]')) return null;
  const ops: HeaderOps = {};
  const r = applyHeaderOp(ops, args, disp, '', { allowDefault: false, allowDefer: false });
  return r !== 'error' && ok ? routeOf(match, { handler: 'headers', request: ops }, d) : null;
}
