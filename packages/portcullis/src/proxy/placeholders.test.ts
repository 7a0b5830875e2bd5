import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { compileTemplate, hasPlaceholders } from './placeholders.ts';
import { createRequestContext } from './request-context.ts';
import type { RequestContext } from './context.ts';
import { silentLogger } from '../kernel/logger.ts';
import { PortcullisError, ErrorCodes } from '../kernel/errors.ts';

process.env.PORTCULLIS_TEST_PLACEHOLDER = 'from-env';

interface FakeRequest {
  url?: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  remoteAddress?: string;
  remotePort?: number;
}

function fakeCtx(r: FakeRequest = {}): RequestContext {
  const req = {
    url: r.url ?? '/',
    method: r.method ?? 'GET',
    headers: { host: 'www.example.com:8443', ...(r.headers ?? {}) },
    httpVersion: '1.1',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    socket: { remoteAddress: r.remoteAddress ?? '192.0.2.10', remotePort: r.remotePort ?? 51000, localAddress: '127.0.0.1', localPort: 8443 },
  } as unknown as IncomingMessage;
  const ctx = createRequestContext(req, {} as ServerResponse, { scheme: 'https', logger: silentLogger() });
  assert.ok(ctx);
  return ctx;
}

test('request placeholders, long and short forms', () => {
  const ctx = fakeCtx({
    url: '/a%20b/c/file.tar.gz?x=1&y=two%20words&x=3',
    headers: { 'x-multi': 'one, two', cookie: 'a=1; Session="abc"; b=2', 'user-agent': 'UA' },
  });
  const table: [string, string][] = [
    ['{host}', 'www.example.com'],
    ['{http.request.host}', 'www.example.com'],
    ['{hostport}', 'www.example.com:8443'],
    ['{http.request.hostport}', 'www.example.com:8443'],
    ['{http.request.port}', '8443'],
    ['{port}', '8443'],
    ['{uri}', '/a%20b/c/file.tar.gz?x=1&y=two%20words&x=3'],
    ['{http.request.uri}', '/a%20b/c/file.tar.gz?x=1&y=two%20words&x=3'],
    ['{path}', '/a b/c/file.tar.gz'],
    ['{http.request.uri.path}', '/a b/c/file.tar.gz'],
    ['{query}', 'x=1&y=two%20words&x=3'],
    ['{http.request.uri.query}', 'x=1&y=two%20words&x=3'],
    ['{query.x}', '1,3'],
    ['{query.y}', 'two words'],
    ['{query.missing}', ''],
    ['{http.request.uri.query.y}', 'two words'],
    ['{path.0}', 'a b'],
    ['{path.2}', 'file.tar.gz'],
    ['{path.9}', ''],
    ['{http.request.uri.path.1}', 'c'],
    ['{file}', 'file.tar.gz'],
    ['{dir}', '/a b/c/'],
    ['{http.request.uri.path.file.base}', 'file.tar'],
    ['{http.request.uri.path.file.ext}', '.gz'],
    ['{method}', 'GET'],
    ['{http.request.method}', 'GET'],
    ['{scheme}', 'https'],
    ['{remote}', '192.0.2.10:51000'],
    ['{remote_host}', '192.0.2.10'],
    ['{remote_port}', '51000'],
    ['{http.request.remote.host}', '192.0.2.10'],
    ['{http.request.remote.port}', '51000'],
    ['{client_ip}', '192.0.2.10'],
    ['{header.X-Multi}', 'one, two'],
    ['{http.request.header.user-agent}', 'UA'],
    ['{header.absent}', ''],
    ['{cookie.session}', 'abc'],
    ['{http.request.cookie.b}', '2'],
    ['{cookie.none}', ''],
    ['{labels.0}', 'com'],
    ['{labels.1}', 'example'],
    ['{labels.2}', 'www'],
    ['{labels.3}', ''],
    ['{http.request.orig_uri}', '/a%20b/c/file.tar.gz?x=1&y=two%20words&x=3'],
    ['{http.request.orig_uri.path}', '/a b/c/file.tar.gz'],
    ['{http.request.proto}', 'HTTP/1.1'],
    ['{http.request.local.port}', '8443'],
    ['{system.hostname}', hostname()],
    ['{env.PORTCULLIS_TEST_PLACEHOLDER}', 'from-env'],
    ['{env.PORTCULLIS_TEST_UNSET_VARIABLE}', ''],
  ];
  for (const [template, expected] of table) assert.equal(compileTemplate(template)(ctx), expected, template);
});
test('ids, vars, captures, upstream and errors', () => {
  const ctx = fakeCtx();
  ctx.vars.answer = 42;
  ctx.vars.name = 'portcullis';
  ctx.captures.ver = { '0': '/v2/x', '1': '2', major: '2' };
  ctx.captures[''] = { '0': '/v2/x', '1': '2', major: '2' };
  ctx.upstreamHostport = '[::1]:9000';
  const table: [string, string][] = [
    ['{http.request.uuid}', ctx.id],
    ['{http.request.id}', ctx.id],
    ['{vars.answer}', '42'],
    ['{http.vars.name}', 'portcullis'],
    ['{vars.nothing}', ''],
    ['{re.ver.1}', '2'],
    ['{re.ver.major}', '2'],
    ['{http.regexp.ver.0}', '/v2/x'],
    ['{re.major}', '2'],
    ['{re.other.1}', ''],
    ['{upstream_hostport}', '[::1]:9000'],
    ['{http.reverse_proxy.upstream.hostport}', '[::1]:9000'],
    ['{http.reverse_proxy.upstream.host}', '::1'],
    ['{http.reverse_proxy.upstream.port}', '9000'],
    ['{err.status_code}', ''],
  ];
  for (const [template, expected] of table) assert.equal(compileTemplate(template)(ctx), expected, template);
  ctx.error = new PortcullisError(ErrorCodes.ERR_HTTP_NOT_FOUND, 'no such page', { status: 404 });
  assert.equal(compileTemplate('{err.status_code} {err.message} {http.error.status_text}')(ctx), '404 no such page Not Found');
  assert.equal(compileTemplate('{http.error.id}')(ctx), ctx.id);
  assert.equal(compileTemplate('{http.error.status_code}')(ctx), '404');
});

