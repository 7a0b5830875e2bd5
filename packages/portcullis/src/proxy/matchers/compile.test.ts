import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compileMatcherSets } from './compile.ts';
import { createRequestContext } from '../request-context.ts';
import type { RequestContext } from '../context.ts';
import type { MatcherSet } from '../../config/types.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { PortcullisError } from '../../kernel/errors.ts';

interface FakeRequest {
  url?: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  remoteAddress?: string;
  scheme?: 'http' | 'https';
  httpVersion?: [number, number];
}

function fakeCtx(r: FakeRequest = {}): RequestContext {
  const [major, minor] = r.httpVersion ?? [1, 1];
  const req = {
    url: r.url ?? '/',
    method: r.method ?? 'GET',
    headers: { host: 'example.com', ...(r.headers ?? {}) },
    httpVersion: `${major}.${minor}`,
    httpVersionMajor: major,
    httpVersionMinor: minor,
    socket: { remoteAddress: r.remoteAddress ?? '192.0.2.10', remotePort: 50000 },
  } as unknown as IncomingMessage;
  const ctx = createRequestContext(req, {} as ServerResponse, { scheme: r.scheme ?? 'http', logger: silentLogger() });
  assert.ok(ctx);
  return ctx;
}

function matches(sets: MatcherSet[] | undefined, r: FakeRequest | RequestContext): boolean {
  const match = compileMatcherSets(sets);
  if (match === null) return true;
  return match('req' in r ? r : fakeCtx(r));
}

function isConfigError(e: unknown): boolean {
  return e instanceof PortcullisError && e.code === 'ERR_CONFIG_INVALID';
}

test('no matchers, or an empty set, always match', () => {
  assert.equal(compileMatcherSets(undefined), null);
  assert.equal(compileMatcherSets([]), null);
  assert.equal(compileMatcherSets([{}]), null);
  assert.equal(compileMatcherSets([{ path: ['/x'] }, {}]), null);
});

test('path: Caddy forms, case-insensitive, on the normalised path', () => {
  const table: [string, string, boolean][] = [
    ['/a', '/a', true],
    ['/a', '/A', true],
    ['/a', '/a/', false],
    ['/a', '/ab', false],
    ['/a*', '/a', true],
    ['/a*', '/abc/def', true],
    ['/a/*', '/a', false],
    ['/a/*', '/a/', true],
    ['/a/*', '/a/b/c', true],
    ['*.css', '/x/y.css', true],
    ['*.css', '/x/y.CSS', true],
    ['*.css', '/x/y.cssx', false],
    ['*/admin/*', '/x/admin/y', true],
    ['*/admin/*', '/admin', false],
    ['*', '/anything', true],
    // a middle wildcard is a Go path.Match glob: `*` stops at `/`
    ['/accounts/*/info', '/accounts/123/info', true],
    ['/accounts/*/info', '/accounts/1/2/info', false],
    ['/accounts/*/info', '/accounts//info', false],
    ['/f?o', '/foo', true],
    ['/f?o', '/f/o', false],
    ['/[a-c]x', '/bx', true],
    ['/[a-c]x', '/dx', false],
    ['/[^a-c]x', '/dx', true],
    ['/*/*.php', '/dir/index.php', true],
    ['/*/*.php', '/a/b/index.php', false],
    // normalisation defeats confusion tricks
    ['/admin*', '/%61dmin', true],
    ['/admin*', '//admin', true],
    ['/admin*', '/public/../admin/x', true],
    ['/admin*', '/./admin', true],
    ['/admin', '/admin/.', false],
    ['/admin/', '/admin/.', true],
  ];
  for (const [pattern, url, expected] of table) assert.equal(matches([{ path: [pattern] }], { url }), expected, `${pattern} vs ${url}`);
});

test('path: any of several patterns', () => {
  const sets = [{ path: ['/a', '/b*', '*.js'] }];
  assert.equal(matches(sets, { url: '/b/c' }), true);
  assert.equal(matches(sets, { url: '/x.js' }), true);
  assert.equal(matches(sets, { url: '/c' }), false);
});

