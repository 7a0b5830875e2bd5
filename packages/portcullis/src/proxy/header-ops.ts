/**
 * The `header` / `request_header` edits compiled into fast editors: one for the request head
 * (ctx.req.headers, edited in place so later matchers and the upstream see the result) and one
 * for the response head (run by writeHead just before the head goes out, so an upstream's or
 * file's headers cannot override a configured one).
 *
 * Order, as Caddy's HeaderOps.ApplyTo: delete `*`, default, add,
 * set, delete (with `*` prefix/suffix/substring wildcards), replace.
 *
 * Values can carry client input through placeholders. A value that would put a control
 * character (CR, LF, NUL, ...) into a header is dropped, never written: that is header
 * injection / response splitting (CWE-113, RFC 9110 section 5.5). Node sends header strings as
 * Latin-1 bytes, so non-ASCII text in the config and characters beyond U+00FF produced by a
 * placeholder (a decoded path) are sent as their UTF-8 bytes, as Caddy does.
 */
import type { ServerResponse } from 'node:http';
import type { HeaderOps, HeadersHandler } from '../config/types.ts';
import type { RequestContext } from './context.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { compileTemplate } from './placeholders.ts';
import { compileGoRegexp, parseReplacement, replaceAllGo } from './matchers/regexp.ts';

/** A compiled response edit; `ctx` fills placeholders. writeHead's queue wants `(res, status)`. */
export type ResponseHeaderEditor = (ctx: RequestContext, res: ServerResponse, status: number) => void;

/** Caddy's response matcher for `header ... { match ... }`. */
export type ResponseRequire = NonNullable<NonNullable<HeadersHandler['response']>['require']>;

type Value = (ctx: RequestContext) => string | null;

/** The part of a header we edit: request headers and response headers behind one face. */
interface HeaderAccess {
  names(): string[];
  get(name: string): string | string[] | undefined;
  set(name: string, value: string | string[]): void;
  append(name: string, values: string[]): void;
  remove(name: string): void;
}

type Step = (h: HeaderAccess, ctx: RequestContext) => void;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;
const BEYOND_LATIN1 = /[^\0-\xff]/;
const BEYOND_LATIN1_G = /[^\0-\xff]/gu;

/** Compiles request header edits; the editor changes ctx.req.headers (lower-case keys) in place. */
export function compileRequestHeaderOps(ops: HeaderOps): (ctx: RequestContext) => void {
  const steps = compileSteps(ops);
  if (steps.length === 0) return () => {};
  return (ctx) => {
    const access = requestAccess(ctx.req.headers as Record<string, string | string[] | undefined>);
    for (let i = 0; i < steps.length; i++) steps[i]!(access, ctx);
  };
}

/**
 * Compiles response header edits, applied only when the response satisfies `require` (status
 * codes, where `2` means any 2xx, and header conditions as in the header matcher).
 */
export function compileResponseHeaderOps(ops: HeaderOps, require?: ResponseRequire): ResponseHeaderEditor {
  const steps = compileSteps(ops);
  const condition = require === undefined ? null : compileRequire(require);
  if (steps.length === 0) return () => {};
  return (ctx, res, status) => {
    if (condition !== null && !condition(res, status)) return;
    const access = responseAccess(res);
    for (let i = 0; i < steps.length; i++) steps[i]!(access, ctx);
  };
}

/** A plain header map with lower-case names, as reverse_proxy builds for upstream requests and responses. */
export type HeaderMap = Record<string, string | string[]>;

/**
 * Compiles edits of a HeaderMap (`header_up` / `header_down`); null when there is nothing to
 * do, so the hot path can skip the call.
 */
export function compileHeaderMapOps(ops: HeaderOps | undefined): ((headers: HeaderMap, ctx: RequestContext) => void) | null {
  if (ops === undefined) return null;
  const steps = compileSteps(ops);
  if (steps.length === 0) return null;
  return (headers, ctx) => {
    const access = mapAccess(headers);
    for (let i = 0; i < steps.length; i++) steps[i]!(access, ctx);
  };
}

