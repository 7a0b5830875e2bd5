import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalRawPath, escapePath, escapePathValue, escapeQueryValue, safeLocation } from './uri-escape.ts';
import { normalizePath } from './normalize-path.ts';

test('escapePath keeps %XX escapes and encodes what is not pchar', () => {
  assert.equal(escapePath('/a b/%2e%2E/x'), '/a%20b/%2e%2E/x');
  assert.equal(escapePath('/100%/%zz'), '/100%25/%25zz');
  assert.equal(escapePath("/-._~!$&'()*+,;=:@/"), "/-._~!$&'()*+,;=:@/");
  assert.equal(escapePath('/q?#\\'), '/q%3F%23%5C');
});

test('escapePathValue encodes % as data, so one decode gives the value back', () => {
  for (const value of ['/%2e%2e/x', '/a b/c?d#e', '/\\evil', '/\t\r\n', '/%', '/é/😀']) {
    const escaped = escapePathValue(value);
    assert.match(escaped, /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/, value);
    assert.equal(decodeURIComponent(escaped), value);
  }
  assert.equal(escapePathValue('/%2e%2e/x'), '/%252e%252e/x');
  assert.equal(escapePathValue('/plain/path'), '/plain/path');
});

test('non-BMP characters and lone surrogates never throw (encodeURIComponent would)', () => {
  assert.equal(escapePath('/😀'), '/%F0%9F%98%80');
  assert.equal(escapePathValue('/\uD800'), '/%EF%BF%BD');
  assert.equal(escapeQueryValue('\uDC00'), '%EF%BF%BD');
});

test('escapeQueryValue is Go url.QueryEscape: a value cannot add parameters', () => {
  assert.equal(escapeQueryValue('/search/x&admin=1'), '%2Fsearch%2Fx%26admin%3D1');
  assert.equal(escapeQueryValue("a b!'()*~-_."), 'a+b%21%27%28%29%2A~-_.');
  assert.equal(new URLSearchParams('t=' + escapeQueryValue('a+b&c=d%')).get('t'), 'a+b&c=d%');
});

test('canonicalRawPath keeps the client encoding only when it decodes to the normalised path', () => {
  const canon = (raw: string) => canonicalRawPath(raw, normalizePath(raw)!);
  assert.equal(canon('/a%2Fb/c%20d'), '/a%2Fb/c%20d');
  assert.equal(canon('/files/%252e%252e/x'), '/files/%252e%252e/x');
  // Path traversal regressions: dot segments, encoded or not, never survive.
  assert.equal(canon('/../files/x'), '/files/x');
  assert.equal(canon('/%2e%2e/files/x'), '/files/x');
  assert.equal(canon('/a/%2E%2e%2fb'), '/b');
  assert.equal(canon('/a/b%2F%2e%2e'), '/a/');
  assert.equal(canon('//files//x'), '/files/x');
});

test('open redirect regression: a Location path starting // or /\\ stays on this host', () => {
  const base = 'https://site.test/x';
  for (const value of ['//evil.example', '/\\evil.example', '/\t/evil.example', '/\r\n/evil.example', '///evil.example', '/\\/\\evil.example']) {
    const location = safeLocation(value, true);
    assert.equal(new URL(location, base).host, 'site.test', `${JSON.stringify(value)} -> ${location}`);
  }
  assert.equal(safeLocation('//evil.example/a', true), '/evil.example/a');
  assert.equal(safeLocation('\\\\evil.example', true), '%5C%5Cevil.example');
  // Without the guard (an operator-written protocol-relative target) the value is kept.
  assert.equal(safeLocation('//cdn.example/x', false), '//cdn.example/x');
});

test('safeLocation percent-encodes CR/LF, controls, space and non-ASCII (CWE-113)', () => {
  assert.equal(safeLocation('/a\r\nSet-Cookie: x=1', true), '/a%0D%0ASet-Cookie:%20x=1');
  assert.equal(safeLocation('/\0\x7f/é', true), '/%00%7F/%C3%A9');
  assert.equal(safeLocation('https://example.com/a?b=c#d', true), 'https://example.com/a?b=c#d');
});