test('path: escaped patterns compare in escaped space', () => {
  assert.equal(matches([{ path: ['/foo%2Fbar'] }], { url: '/foo%2Fbar' }), true);
  assert.equal(matches([{ path: ['/foo%2Fbar'] }], { url: '/foo%2fbar' }), true);
  assert.equal(matches([{ path: ['/foo%2Fbar'] }], { url: '/foo/bar' }), false);
  assert.equal(matches([{ path: ['/foo%2Fbar'] }], { url: '/foo%2Fbarbaz' }), false);
  assert.equal(matches([{ path: ['/bands/%*/x'] }], { url: '/bands/AC%2fDC/x' }), true);
  assert.equal(matches([{ path: ['/bands/*/x'] }], { url: '/bands/AC%2fDC/x' }), false);
  assert.equal(matches([{ path: ['/100%25'] }], { url: '/100%25' }), true);
  assert.throws(() => compileMatcherSets([{ path: ['/bad%zz'] }]), isConfigError);
});

test('path: a pattern with // sees unmerged slashes', () => {
  assert.equal(matches([{ path: ['/a//b'] }], { url: '/a//b' }), true);
  assert.equal(matches([{ path: ['/a//b'] }], { url: '/a/b' }), false);
  assert.equal(matches([{ path: ['/a/b'] }], { url: '/a//b' }), true);
});

test('path: placeholders are filled per request', () => {
  const ctx = fakeCtx({ url: '/users/alice/profile' });
  ctx.vars.user = 'alice';
  assert.equal(matches([{ path: ['/users/{vars.user}/*'] }], ctx), true);
  ctx.vars.user = 'bob';
  assert.equal(matches([{ path: ['/users/{vars.user}/*'] }], ctx), false);
});

test('path: malformed globs are config errors', () => {
  for (const bad of ['/[a', '/x\\', '/[]']) assert.throws(() => compileMatcherSets([{ path: [bad] }]), isConfigError, bad);
});

test('host: exact and one-label wildcards, case-insensitive, ports ignored', () => {
  const table: [string, string, boolean][] = [
    ['example.com', 'example.com', true],
    ['example.com', 'EXAMPLE.com:8080', true],
    ['example.com', 'www.example.com', false],
    ['*.example.com', 'www.example.com', true],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'example.com', false],
    ['Www.Example.COM', 'www.example.com', true],
    ['*', 'localhost', true],
    ['*', 'example.com', false],
    ['foo.*.com', 'foo.bar.com', true],
    ['::1', '[::1]:80', true],
    ['[::1]', '[::1]', true],
    ['bücher.example', 'xn--bcher-kva.example', true],
  ];
  for (const [pattern, host, expected] of table) {
    assert.equal(matches([{ host: [pattern] }], { headers: { host } }), expected, `${pattern} vs ${host}`);
  }
});

test('method: exact, upper-cased config', () => {
  assert.equal(matches([{ method: ['GET', 'HEAD'] }], { method: 'HEAD' }), true);
  assert.equal(matches([{ method: ['post'] }], { method: 'POST' }), true);
  assert.equal(matches([{ method: ['POST'] }], { method: 'GET' }), false);
});

test('header: values, wildcards, presence and absence', () => {
  const headers = { 'x-api': 'v2-beta', accept: 'text/html, */*', authorization: 'Bearer t' };
  const table: [Record<string, string[] | null>, boolean][] = [
    [{ 'X-Api': ['v2-beta'] }, true],
    [{ 'X-Api': ['v2'] }, false],
    [{ 'X-Api': ['v2*'] }, true],
    [{ 'X-Api': ['*beta'] }, true],
    [{ 'X-Api': ['*2-b*'] }, true],
    [{ 'X-Api': ['*'] }, true],
    [{ 'X-Api': ['nope', 'v2-beta'] }, true],
    [{ 'X-Api': ['V2-BETA'] }, false],
    [{ Authorization: [] }, true],
    [{ 'X-Missing': [] }, false],
    [{ 'X-Missing': null }, true],
    [{ Authorization: null }, false],
    [{ 'X-Api': ['v2*'], Accept: ['*html*'] }, true],
    [{ 'X-Api': ['v2*'], Accept: ['*json*'] }, false],
    [{ Host: ['example.com'] }, true],
  ];
  for (const [spec, expected] of table) assert.equal(matches([{ header: spec }], { headers }), expected, JSON.stringify(spec));
});