function compileSteps(ops: HeaderOps): Step[] {
  const steps: Step[] = [];
  const deletes = (ops.delete ?? []).map((name) => checkName(name.trim().replace(/:$/, ''), true).toLowerCase());
  if (deletes.includes('*')) {
    steps.push((h) => {
      for (const name of h.names()) h.remove(name);
    });
  }
  for (const [name, values] of fields(ops.default)) {
    steps.push((h, ctx) => {
      if (h.get(name.toLowerCase()) !== undefined) return;
      const fresh = evaluate(values, ctx);
      if (fresh.length > 0) h.set(name, fresh.length === 1 ? fresh[0]! : fresh);
    });
  }
  for (const [name, values] of fields(ops.add)) {
    steps.push((h, ctx) => {
      const fresh = evaluate(values, ctx);
      if (fresh.length > 0) h.append(name, fresh);
    });
  }
  for (const [name, values] of fields(ops.set)) {
    steps.push((h, ctx) => {
      const fresh = evaluate(values, ctx);
      // A set whose every value was refused removes the header rather than keep a stale one.
      if (fresh.length === 0) h.remove(name.toLowerCase());
      else h.set(name, fresh.length === 1 ? fresh[0]! : fresh);
    });
  }
  for (const pattern of deletes) if (pattern !== '*') steps.push(compileDelete(pattern));
  for (const [field, replacements] of Object.entries(ops.replace ?? {})) {
    const name = field === '*' ? '*' : checkName(field, false).toLowerCase();
    for (const r of replacements) steps.push(compileReplace(name, r));
  }
  return steps;
}

function fields(record: Record<string, string[]> | undefined): Array<[string, Value[]]> {
  return Object.entries(record ?? {}).map(([name, values]) => {
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
      throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `header ${name}: expected a list of values`);
    }
    return [checkName(name.trim().replace(/:$/, ''), false), values.map(compileValue)];
  });
}

function checkName(name: string, wildcards: boolean): string {
  const bare = wildcards ? name.replace(/^\*|\*$/g, '') : name;
  if ((wildcards && name === '*') || TOKEN.test(bare)) return name;
  throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `invalid header name '${name}'`);
}

/** A value template; null at request time when the result must not be written. */
export function compileValue(template: string): Value {
  const render = compileTemplate(toWireText(template));
  if (template.indexOf('{') === -1) {
    const constant = render(null as unknown as RequestContext);
    if (CONTROL.test(constant)) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `header value ${JSON.stringify(template)} contains a control character`);
    return () => constant;
  }
  return (ctx) => toHeaderValue(render(ctx));
}

/** Config text to the Latin-1 string Node writes as its UTF-8 bytes. */
function toWireText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

/** Request-derived text made safe for a header, or null when it holds a control character. */
export function toHeaderValue(value: string): string | null {
  if (CONTROL.test(value)) return null;
  if (!BEYOND_LATIN1.test(value)) return value;
  return value.replace(BEYOND_LATIN1_G, (ch) => Buffer.from(ch, 'utf8').toString('latin1'));
}

function evaluate(values: Value[], ctx: RequestContext): string[] {
  const out: string[] = [];
  for (const value of values) {
    const v = value(ctx);
    if (v !== null) out.push(v);
  }
  return out;
}

/** `Name`, `Prefix*`, `*Suffix`, `*Infix*` (lower-cased). */
function compileDelete(pattern: string): Step {
  const starts = pattern.startsWith('*');
  const ends = pattern.endsWith('*');
  if (!starts && !ends) return (h) => h.remove(pattern);
  const core = pattern.slice(starts ? 1 : 0, ends ? -1 : undefined);
  const test = starts && ends ? (n: string) => n.includes(core) : starts ? (n: string) => n.endsWith(core) : (n: string) => n.startsWith(core);
  return (h) => {
    for (const name of h.names()) if (test(name)) h.remove(name);
  };
}

type Replacement = NonNullable<HeaderOps['replace']>[string][number];

/** Substring (every occurrence, `$` literal) or regexp with Go's `$1` / `${name}` references. */
function compileReplace(field: string, r: Replacement): Step {
  if (r.search !== undefined && r.search !== '' && r.search_regexp !== undefined && r.search_regexp !== '') {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `header replace for '${field}': both search and search_regexp given`);
  }
  const replacement = compileTemplate(toWireText(r.replace ?? ''));
  const dynamic = (r.replace ?? '').indexOf('{') !== -1;
  let edit: (value: string, ctx: RequestContext) => string;
  if (r.search_regexp !== undefined && r.search_regexp !== '') {
    const re = compileGoRegexp(r.search_regexp, 'g');
    const fixedParts = dynamic ? null : parseReplacement(replacement(null as unknown as RequestContext));
    edit = (value, ctx) => replaceAllGo(re, value, fixedParts ?? parseReplacement(replacement(ctx)));
  } else {
    const search = compileTemplate(toWireText(r.search ?? ''));
    edit = (value, ctx) => {
      const s = search(ctx);
      if (s === '') return value;
      const text = replacement(ctx);
      return value.replaceAll(s, () => text);
    };
  }
  const apply = (h: HeaderAccess, name: string, ctx: RequestContext): void => {
    const current = h.get(name);
    if (current === undefined) return;
    if (Array.isArray(current)) {
      const next: string[] = [];
      for (const v of current) {
        const edited = toHeaderValue(edit(v, ctx));
        if (edited === null) return;
        next.push(edited);
      }
      h.set(name, next);
      return;
    }
    const edited = toHeaderValue(edit(current, ctx));
    if (edited !== null) h.set(name, edited);
  };
  if (field === '*') {
    return (h, ctx) => {
      for (const name of h.names()) apply(h, name, ctx);
    };
  }
  return (h, ctx) => apply(h, field, ctx);
}

