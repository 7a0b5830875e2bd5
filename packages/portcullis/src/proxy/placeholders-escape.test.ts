/** compileTemplate's `escape` option (TemplateEscape): how request values enter a URI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compileTemplate } from './placeholders.ts';
import { createRequestContext } from './request-context.ts';
import type { RequestContext } from './context.ts';
import { silentLogger } from '../kernel/logger.ts';

function fakeCtx(url: string, headers: Record<string, string> = {}): RequestContext {
  const req = {
    url,
    method: 'GET',
    headers: { host: 'www.example.com', ...headers },
    httpVersion: '1.1',
    socket: { remoteAddress: '192.0.2.10', remotePort: 51000 },
  } as unknown as IncomingMessage;
  const ctx = createRequestContext(req, {} as ServerResponse, { scheme: 'https', logger: silentLogger() });
  assert.ok(ctx);
  return ctx;
}

const render = (template: string, escape: 'path' | 'query' | 'location', ctx: RequestContext) => compileTemplate(template, { escape })(ctx);

test('without escape, values are inserted as they are (unchanged behaviour)', () => {
  const ctx = fakeCtx('/a%252e/b%26c');
  assert.equal(compileTemplate('{path}')(ctx), '/a%2e/b&c');
});

test('path: {path} is the escaped path, other values are data, literal %XX is kept', () => {
  const ctx = fakeCtx('/a%252e/b%26c%3Fd?q=1', { 'x-v': '%2e%2e/x?y#z' });
  assert.equal(render('/pre%20fix{path}', 'path', ctx), '/pre%20fix/a%252e/b%26c%3Fd');
  assert.equal(render('{uri}', 'path', ctx), '/a%252e/b%26c%3Fd?q=1');
  assert.equal(render('/h/{header.X-V}', 'path', ctx), '/h/%252e%252e/x%3Fy%23z');
  assert.equal(render('{dir}{file}', 'path', ctx), '/a%252e/b&c%3Fd');
  assert.equal(render('/{query}', 'path', ctx), '/q=1');
});

test('path: {path} of an unclean request path is the normalised path, encoded', () => {
  assert.equal(render('/public{path}', 'path', fakeCtx('/../files/./x')), '/public/files/x');
  assert.equal(render('/public{path}', 'path', fakeCtx('/files/a%2Fb')), '/public/files/a%2Fb');
});

test('query: every value is query-escaped except {query} where a key is expected', () => {
  const ctx = fakeCtx('/search/x%26admin=1?a=1&b=2');
  assert.equal(render('term={path}', 'query', ctx), 'term=%2Fsearch%2Fx%26admin%3D1');
  assert.equal(render('{query}&p={path}', 'query', ctx), 'a=1&b=2&p=%2Fsearch%2Fx%26admin%3D1');
  assert.equal(render('orig={query}', 'query', ctx), 'orig=a%3D1%26b%3D2');
  assert.equal(render('x=1&{query}', 'query', ctx), 'x=1&a=1&b=2');
  assert.equal(render('k=v=w{query}', 'query', ctx), 'k=v=wa%3D1%26b%3D2');
});

test('location: path-derived values are encoded, others kept for the caller', () => {
  const ctx = fakeCtx('/%5C%5Cevil.example/%09?x=%0d', { 'x-next': 'https://other.example/a b' });
  assert.equal(render('{path}/', 'location', ctx), '/%5C%5Cevil.example/%09/');
  assert.equal(render('/n/{file}{dir}', 'location', ctx), '/n/%09/%5C%5Cevil.example/');
  assert.equal(render('https://{host}{uri}', 'location', ctx), 'https://www.example.com/%5C%5Cevil.example/%09?x=%0d');
  assert.equal(render('{header.X-Next}', 'location', ctx), 'https://other.example/a b');
});
