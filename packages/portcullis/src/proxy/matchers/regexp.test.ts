import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGoRegexp, parseReplacement, replaceAllGo } from './regexp.ts';
import { PortcullisError } from '../../kernel/errors.ts';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

test('case-insensitive patterns compile without the i flag and match what i matches', () => {
  // V8's linear-time engine (the ReDoS fallback) refuses `i` and `(?i:...)`: they are folded.
  const patterns = ['(?i)^/(a+)+$', '(?i)^/Admin\\z', '(?i)[a-f]+-x', '(?is)a.B', '(?i)^caf[é]$', 'ab(?i:Cd)e', '(?i)ab(?-i:Cd)e', '(?i)(?P<w>Bot)s?'];
  const inputs = ['/aaaa', '/AAAa', '/aab', '/admin', '/ADMIN', '/admin\n', 'DEAD-X', 'beef-x', 'a\nb', 'A\nB', 'café', 'CAFÉ', 'abcde', 'abCDe', 'ABCDE', 'ABcDE', 'abcDE', 'BOTS', 'bot'];
  for (const p of patterns) {
    const re = compileGoRegexp(p);
    assert.ok(!re.flags.includes('i') && !/\(\?[a-z-]*i/.test(re.source), `${p} -> /${re.source}/${re.flags}`);
    // The same pattern with JavaScript's own case-insensitivity, as the reference.
    const lead = /^\(\?([is]+)\)/.exec(p);
    const body = (lead ? p.slice(lead[0].length) : p).replaceAll('\\z', '$').replaceAll('(?P<', '(?<');
    const reference = new RegExp(body, lead?.[1] ?? '');
    for (const s of inputs) assert.equal(re.test(s), reference.test(s), `${p} on ${JSON.stringify(s)}`);
  }
});

test('\\A and \\z are ^ and $ unless multi-line mode is on somewhere', () => {
  assert.equal(compileGoRegexp('\\Aab\\z').source, '^ab$');
  const multi = compileGoRegexp('(?m)\\Aab\\z');
  assert.equal(multi.test('ab'), true);
  assert.equal(multi.test('x\nab'), false);
  assert.equal(multi.test('ab\nx'), false);
  const group = compileGoRegexp('(?m:^a$)\\n?b\\z');
  assert.equal(group.test('a\nb'), true);
  assert.equal(group.test('a\nb\n'), false);
});

test('the g flag of replacements survives folding', () => {
  const re = compileGoRegexp('(?i)X', 'g');
  assert.equal(re.flags, 'g');
  assert.equal(replaceAllGo(re, 'axbXc', parseReplacement('-')), 'a-b-c');
});

test("V8's linear-time engine accepts case-insensitive and \\z patterns once compiled", () => {
  // In a child Node with --enable-experimental-regexp-engine, the `l` flag compiles only
  // regexps that engine can run: the ones the ReDoS fallback (main.ts) can hand over.
  const code = `
    import { compileGoRegexp } from './regexp.ts';
    const patterns = ['(?i)^/(a+)+$', '(?i)^(a+)+\\\\z', 'ab(?i:(c+)+)e', '(?i)ab(?-i:Cd)e', '\\\\Aab\\\\z', '(?is)^(?P<w>Bot)s?.*'];
    const refused = [];
    for (const p of patterns) {
      const re = compileGoRegexp(p);
      try { new RegExp(re.source, re.flags + 'l'); } catch (e) { refused.push(p + ' -> /' + re.source + '/' + re.flags); }
    }
    console.log(JSON.stringify(refused));
  `;
  const cwd = fileURLToPath(new URL('.', import.meta.url));
  const out = execFileSync(process.execPath, ['--enable-experimental-regexp-engine', '--input-type=module', '-e', code], { cwd, encoding: 'utf8', timeout: 60_000 });
  assert.deepEqual(JSON.parse(out), []);
});
