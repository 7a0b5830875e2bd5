/** `rewrite` / `uri`: escaping of placeholder values and path_regexp, against Caddy's rewrite.go. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RewriteHandler } from '../../config/types.ts';
import { silentLogger } from '../../kernel/logger.ts';
import type { RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { createRequestContext } from '../request-context.ts';
import { createRewrite } from './rewrite.ts';

function fakeCtx(url: string, headers: Record<string, string> = {}): RequestContext {
  const req = {
    url,
    method: 'GET',
    headers: { host: 'www.example.com', ...headers },
    httpVersion: '1.1',
    socket: { remoteAddress: '192.0.2.10', remotePort: 51000 },
  } as unknown as IncomingMessage;
  const ctx = createRequestContext(req, {} as ServerResponse, { scheme: 'http', logger: silentLogger() });
  assert.ok(ctx);
  return ctx;
}

/** Runs the rewrite on a request for `url`; returns what the upstream and matchers would see. */
async function rewrite(config: Omit<RewriteHandler, 'handler'>, url: string, headers: Record<string, string> = {}) {
  const ctx = fakeCtx(url, headers);
  let called = false;
  await createRewrite({ handler: 'rewrite', ...config }, {} as HandlerDeps)(ctx, async () => {
    called = true;
  });
  assert.ok(called);
  return { target: ctx.query === '' ? ctx.rawPath : `${ctx.rawPath}?${ctx.query}`, path: ctx.path };
}

test('path traversal regression: {path} is not decoded twice, a literal %2e%2e stays a name', async () => {
  const r = await rewrite({ uri: '/public{path}' }, '/files/%252e%252e/%252e%252e/private/secret');
  assert.equal(r.target, '/public/files/%252e%252e/%252e%252e/private/secret');
  assert.equal(r.path, '/public/files/%2e%2e/%2e%2e/private/secret');
});

test('path traversal regression: dot segments in the request cannot climb above a rewrite prefix', async () => {
  for (const url of ['/../files/x', '/%2e%2e/files/x', '//files/./x']) {
    const r = await rewrite({ uri: '/public{path}' }, url);
    assert.equal(r.target, '/public/files/x', url);
    assert.equal(r.path, '/public/files/x', url);
  }
});

test('{path} keeps the client encoding when it is clean (%2F in a segment), and never throws on non-BMP', async () => {
  assert.equal((await rewrite({ uri: '/public{path}' }, '/a%2Fb/c%20d')).target, '/public/a%2Fb/c%20d');
  assert.equal((await rewrite({ uri: '/public{path}' }, '/%F0%9F%98%80')).target, '/public/%F0%9F%98%80');
});

test('literal %XX in the target is kept; other placeholder values are data', async () => {
  const r = await rewrite({ uri: '/a%20b/{header.X-To}' }, '/x', { 'x-to': '%2e%2e/%2e%2e/y?admin=1' });
  assert.equal(r.target, '/a%20b/%252e%252e/%252e%252e/y%3Fadmin=1');
  assert.equal(r.path, '/a b/%2e%2e/%2e%2e/y?admin=1');
});

test('a placeholder in the rewritten query cannot add parameters (buildQueryString)', async () => {
  const r = await rewrite({ uri: '/api?term={path}' }, '/search/x%26admin=1');
  assert.equal(r.target, '/api?term=%2Fsearch%2Fx%26admin%3D1');
  const query = new URLSearchParams(r.target.slice(r.target.indexOf('?') + 1));
  assert.equal(query.get('admin'), null);
  assert.equal(query.get('term'), '/search/x&admin=1');
});

test('{query} where a key is expected keeps the client parameters; as a value it is escaped', async () => {
  assert.equal((await rewrite({ uri: '/index.php?{query}&p={path}' }, '/a?x=1&y=2')).target, '/index.php?x=1&y=2&p=%2Fa');
  assert.equal((await rewrite({ uri: '/index.php?orig={query}' }, '/a?x=1&y=2')).target, '/index.php?orig=x%3D1%26y%3D2');
});

test('a path-only target keeps the query; ?only replaces the query and keeps the path', async () => {
  assert.equal((await rewrite({ uri: '/new{path}' }, '/a?x=1')).target, '/new/a?x=1');
  assert.equal((await rewrite({ uri: '?y=2' }, '/a?x=1')).target, '/a?y=2');
  assert.equal((await rewrite({ uri: '/b?' }, '/a?x=1')).target, '/b');
});

test('{uri} in the path carries its query over when the target sets none', async () => {
  assert.equal((await rewrite({ uri: '/v2{uri}' }, '/a%20b?x=1')).target, '/v2/a%20b?x=1');
  assert.equal((await rewrite({ uri: '/v2{uri}?z=3' }, '/a?x=1')).target, '/v2/a?z=3');
});

test('path_regexp works on the escaped path and decodes nothing twice', async () => {
  const r = await rewrite({ path_regexp: [{ find: '^/re/', replace: '/jail/' }] }, '/re/%252e%252e/secret');
  assert.equal(r.target, '/jail/%252e%252e/secret');
  assert.equal(r.path, '/jail/%2e%2e/secret');
  // The pattern sees the escaped form, as in Caddy: a decoded space is `%20` there.
  assert.equal((await rewrite({ path_regexp: [{ find: '%20', replace: '_' }] }, '/a%20b')).target, '/a_b');
});

test('strip_path_prefix from the normalised form escapes the rest as data', async () => {
  const r = await rewrite({ strip_path_prefix: '/api' }, '//api/%252e%252e/x');
  assert.equal(r.target, '/%252e%252e/x');
  assert.equal(r.path, '/%2e%2e/x');
});

test('uri path_regexp reads Go syntax like Caddy: (?i), named groups and ${name} templates', async () => {
  assert.equal((await rewrite({ path_regexp: [{ find: '(?i)^/OLD/', replace: '/new/' }] }, '/old/page')).target, '/new/page');
  assert.equal((await rewrite({ path_regexp: [{ find: '^/u/(?P<id>[0-9]+)$', replace: '/users/${id}' }] }, '/u/42')).target, '/users/42');
});
