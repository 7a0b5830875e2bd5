/**
 * Caddy placeholders (`{host}`, `{http.request.header.X}`, `{re.name.1}`, ...) compiled once per
 * config string into a per-request function: the template is split into literal parts and
 * getters, so a request only calls getters and concatenates. Both Caddy's long names and the
 * Caddyfile short forms are understood. A placeholder this file does not know stays in the output
 * as written (as Caddy's ReplaceKnown leaves it), so JSON such as `{"a":1}` passes through.
 * `\{` and `\}` write literal braces.
 *
 * Values come from the request and may hold anything the client sent (a decoded `%0d%0a` in
 * `{path}`, for one); whoever puts them into a header must neutralise control characters
 * (header-ops.ts does). Templates that build a URI (rewrite targets, Location) are compiled with
 * an `escape` option instead, so a value lands in the URI as data (see compileTemplate).
 */
import { hostname } from 'node:os';
import { sep } from 'node:path';
import { STATUS_CODES } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RequestContext } from './context.ts';
import { decodePath } from './normalize-path.ts';
import { queryValues } from './matchers/query-values.ts';
import { escapedRequestPath, escapePathValue, escapeQueryValue } from './uri-escape.ts';

type Getter = (ctx: RequestContext) => string;

/** Caddyfile short forms of whole placeholders (caddyconfig/httpcaddyfile placeholder shorthands). */
const SHORT: Record<string, string> = {
  dir: 'http.request.uri.path.dir',
  file: 'http.request.uri.path.file',
  host: 'http.request.host',
  hostport: 'http.request.hostport',
  port: 'http.request.port',
  method: 'http.request.method',
  path: 'http.request.uri.path',
  query: 'http.request.uri.query',
  remote: 'http.request.remote',
  remote_host: 'http.request.remote.host',
  remote_port: 'http.request.remote.port',
  scheme: 'http.request.scheme',
  uri: 'http.request.uri',
  uuid: 'http.request.uuid',
  tls_cipher: 'http.request.tls.cipher_suite',
  tls_version: 'http.request.tls.version',
  tls_server_name: 'http.request.tls.server_name',
  upstream_hostport: 'http.reverse_proxy.upstream.hostport',
  client_ip: 'http.vars.client_ip',
};

/** Caddyfile short forms of placeholder prefixes. */
const SHORT_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['header.', 'http.request.header.'],
  ['cookie.', 'http.request.cookie.'],
  ['query.', 'http.request.uri.query.'],
  ['path.', 'http.request.uri.path.'],
  ['labels.', 'http.request.host.labels.'],
  ['re.', 'http.regexp.'],
  ['vars.', 'http.vars.'],
  ['err.', 'http.error.'],
  ['rp.', 'http.reverse_proxy.'],
];

const NON_NEGATIVE_INT = /^(0|[1-9][0-9]{0,8})$/;