test('header_regexp: matches and records captures', () => {
  const ctx = fakeCtx({ headers: { cookie: 'session=abc123; theme=dark' } });
  const sets: MatcherSet[] = [{ header_regexp: { Cookie: { name: 'sess', pattern: 'session=(?P<id>[a-z0-9]+)' } } }];
  assert.equal(matches(sets, ctx), true);
  assert.equal(ctx.captures.sess?.id, 'abc123');
  assert.equal(ctx.captures.sess?.['1'], 'abc123');
  assert.equal(matches(sets, fakeCtx({ headers: { cookie: 'theme=dark' } })), false);
  assert.equal(matches(sets, fakeCtx()), false);
});

test('path_regexp: matches the normalised path and records numbered and named captures', () => {
  const ctx = fakeCtx({ url: '/api/v2/users/42?x=1' });
  const sets: MatcherSet[] = [{ path_regexp: { name: 'api', pattern: '^/api/v(\\d+)/(?P<kind>\\w+)/(\\d+)$' } }];
  assert.equal(matches(sets, ctx), true);
  assert.deepEqual(ctx.captures.api, { '0': '/api/v2/users/42', '1': '2', '2': 'users', '3': '42', kind: 'users' });
  // the short form {re.GROUP} sees the latest match
  assert.equal(ctx.captures['']?.kind, 'users');
  assert.equal(matches(sets, { url: '/API/v2/users/42' }), false);
  assert.equal(matches([{ path_regexp: { pattern: '(?i)^/api' } }], { url: '/API/x' }), true);
  assert.equal(matches([{ path_regexp: { pattern: '^/%61' } }], { url: '/%61' }), false);
  assert.equal(matches([{ path_regexp: { pattern: '^/a$' } }], { url: '/%61' }), true);
});

test('path_regexp: bad patterns and names are config errors', () => {
  assert.throws(() => compileMatcherSets([{ path_regexp: { pattern: '(' } }]), isConfigError);
  assert.throws(() => compileMatcherSets([{ path_regexp: { name: 'bad name', pattern: 'x' } }]), isConfigError);
  assert.throws(() => compileMatcherSets([{ path_regexp: { pattern: '(?U)a+' } }]), isConfigError);
});

test('query: keys, values, wildcard and malformed strings', () => {
  const table: [Record<string, string[]>, string, boolean][] = [
    [{ q: ['1'] }, '/?q=1', true],
    [{ q: ['1'] }, '/?q=2', false],
    [{ q: ['1', '2'] }, '/?q=2', true],
    [{ q: ['*'] }, '/?q=', true],
    [{ q: ['*'] }, '/?other=1', false],
    [{ q: ['a b'] }, '/?q=a+b', true],
    [{ q: ['a b'] }, '/?q=a%20b', true],
    [{ q: ['2'] }, '/?q=1&q=2', true],
    [{ q: ['1'], r: ['*'] }, '/?q=1', false],
    [{ q: ['1'], r: ['*'] }, '/?r=x&q=1', true],
    [{}, '/', true],
    [{}, '/?a=1', false],
    // Go rejects `;` in keys and bad escapes: the whole query then matches nothing
    [{ q: ['1'] }, '/?q=1&x;y=2', false],
    [{ q: ['1'] }, '/?q=1&bad=%zz', false],
    // `;` is data in a value: q is `1;admin=1`, and no `admin` parameter exists
    [{ q: ['1'] }, '/?q=1;admin=1', false],
    [{ q: ['1;admin=1'] }, '/?q=1;admin=1', true],
    [{ admin: ['*'] }, '/?q=1;admin=1', false],
  ];
  for (const [spec, url, expected] of table) assert.equal(matches([{ query: spec }], { url }), expected, `${JSON.stringify(spec)} ${url}`);
});

test('query: a rewrite of ctx.query is seen by the next evaluation', () => {
  const match = compileMatcherSets([{ query: { a: ['1'] } }])!;
  const ctx = fakeCtx({ url: '/?a=1' });
  assert.equal(match(ctx), true);
  ctx.query = 'a=2';
  assert.equal(match(ctx), false);
});

