import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGoRegexp, parseReplacement, replaceAllGo } from './regexp.ts';
import { PortcullisError } from '../../kernel/errors.ts';

test('RE2 syntax is translated to JavaScript', () => {
  const table: [string, string, boolean][] = [
    ['(?P<year>\\d{4})', '2024', true],
    ['(?i)^abc$', 'ABC', true],
    ['(?s)a.b', 'a\nb', true],
    ['a.b', 'a\nb', false],
    ['\\Aabc\\z', 'abc', true],
    ['\\Aabc\\z', 'abc\n', false],
    ['\\Qa.b*c\\E', 'a.b*c', true],
    ['\\Qa.b*c\\E', 'axbbc', false],
    ['^[[:alpha:]]+$', 'Hello', true],
    ['^[[:digit:][:upper:]]+$', 'A1B2', true],
    ['^[[:digit:]]+$', '12a', false],
    ['^\\pL+$', 'héllo', true],
    ['^\\p{Greek}+$', 'αβγ', true],
    ['^\\p{Lu}\\PL$', 'A1', true],
    ['^\\x{41}$', 'A', true],
    ['^a\\-b\\@c$', 'a-b@c', true],
    ['^[a\\-z]$', '-', true],
    ['^[]a]$', ']', true],
    ['^/v(\\d+)/', '/v12/x', true],
  ];
  for (const [pattern, input, expected] of table) {
    assert.equal(compileGoRegexp(pattern).test(input), expected, `${pattern} on ${JSON.stringify(input)}`);
  }
});

test('invalid patterns are config errors', () => {
  for (const bad of ['(', '[a', 'a{2,1}', '(?U)a', '[[:nope:]]', 'x\\']) {
    assert.throws(() => compileGoRegexp(bad), (e: unknown) => e instanceof PortcullisError && e.code === 'ERR_CONFIG_INVALID', bad);
  }
});

test('Go replacement templates', () => {
  const re = compileGoRegexp('(?P<word>[a-z]+)-(\\d+)', 'g');
  const table: [string, string][] = [
    ['$2:$1', '12:abc 7:x'],
    ['${2}x', '12x 7x'],
    ['$word', 'abc x'],
    ['${word}!', 'abc! x!'],
    // Go takes the longest name: `$1x` is the (missing) group `1x`, so empty
    ['$1x', ' '],
    ['$$1', '$1 $1'],
    ['$', '$ $'],
    ['$9', ' '],
    ['[$0]', '[abc-12] [x-7]'],
  ];
  for (const [template, expected] of table) {
    assert.equal(replaceAllGo(re, 'abc-12 x-7', parseReplacement(template)), expected, template);
  }
  const plain = compileGoRegexp('a(b)?', 'g');
  assert.equal(replaceAllGo(plain, 'a ab', parseReplacement('<$1>')), '<> <b>');
});