/** Getters for placeholders with fixed names. */
const FIXED: Record<string, Getter> = {
  'http.request.method': (ctx) => ctx.method,
  'http.request.scheme': (ctx) => ctx.scheme,
  'http.request.proto': (ctx) => `HTTP/${ctx.req.httpVersion}`,
  'http.request.host': (ctx) => stripBrackets(ctx.host),
  'http.request.hostport': (ctx) => ctx.hostport,
  'http.request.port': (ctx) => portOf(ctx.hostport),
  'http.request.local': (ctx) => joinHostPort(ctx.req.socket.localAddress ?? '', ctx.req.socket.localPort ?? 0),
  'http.request.local.host': (ctx) => ctx.req.socket.localAddress ?? '',
  'http.request.local.port': (ctx) => String(ctx.req.socket.localPort ?? ''),
  'http.request.remote': (ctx) => joinHostPort(ctx.remoteIp, ctx.remotePort),
  'http.request.remote.host': (ctx) => ctx.remoteIp,
  'http.request.remote.port': (ctx) => String(ctx.remotePort),
  'http.request.uri': (ctx) => (ctx.query === '' ? ctx.rawPath : `${ctx.rawPath}?${ctx.query}`),
  'http.request.uri.path': (ctx) => ctx.path,
  'http.request.uri.path.file': (ctx) => fileOf(ctx.path),
  'http.request.uri.path.dir': (ctx) => dirOf(ctx.path),
  'http.request.uri.path.file.base': (ctx) => {
    const base = baseOf(ctx.path);
    return base.slice(0, base.length - extOf(ctx.path).length);
  },
  'http.request.uri.path.file.ext': (ctx) => extOf(ctx.path),
  'http.request.uri.query': (ctx) => ctx.query,
  'http.request.duration': (ctx) => formatDuration(performance.now() - ctx.startedAt),
  'http.request.duration_ms': (ctx) => String(performance.now() - ctx.startedAt),
  'http.request.uuid': (ctx) => ctx.id,
  'http.request.id': (ctx) => ctx.id,
  'http.request.orig_method': (ctx) => ctx.req.method ?? '',
  'http.request.orig_uri': (ctx) => ctx.originalUri,
  'http.request.orig_uri.path': (ctx) => origPath(ctx),
  'http.request.orig_uri.path.file': (ctx) => fileOf(origPath(ctx)),
  'http.request.orig_uri.path.dir': (ctx) => dirOf(origPath(ctx)),
  'http.request.orig_uri.query': (ctx) => {
    const q = ctx.originalUri.indexOf('?');
    return q === -1 ? '' : ctx.originalUri.slice(q + 1);
  },
  'http.request.tls.version': (ctx) => {
    const p = tlsSocket(ctx)?.getProtocol();
    return p ? p.toLowerCase().replace('v', '') : '';
  },
  'http.request.tls.cipher_suite': (ctx) => tlsSocket(ctx)?.getCipher()?.standardName ?? '',
  'http.request.tls.server_name': (ctx) => String(tlsSocket(ctx)?.servername || ''),
  'http.request.tls.proto': (ctx) => String(tlsSocket(ctx)?.alpnProtocol || ''),
  'http.request.tls.resumed': (ctx) => {
    const s = tlsSocket(ctx);
    return s ? String(s.isSessionReused()) : '';
  },
  // Caddy keeps the client IP in the `client_ip` var; the guard may have resolved it.
  'http.vars.client_ip': (ctx) => (ctx.vars.client_ip === undefined ? ctx.clientIp : stringify(ctx.vars.client_ip)),
  'http.reverse_proxy.upstream.hostport': (ctx) => ctx.upstreamHostport,
  'http.reverse_proxy.upstream.host': (ctx) => stripBrackets(hostOf(ctx.upstreamHostport)),
  'http.reverse_proxy.upstream.port': (ctx) => portOf(ctx.upstreamHostport),
  'http.error.status_code': (ctx) => (ctx.error ? String(ctx.error.status) : ''),
  'http.error.status_text': (ctx) => (ctx.error ? (STATUS_CODES[ctx.error.status] ?? '') : ''),
  'http.error.message': (ctx) => ctx.error?.message ?? '',
  'http.error.id': (ctx) => ctx.id,
  'time.now': () => new Date().toISOString(),
  'time.now.http': () => new Date().toUTCString(),
  'time.now.common_log': () => commonLogTime(new Date()),
  'time.now.year': () => String(new Date().getFullYear()),
  'time.now.unix': () => String(Math.floor(Date.now() / 1000)),
  'time.now.unix_ms': () => String(Date.now()),
};

/** Placeholders fixed for the life of the process, resolved at compile time. */
function constantValue(key: string): string | null {
  switch (key) {
    case 'system.hostname':
      return hostname();
    case 'system.slash':
      return sep;
    case 'system.os':
      return process.platform;
    case 'system.arch':
      return process.arch;
    case 'system.wd':
      return process.cwd();
  }
  // Read once: Caddy reads `{env.*}` per request, but the environment does not change under us.
  if (key.startsWith('env.') && key.length > 4) return process.env[key.slice(4)] ?? '';
  return null;
}

/** Resolves an expanded placeholder key to a getter, a constant, or null when unknown. */
function resolve(key: string): Getter | string | null {
  const fixed = FIXED[key];
  if (fixed !== undefined) return fixed;
  const constant = constantValue(key);
  if (constant !== null) return constant;
  return resolvePrefixed(key);
}

function expandShortForm(key: string): string {
  const whole = SHORT[key];
  if (whole !== undefined) return whole;
  for (const [short, long] of SHORT_PREFIXES) if (key.startsWith(short)) return long + key.slice(short.length);
  return key;
}

function resolvePrefixed(key: string): Getter | null {
  let rest: string | null;
  if ((rest = after(key, 'http.request.header.')) !== null) {
    const name = rest.toLowerCase();
    return (ctx) => headerValue(ctx, name);
  }
  if ((rest = after(key, 'http.request.cookie.')) !== null) {
    const name = rest.toLowerCase();
    return (ctx) => cookieValue(ctx.req.headers.cookie, name);
  }
  if ((rest = after(key, 'http.request.uri.query.')) !== null) {
    const name = rest;
    return (ctx) => queryValues(ctx).values.get(name)?.join(',') ?? '';
  }
  if ((rest = after(key, 'http.request.uri.path.')) !== null && NON_NEGATIVE_INT.test(rest)) {
    const index = Number(rest);
    return (ctx) => pathSegment(ctx.path, index);
  }
  if ((rest = after(key, 'http.request.host.labels.')) !== null && NON_NEGATIVE_INT.test(rest)) {
    const index = Number(rest);
    return (ctx) => hostLabel(ctx.host, index);
  }
  if ((rest = after(key, 'http.regexp.')) !== null && rest !== '') {
    const dot = rest.indexOf('.');
    const name = dot === -1 ? '' : rest.slice(0, dot);
    const group = dot === -1 ? rest : rest.slice(dot + 1);
    return (ctx) => ctx.captures[name]?.[group] ?? '';
  }
  if ((rest = after(key, 'http.vars.')) !== null && rest !== '') {
    const name = rest;
    return (ctx) => stringify(ctx.vars[name]);
  }
  return null;
}