test('protocol', () => {
  assert.equal(matches([{ protocol: 'https' }], { scheme: 'https' }), true);
  assert.equal(matches([{ protocol: 'https' }], { scheme: 'http' }), false);
  assert.equal(matches([{ protocol: 'http' }], { scheme: 'http' }), true);
  assert.equal(matches([{ protocol: 'http/1.1' }], {}), true);
  assert.equal(matches([{ protocol: 'http/2' }], {}), false);
  assert.equal(matches([{ protocol: 'http/2' }], { httpVersion: [2, 0] }), true);
  assert.equal(matches([{ protocol: 'http/1.1+' }], { httpVersion: [2, 0] }), true);
  assert.equal(matches([{ protocol: 'http/2+' }], { httpVersion: [1, 1] }), false);
  assert.equal(matches([{ protocol: 'grpc' }], { headers: { 'content-type': 'application/grpc+proto' } }), true);
  assert.equal(matches([{ protocol: 'grpc' }], { headers: { 'content-type': 'application/json' } }), false);
  assert.throws(() => compileMatcherSets([{ protocol: 'gopher' }]), isConfigError);
});

test('remote_ip and client_ip', () => {
  assert.equal(matches([{ remote_ip: { ranges: ['192.0.2.0/24'] } }], {}), true);
  assert.equal(matches([{ remote_ip: { ranges: ['10.0.0.0/8'] } }], {}), false);
  assert.equal(matches([{ remote_ip: { ranges: ['private_ranges'] } }], { remoteAddress: '::ffff:10.1.1.1' }), true);
  const ctx = fakeCtx({ remoteAddress: '10.0.0.5' });
  ctx.clientIp = '203.0.113.9';
  assert.equal(matches([{ client_ip: { ranges: ['203.0.113.0/24'] } }], ctx), true);
  assert.equal(matches([{ remote_ip: { ranges: ['203.0.113.0/24'] } }], ctx), false);
  assert.throws(() => compileMatcherSets([{ remote_ip: { ranges: ['10.0.0.0/99'] } }]), isConfigError);
});

test('not: negates the OR of its sets', () => {
  const notApiOrHealth: MatcherSet[] = [{ not: [{ path: ['/api/*'] }, { path: ['/health'] }] }];
  assert.equal(matches(notApiOrHealth, { url: '/index.html' }), true);
  assert.equal(matches(notApiOrHealth, { url: '/api/x' }), false);
  assert.equal(matches(notApiOrHealth, { url: '/health' }), false);
  // AND within a nested set
  const notLocalGet: MatcherSet[] = [{ not: [{ method: ['GET'], remote_ip: { ranges: ['127.0.0.1'] } }] }];
  assert.equal(matches(notLocalGet, { method: 'GET', remoteAddress: '127.0.0.1' }), false);
  assert.equal(matches(notLocalGet, { method: 'POST', remoteAddress: '127.0.0.1' }), true);
  assert.equal(matches([{ not: [{}] }], {}), false);
  assert.equal(matches([{ path: ['/a*'], not: [{ path: ['/admin*'] }] }], { url: '/about' }), true);
  assert.equal(matches([{ path: ['/a*'], not: [{ path: ['/admin*'] }] }], { url: '/admin' }), false);
});

test('AND within a set, OR across sets', () => {
  const sets: MatcherSet[] = [
    { method: ['POST'], path: ['/upload'] },
    { header: { 'X-Admin': ['yes'] } },
  ];
  assert.equal(matches(sets, { method: 'POST', url: '/upload' }), true);
  assert.equal(matches(sets, { method: 'GET', url: '/upload' }), false);
  assert.equal(matches(sets, { method: 'GET', url: '/x', headers: { 'x-admin': 'yes' } }), true);
});

test('unknown matchers and malformed values are config errors, never ignored', () => {
  assert.throws(() => compileMatcherSets([{ pth: ['/x'] } as unknown as MatcherSet]), isConfigError);
  assert.throws(() => compileMatcherSets([{ path: '/x' } as unknown as MatcherSet]), isConfigError);
  assert.throws(() => compileMatcherSets([{ remote_ip: ['10.0.0.0/8'] } as unknown as MatcherSet]), isConfigError);
});
