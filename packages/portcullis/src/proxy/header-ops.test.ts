import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { compileRequestHeaderOps, compileResponseHeaderOps, statusMatches } from './header-ops.ts';
import { createRequestContext } from './request-context.ts';
import type { RequestContext } from './context.ts';
import { silentLogger } from '../kernel/logger.ts';
import { PortcullisError } from '../kernel/errors.ts';

function fakeCtx(url = '/', headers: Record<string, string | string[]> = {}): RequestContext {
  const req = new IncomingMessage(new Socket());
  req.url = url;
  req.method = 'GET';
  req.headers = { host: 'example.com', ...headers };
  const res = new ServerResponse(req);
  const ctx = createRequestContext(req, res, { scheme: 'http', logger: silentLogger() });
  assert.ok(ctx);
  return ctx;
}

const isConfigError = (e: unknown) => e instanceof PortcullisError && e.code === 'ERR_CONFIG_INVALID';

test('request ops: set, add, delete with wildcards, replace, default', () => {
  const ctx = fakeCtx('/p', {
    'x-keep': 'k',
    'x-old': 'v1',
    'x-forwarded-host': 'evil',
    'x-forwarded-proto': 'gopher',
    accept: 'text/html',
    cookie: 'a=1',
    'x-version': 'app-1.2.3',
  });
  compileRequestHeaderOps({
    set: { 'X-Set': ['one', 'two'], 'X-Path': ['{path}'] },
    add: { Accept: ['application/json'], Cookie: ['b=2'], 'X-New': ['n'] },
    delete: ['X-Forwarded-*', 'x-old'],
    replace: { 'X-Version': [{ search_regexp: 'app-(\\d+)\\.(\\d+)\\.\\d+', replace: 'v$1.$2' }], Accept: [{ search: 'text/', replace: 'TEXT/' }] },
    default: { 'X-Keep': ['ignored'], 'X-Default': ['d'] },
  })(ctx);
  const h = ctx.req.headers;
  assert.equal(h['x-set'], 'one, two');
  assert.equal(h['x-path'], '/p');
  assert.equal(h.accept, 'TEXT/html, application/json');
  assert.equal(h.cookie, 'a=1; b=2');
  assert.equal(h['x-new'], 'n');
  assert.equal(h['x-forwarded-host'], undefined);
  assert.equal(h['x-forwarded-proto'], undefined);
  assert.equal(h['x-old'], undefined);
  assert.equal(h['x-keep'], 'k');
  assert.equal(h['x-default'], 'd');
  assert.equal(h['x-version'], 'v1.2');
});

test('request ops: delete * clears everything before adds', () => {
  const ctx = fakeCtx('/', { a: '1', b: '2' });
  compileRequestHeaderOps({ delete: ['*'], set: { Only: ['me'] } })(ctx);
  assert.deepEqual({ ...ctx.req.headers }, { only: 'me' });
});

test('values with control characters from placeholders are dropped (header injection)', () => {
  const ctx = fakeCtx('/x%0d%0aInjected:%201');
  compileRequestHeaderOps({ set: { 'X-Path': ['{path}'] }, add: { 'X-Add': ['{path}'] } })(ctx);
  assert.equal(ctx.req.headers['x-path'], undefined);
  assert.equal(ctx.req.headers['x-add'], undefined);
  const res = ctx.res;
  compileResponseHeaderOps({ set: { 'X-Path': ['{path}'] } })(ctx, res, 200);
  assert.equal(res.getHeader('x-path'), undefined);
  // and a literal control character in the config is refused outright
  assert.throws(() => compileRequestHeaderOps({ set: { 'X-A': ['a\nb'] } }), isConfigError);
});

test('non-Latin-1 text goes out as UTF-8 bytes', () => {
  const ctx = fakeCtx('/caf%C3%A9/%E2%82%AC');
  compileResponseHeaderOps({ set: { 'X-Path': ['{path}'], 'X-Literal': ['Grüße'] } })(ctx, ctx.res, 200);
  // é (U+00E9) fits Latin-1 and stays one byte; € does not and becomes its UTF-8 bytes
  assert.equal(ctx.res.getHeader('x-path'), '/café/\u00e2\u0082\u00ac');
  assert.equal(Buffer.from(String(ctx.res.getHeader('x-literal')), 'latin1').toString('utf8'), 'Grüße');
});