function after(key: string, prefix: string): string | null {
  return key.startsWith(prefix) ? key.slice(prefix.length) : null;
}

/**
 * Where a template's output goes, which decides how placeholder values are escaped (literal
 * template text is never changed):
 *  - `path`: the path of a rewrite target. `{path}` and `{uri}` give the escaped request path, as
 *    Caddy's rewrite substitutes URL.EscapedPath() (rewrite.go escapePathPlaceholders); values
 *    already in URI form (`{query}`, `{orig_uri}`) are kept; every other value is decoded data
 *    and is percent-encoded, `%` as `%25`, so the rewrite decodes nothing a second time.
 *  - `query`: the query of a rewrite target. Every value is query-escaped (Go's url.QueryEscape)
 *    so it cannot add parameters, except `{query}` where a key is expected, which is kept so
 *    `?{query}&a=b` keeps the client's parameters (rewrite.go buildQueryString).
 *  - `location`: a Location header. `{path}` and `{uri}` as in `path`; values taken from the
 *    decoded path (`{dir}`, `{file}`, `{path.N}`, ...) are percent-encoded, so `\`, tab or a
 *    decoded `%2e%2e` cannot change where a browser goes; other values (`{host}`, a header
 *    holding a whole URL) are kept, for the caller to make header-safe.
 */
export type TemplateEscape = 'path' | 'query' | 'location';

/** Options of compileTemplate. */
export interface TemplateOptions {
  escape?: TemplateEscape;
}

/** Placeholders whose value is already in percent-encoded URI form. */
const URI_FORM = new Set(['http.request.orig_uri', 'http.request.uri.query', 'http.request.orig_uri.query']);

/** True for placeholders whose value is (part of) a decoded request path. */
function isPathValue(key: string): boolean {
  return key.startsWith('http.request.uri.path') || key.startsWith('http.request.orig_uri.path');
}

function escapedUri(ctx: RequestContext): string {
  const path = escapedRequestPath(ctx);
  return ctx.query === '' ? path : `${path}?${ctx.query}`;
}

/** A getter wrapped to escape its value for `escape`; `atQueryKey` says a query key is expected. */
function escapeGetter(key: string, get: Getter, escape: TemplateEscape, atQueryKey: boolean): Getter {
  if (escape === 'query') {
    if (key === 'http.request.uri.query' && atQueryKey) return get;
    return (ctx) => escapeQueryValue(get(ctx));
  }
  if (key === 'http.request.uri.path') return escapedRequestPath;
  if (key === 'http.request.uri') return escapedUri;
  if (escape === 'path') return URI_FORM.has(key) ? get : (ctx) => escapePathValue(get(ctx));
  return isPathValue(key) ? (ctx) => escapePathValue(get(ctx)) : get;
}

/** A compile-time constant escaped for `escape`. */
function escapeConstant(value: string, escape: TemplateEscape | undefined): string {
  if (escape === 'path') return escapePathValue(value);
  if (escape === 'query') return escapeQueryValue(value);
  return value;
}

/** Splits a template into literal strings and getters; adjacent literals are merged. */
function parse(template: string, escape?: TemplateEscape): Array<string | Getter> {
  const parts: Array<string | Getter> = [];
  let literal = '';
  // For `query`: whether the text so far leaves us in a key (start, after `&`) or a value (after
  // a key's `=`), tracked on the template's literal text, since escaped values hold no `&` or `=`.
  let atQueryKey = true;
  let i = 0;
  const n = template.length;
  while (i < n) {
    const c = template.charCodeAt(i);
    if (c === 92 /* \ */ && i + 1 < n) {
      const next = template.charCodeAt(i + 1);
      if (next === 123 || next === 125) {
        literal += template[i + 1];
        i += 2;
        continue;
      }
    }
    if (c !== 123 /* { */) {
      if (c === 38 /* & */) atQueryKey = true;
      else if (c === 61 /* = */) atQueryKey = false;
      literal += template[i];
      i++;
      continue;
    }
    const end = template.indexOf('}', i + 1);
    if (end === -1) {
      literal += template.slice(i);
      break;
    }
    const key = expandShortForm(template.slice(i + 1, end));
    const value = resolve(key);
    if (value === null) {
      // Unknown: keep the brace and keep scanning after it, as Caddy does (`{{host}}` -> `{example.com}`).
      literal += '{';
      i++;
      continue;
    }
    if (typeof value === 'string') {
      literal += escapeConstant(value, escape);
    } else {
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push(escape === undefined ? value : escapeGetter(key, value, escape, atQueryKey));
    }
    i = end + 1;
  }
  if (literal !== '' || parts.length === 0) parts.push(literal);
  return parts;
}

