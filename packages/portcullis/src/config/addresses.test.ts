import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Token } from './ast.ts';
import { ErrorList } from '../kernel/errors.ts';
import { createDispenser } from './dispenser.ts';
import { checkDuplicateAddresses, checkSchemePort, effectivePort, parseSiteAddress, pathPrefix } from './addresses.ts';

function tok(text: string, line = 1): Token {
  return { text, file: 'Caddyfile', line, quoted: false };
}

function parse(text: string) {
  const errors = new ErrorList();
  const address = parseSiteAddress(tok(text), createDispenser(errors, 'site address'));
  return { address, errors: errors.errors.map((e) => e.message) };
}

test('site addresses parse as Caddy parses them', () => {
  const cases: [string, object][] = [
    ['example.com', { scheme: '', host: 'example.com', port: null, path: '' }],
    [':8080', { scheme: '', host: '', port: 8080, path: '' }],
    ['http://Host.Example:81', { scheme: 'http', host: 'host.example', port: 81, path: '' }],
    ['https://secure.example.com', { scheme: 'https', host: 'secure.example.com', port: null, path: '' }],
    ['*.example.com', { scheme: '', host: '*.example.com', port: null, path: '' }],
    ['localhost', { scheme: '', host: 'localhost', port: null, path: '' }],
    ['127.0.0.1:8080', { scheme: '', host: '127.0.0.1', port: 8080, path: '' }],
    ['[::1]:8080', { scheme: '', host: '::1', port: 8080, path: '' }],
    ['example.com/api/*', { scheme: '', host: 'example.com', port: null, path: '/api/*' }],
    ['http://', { scheme: 'http', host: '', port: null, path: '' }],
  ];
  for (const [text, expected] of cases) {
    const { address, errors } = parse(text);
    assert.deepEqual(errors, [], text);
    assert.deepEqual(address, { original: text, ...expected }, text);
  }
});

test('bad site addresses are reported', () => {
  for (const text of ['ws://x', 'ftp://x', 'x:99999', 'x:port', 'bad_host..com', '[::1', '1.2.3.999', 'a b']) {
    const { address, errors } = parse(text);
    assert.equal(address, null, text);
    assert.equal(errors.length, 1, text);
  }
});

test('ports, conventions, prefixes and duplicates', () => {
  const a = parse('http://x').address!;
  const b = parse('x').address!;
  assert.equal(effectivePort(a, 80, 443), 80);
  assert.equal(effectivePort(b, 80, 443), 443);
  assert.match(checkSchemePort(parse('http://x:443').address!, 80, 443) ?? '', /contradict/);
  assert.equal(checkSchemePort(parse('http://x:8080').address!, 80, 443), null);
  assert.equal(pathPrefix('/api/*'), '/api/');
  assert.equal(pathPrefix('/exact'), '/exact');
  const errors = new ErrorList();
  checkDuplicateAddresses(
    [
      { address: parse('example.com').address!, source: { file: 'Caddyfile', line: 1 } },
      { address: parse('https://example.com:443').address!, source: { file: 'Caddyfile', line: 5 } },
      { address: parse('http://example.com').address!, source: { file: 'Caddyfile', line: 9 } },
    ],
    80,
    443,
    createDispenser(errors, 'site address'),
  );
  assert.equal(errors.errors.length, 1);
  assert.equal(errors.errors[0]!.describe(), 'Caddyfile:5: site address: https://example.com:443: the address is already served by the site at Caddyfile:1 (example.com)');
});