function compileRequire(require: ResponseRequire): (res: ServerResponse, status: number) => boolean {
  const codes = require.status_code ?? null;
  const headers = Object.entries(require.headers ?? {}).map(([name, patterns]) => ({
    name: name.toLowerCase(),
    patterns: (patterns as string[] | null) === null ? null : patterns.map(valueTest),
  }));
  return (res, status) => {
    if (codes !== null && codes.length > 0 && !codes.some((code) => statusMatches(status, code))) return false;
    for (const { name, patterns } of headers) {
      const raw = res.getHeader(name);
      const values = raw === undefined ? null : Array.isArray(raw) ? raw : [String(raw)];
      if (patterns === null) {
        if (values !== null) return false;
        continue;
      }
      if (values === null) return false;
      if (patterns.length > 0 && !values.some((v) => patterns.some((p) => p(v)))) return false;
    }
    return true;
  };
}

/** Caddy's StatusCodeMatches: an exact code, or a class when configured below 100 (`2` = 2xx). */
export function statusMatches(actual: number, configured: number): boolean {
  if (actual === configured) return true;
  return configured < 100 && actual >= configured * 100 && actual < (configured + 1) * 100;
}

function valueTest(pattern: string): (value: string) => boolean {
  if (pattern === '*') return () => true;
  const starts = pattern.startsWith('*');
  const ends = pattern.endsWith('*') && pattern.length > 1;
  const core = pattern.slice(starts ? 1 : 0, ends ? -1 : undefined);
  if (starts && ends) return (v) => v.includes(core);
  if (starts) return (v) => v.endsWith(core);
  if (ends) return (v) => v.startsWith(core);
  return (v) => v === pattern;
}

function requestAccess(headers: Record<string, string | string[] | undefined>): HeaderAccess {
  return {
    names: () => Object.keys(headers),
    get: (name) => (Object.hasOwn(headers, name) ? headers[name] : undefined),
    set: (name, value) => {
      const key = name.toLowerCase();
      // Node keeps request headers as one string per name (set-cookie aside); so do we.
      headers[key] = Array.isArray(value) && key !== 'set-cookie' ? value.join(', ') : value;
    },
    append: (name, values) => {
      const key = name.toLowerCase();
      const existing = Object.hasOwn(headers, key) ? headers[key] : undefined;
      if (key === 'set-cookie') {
        headers[key] = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), ...values];
        return;
      }
      const separator = key === 'cookie' ? '; ' : ', ';
      const joined = values.join(separator);
      headers[key] = existing === undefined ? joined : `${Array.isArray(existing) ? existing.join(separator) : existing}${separator}${joined}`;
    },
    remove: (name) => {
      delete headers[name.toLowerCase()];
    },
  };
}

function mapAccess(headers: HeaderMap): HeaderAccess {
  return {
    names: () => Object.keys(headers),
    get: (name) => (Object.hasOwn(headers, name) ? headers[name] : undefined),
    set: (name, value) => {
      headers[name.toLowerCase()] = value;
    },
    append: (name, values) => {
      const key = name.toLowerCase();
      const existing = Object.hasOwn(headers, key) ? headers[key] : undefined;
      const all = existing === undefined ? values : [...(Array.isArray(existing) ? existing : [existing]), ...values];
      headers[key] = all.length === 1 ? all[0]! : all;
    },
    remove: (name) => {
      delete headers[name.toLowerCase()];
    },
  };
}

function responseAccess(res: ServerResponse): HeaderAccess {
  return {
    names: () => res.getHeaderNames(),
    get: (name) => {
      const v = res.getHeader(name);
      return v === undefined ? undefined : Array.isArray(v) ? v : String(v);
    },
    set: (name, value) => res.setHeader(name, value),
    append: (name, values) => {
      const existing = res.getHeader(name);
      if (existing === undefined) res.setHeader(name, values.length === 1 ? values[0]! : values);
      else res.setHeader(name, [...(Array.isArray(existing) ? existing : [String(existing)]), ...values]);
    },
    remove: (name) => res.removeHeader(name),
  };
}