test('invalid header names are config errors', () => {
  assert.throws(() => compileRequestHeaderOps({ set: { 'Bad Name': ['x'] } }), isConfigError);
  assert.throws(() => compileResponseHeaderOps({ add: { 'X:Y': ['x'] } }), isConfigError);
  assert.throws(() => compileResponseHeaderOps({ replace: { X: [{ search_regexp: '(', replace: '' }] } }), isConfigError);
});

test('response ops: order and semantics', () => {
  const ctx = fakeCtx();
  const res = ctx.res;
  res.setHeader('Server', 'upstream');
  res.setHeader('X-Powered-By', 'php');
  res.setHeader('Set-Cookie', ['a=1; Path=/']);
  res.setHeader('Location', 'http://internal:8080/next');
  res.setHeader('Cache-Control', 'no-cache');
  compileResponseHeaderOps({
    set: { 'Strict-Transport-Security': ['max-age=31536000'], Server: ['portcullis'] },
    add: { 'Set-Cookie': ['b=2; Path=/'] },
    delete: ['X-Powered-*'],
    replace: { Location: [{ search: 'http://internal:8080', replace: 'https://{host}' }] },
    default: { 'Cache-Control': ['max-age=60'], 'X-Frame-Options': ['DENY'] },
  })(ctx, res, 200);
  assert.equal(res.getHeader('strict-transport-security'), 'max-age=31536000');
  assert.equal(res.getHeader('server'), 'portcullis');
  assert.deepEqual(res.getHeader('set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
  assert.equal(res.getHeader('x-powered-by'), undefined);
  assert.equal(res.getHeader('location'), 'https://example.com/next');
  assert.equal(res.getHeader('cache-control'), 'no-cache');
  assert.equal(res.getHeader('x-frame-options'), 'DENY');
});

test('response ops: replace on every field with *, and $ stays literal in substring mode', () => {
  const ctx = fakeCtx();
  ctx.res.setHeader('A', 'internal.local');
  ctx.res.setHeader('B', ['x.internal.local', 'y']);
  compileResponseHeaderOps({ replace: { '*': [{ search: 'internal.local', replace: '$1example.com' }] } })(ctx, ctx.res, 200);
  assert.equal(ctx.res.getHeader('a'), '$1example.com');
  assert.deepEqual(ctx.res.getHeader('b'), ['x.$1example.com', 'y']);
});

test('response require: status codes (with classes) and header conditions', () => {
  const ops = { set: { 'X-Hit': ['yes'] } };
  const table: [Parameters<typeof compileResponseHeaderOps>[1], number, Record<string, string>, boolean][] = [
    [{ status_code: [404] }, 404, {}, true],
    [{ status_code: [404] }, 200, {}, false],
    [{ status_code: [2] }, 204, {}, true],
    [{ status_code: [2] }, 304, {}, false],
    [{ status_code: [4, 500] }, 500, {}, true],
    [{ headers: { 'Content-Type': ['text/*'] } }, 200, { 'content-type': 'text/html' }, true],
    [{ headers: { 'Content-Type': ['text/*'] } }, 200, { 'content-type': 'image/png' }, false],
    [{ headers: { 'X-Cache': [] } }, 200, {}, false],
    [{ headers: { 'X-Cache': [] } }, 200, { 'x-cache': 'HIT' }, true],
    [{ headers: { 'X-Cache': null as unknown as string[] } }, 200, {}, true],
    [{ headers: { 'X-Cache': null as unknown as string[] } }, 200, { 'x-cache': 'HIT' }, false],
    [{ status_code: [200], headers: { 'X-A': ['1'] } }, 200, { 'x-a': '2' }, false],
  ];
  for (const [require, status, headers, expected] of table) {
    const ctx = fakeCtx();
    for (const [k, v] of Object.entries(headers)) ctx.res.setHeader(k, v);
    compileResponseHeaderOps(ops, require)(ctx, ctx.res, status);
    assert.equal(ctx.res.getHeader('x-hit') === 'yes', expected, `${JSON.stringify(require)} ${status} ${JSON.stringify(headers)}`);
  }
});

test('statusMatches', () => {
  assert.equal(statusMatches(201, 2), true);
  assert.equal(statusMatches(201, 201), true);
  assert.equal(statusMatches(201, 200), false);
});