test('templates read the request as it is now (rewrites), not as compiled', () => {
  const ctx = fakeCtx({ url: '/old?q=1' });
  const uri = compileTemplate('{uri}|{path}|{query.q}');
  assert.equal(uri(ctx), '/old?q=1|/old|1');
  ctx.path = '/new';
  ctx.rawPath = '/new';
  ctx.query = 'q=2';
  assert.equal(uri(ctx), '/new?q=2|/new|2');
});

test('time placeholders', () => {
  const ctx = fakeCtx();
  const unix = Number(compileTemplate('{time.now.unix}')(ctx));
  assert.ok(Math.abs(unix - Date.now() / 1000) < 5);
  const ms = Number(compileTemplate('{time.now.unix_ms}')(ctx));
  assert.ok(Math.abs(ms - Date.now()) < 5000);
  assert.match(compileTemplate('{time.now.http}')(ctx), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  assert.match(compileTemplate('{time.now.common_log}')(ctx), /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$/);
  assert.ok(!Number.isNaN(Date.parse(compileTemplate('{time.now}')(ctx))));
});

test('unknown placeholders, escapes and literal braces stay as written', () => {
  const ctx = fakeCtx();
  const table: [string, string][] = [
    ['plain text', 'plain text'],
    ['', ''],
    ['{"a":1}', '{"a":1}'],
    ['{unknown}', '{unknown}'],
    ['{unknown.thing} and {host}', '{unknown.thing} and www.example.com'],
    ['{{host}}', '{www.example.com}'],
    ['\\{host\\}', '{host}'],
    ['a \\{ b', 'a { b'],
    ['unclosed {host', 'unclosed {host'],
    ['{path.-1}', '{path.-1}'],
    ['{labels.x}', '{labels.x}'],
    ['{host}{host}', 'www.example.comwww.example.com'],
    ['x{method}y{scheme}z', 'xGETyhttpsz'],
    ['back\\slash', 'back\\slash'],
  ];
  for (const [template, expected] of table) assert.equal(compileTemplate(template)(ctx), expected, template);
});

test('hasPlaceholders is true only when compiling changes the text', () => {
  assert.equal(hasPlaceholders('plain'), false);
  assert.equal(hasPlaceholders('{"json":true}'), false);
  assert.equal(hasPlaceholders('{unknown}'), false);
  assert.equal(hasPlaceholders('/{path}'), true);
  assert.equal(hasPlaceholders('{header.X}'), true);
  assert.equal(hasPlaceholders('\\{escaped}'), true);
  assert.equal(hasPlaceholders('{env.HOME}'), true);
});

test('a constant template returns the same string every time', () => {
  const f = compileTemplate('constant');
  assert.equal(f(fakeCtx()), 'constant');
  assert.equal(f(fakeCtx()), 'constant');
});

test('values carry hostile input unchanged (consumers sanitise)', () => {
  const ctx = fakeCtx({ url: '/x%0d%0aSet-Cookie:%20a=b' });
  assert.equal(compileTemplate('{path}')(ctx), '/x\r\nSet-Cookie: a=b');
});

test('IPv6 remote address is bracketed in {remote}', () => {
  const ctx = fakeCtx({ remoteAddress: '2001:db8::5', remotePort: 443, headers: { host: '[2001:db8::1]:8080' } });
  assert.equal(compileTemplate('{remote}')(ctx), '[2001:db8::5]:443');
  assert.equal(compileTemplate('{host}')(ctx), '2001:db8::1');
  assert.equal(compileTemplate('{port}')(ctx), '8080');
  assert.equal(compileTemplate('{labels.0}')(ctx), '2001:db8::1');
});