/**
 * Compiles a string with {placeholders} once into a per-request function. Strings without
 * placeholders return a constant function. Without `options.escape` values are inserted as
 * they are; with it, as TemplateEscape describes.
 */
export function compileTemplate(template: string, options?: TemplateOptions): (ctx: RequestContext) => string {
  const parts = parse(template, options?.escape);
  if (parts.length === 1) {
    const only = parts[0]!;
    if (typeof only === 'string') return () => only;
    return only;
  }
  if (parts.length === 2) {
    const [a, b] = parts as [string | Getter, string | Getter];
    if (typeof a === 'string') return (ctx) => a + (b as Getter)(ctx);
    if (typeof b === 'string') return (ctx) => a(ctx) + b;
    return (ctx) => a(ctx) + b(ctx);
  }
  return (ctx) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      out += typeof p === 'string' ? p : p(ctx);
    }
    return out;
  };
}

/**
 * True when the template is not a plain literal: it holds a placeholder this file knows (or a
 * `\{` escape), so its output can differ from the text as written and it must be compiled.
 */
export function hasPlaceholders(template: string): boolean {
  if (template.indexOf('{') === -1 && template.indexOf('}') === -1) return false;
  const parts = parse(template);
  return !(parts.length === 1 && parts[0] === template);
}

function headerValue(ctx: RequestContext, name: string): string {
  const v = ctx.req.headers[name];
  if (v === undefined) return '';
  return typeof v === 'string' ? v : v.join(',');
}

/** The first cookie whose name equals `name` case-insensitively, as Caddy (strings.EqualFold). */
export function cookieValue(header: string | undefined, name: string): string {
  if (header === undefined) return '';
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    if (pair.slice(0, eq).trim().toLowerCase() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return '';
}

function pathSegment(path: string, index: number): string {
  const segments = path.split('/');
  const offset = segments[0] === '' ? 1 : 0;
  return segments[index + offset] ?? '';
}

function hostLabel(host: string, index: number): string {
  const labels = stripBrackets(host).split('.');
  return index < labels.length ? labels[labels.length - 1 - index]! : '';
}

function stripBrackets(host: string): string {
  return host.charCodeAt(0) === 91 && host.endsWith(']') ? host.slice(1, -1) : host;
}

function hostOf(hostport: string): string {
  if (hostport.charCodeAt(0) === 91) {
    const end = hostport.indexOf(']');
    return end === -1 ? hostport : hostport.slice(0, end + 1);
  }
  const colon = hostport.indexOf(':');
  return colon === -1 ? hostport : hostport.slice(0, colon);
}

function portOf(hostport: string): string {
  const host = hostOf(hostport);
  return hostport.charCodeAt(host.length) === 58 /* : */ ? hostport.slice(host.length + 1) : '';
}

function joinHostPort(host: string, port: number): string {
  return host.indexOf(':') === -1 ? `${host}:${port}` : `[${host}]:${port}`;
}

function fileOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/') + 1);
}

/** Go's path.Base. */
function baseOf(path: string): string {
  if (path === '') return '.';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** Go's path.Ext. */
function extOf(path: string): string {
  for (let i = path.length - 1; i >= 0 && path[i] !== '/'; i--) if (path[i] === '.') return path.slice(i);
  return '';
}

function origPath(ctx: RequestContext): string {
  const q = ctx.originalUri.indexOf('?');
  const raw = q === -1 ? ctx.originalUri : ctx.originalUri.slice(0, q);
  return decodePath(raw) ?? raw;
}

function tlsSocket(ctx: RequestContext): TLSSocket | null {
  const socket = ctx.req.socket as TLSSocket;
  return socket.encrypted === true ? socket : null;
}

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

/** Go's time.Duration.String() for durations under an hour, from milliseconds. */
function formatDuration(ms: number): string {
  if (ms < 0.001) return `${Math.round(ms * 1e6)}ns`;
  if (ms < 1) return `${trimFixed(ms * 1000, 3)}µs`;
  if (ms < 1000) return `${trimFixed(ms, 6)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${trimFixed(s, 9)}s`;
  return `${Math.floor(s / 60)}m${trimFixed(s % 60, 9)}s`;
}

function trimFixed(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Common Log Format time: `02/Jan/2006:15:04:05 -0700`, local time. */
function commonLogTime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}
