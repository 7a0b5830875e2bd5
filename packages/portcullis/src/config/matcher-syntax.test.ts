import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Directive, Token } from './ast.ts';
import { ErrorList } from '../kernel/errors.ts';
import { createDispenser, suggest } from './dispenser.ts';
import { canonicalHeader, checkRegexp, defineMatchers, intersectSets, isMatcherToken, resolveMatcherToken } from './matcher-syntax.ts';

let line = 0;
function tok(text: string, quoted = false): Token {
  return { text, file: 'Caddyfile', line: ++line, quoted };
}
function dir(name: string, args: string[], block: Directive[] | null = null): Directive {
  const nameToken = tok(name);
  return { name, nameToken, args: args.map((a) => tok(a)), block, source: { file: 'Caddyfile', line: nameToken.line } };
}

test('matcher tokens: *, /path and @name, never quoted', () => {
  assert.equal(isMatcherToken(tok('*')), true);
  assert.equal(isMatcherToken(tok('/api/*')), true);
  assert.equal(isMatcherToken(tok('@api')), true);
  assert.equal(isMatcherToken(tok('/api', true)), false);
  assert.equal(isMatcherToken(tok('localhost:9000')), false);
  assert.equal(isMatcherToken(undefined), false);
});

test('named matchers: both forms, merged lines, not, and use before definition', () => {
  const errors = new ErrorList();
  const disp = createDispenser(errors, '');
  const { scope, rest } = defineMatchers(
    [
      dir('respond', ['@api', 'x']),
      dir('@api', ['path', '/api/*', '/v1/*']),
      dir('@post', [], [dir('method', ['post']), dir('path', ['/a']), dir('path', ['/b']), dir('header', ['!X-Debug'])]),
      dir('@safe', ['not'], [dir('method', ['DELETE'])]),
    ],
    new Map(),
    disp,
  );
  assert.deepEqual(errors.errors, []);
  assert.equal(rest.length, 1);
  assert.deepEqual(scope.get('@api')?.set, { path: ['/api/*', '/v1/*'] });
  assert.deepEqual(scope.get('@post')?.set, { method: ['POST'], path: ['/a', '/b'], header: { 'X-Debug': null } });
  assert.deepEqual(scope.get('@safe')?.set, { not: [{ method: ['DELETE'] }] });
  const resolved = resolveMatcherToken(tok('@api'), scope, disp);
  assert.deepEqual(resolved, { ok: true, match: [{ path: ['/api/*', '/v1/*'] }] });
  // The returned set is a copy: changing a route's matcher must not change the definition.
  if (resolved.ok) resolved.match![0]!.path!.push('/x');
  assert.deepEqual(scope.get('@api')?.set.path, ['/api/*', '/v1/*']);
});

test('named matchers: duplicates, empty ones, unknown and unsupported matchers are reported', () => {
  const errors = new ErrorList();
  const parent = defineMatchers([dir('@a', ['path', '/a'])], new Map(), createDispenser(errors, '')).scope;
  defineMatchers(
    [dir('@a', ['path', '/b']), dir('@empty', []), dir('@typo', ['pth', '/x']), dir('@cel', [], [dir('expression', ['{true}'])]), dir('@', [])],
    parent,
    createDispenser(errors, ''),
  );
  const text = errors.errors.map((e) => e.describe());
  assert.equal(text.length, 5, text.join('\n'));
  assert.match(text[0]!, /@a: matcher @a is already defined at Caddyfile:\d+/);
  assert.match(text[1]!, /no conditions/);
  assert.match(text[2]!, /unknown matcher "pth" \(did you mean "path"\?\)/);
  assert.match(text[3]!, /expression: CEL expression matchers are not supported/);
  assert.match(text[4]!, /needs a name/);
});

test('undefined matcher names get a suggestion', () => {
  const errors = new ErrorList();
  const scope = new Map([['@static', { set: { path: ['/s/*'] }, source: { file: 'f', line: 1 } }]]);
  assert.deepEqual(resolveMatcherToken(tok('@statc'), scope, createDispenser(errors, 'respond')), { ok: false });
  assert.match(errors.errors[0]!.describe(), /respond: matcher @statc is not defined \(did you mean "@static"\?\)/);
});

test('regexps: RE2 spellings pass, lookaround and backreferences fail', () => {
  assert.equal(checkRegexp('^/user/(?P<id>[0-9]+)$'), null);
  assert.equal(checkRegexp('(?i)\\.php$'), null);
  assert.match(checkRegexp('(?=x)') ?? '', /lookaround/);
  assert.match(checkRegexp('(a)\\1') ?? '', /backreference/);
  assert.match(checkRegexp('(') ?? '', /invalid regexp/);
  assert.match(checkRegexp('') ?? '', /empty/);
});

test('helpers: canonical header keys, set intersection, suggestions', () => {
  assert.equal(canonicalHeader('x-forwarded-for'), 'X-Forwarded-For');
  assert.equal(canonicalHeader('X-Real-IP'), 'X-Real-Ip');
  assert.equal(canonicalHeader('bad header'), 'bad header');
  assert.deepEqual(intersectSets({ method: ['GET'] }, { path: ['/a'] }), { method: ['GET'], path: ['/a'] });
  assert.equal(intersectSets({ path: ['/b'] }, { path: ['/a'] }), null);
  assert.equal(suggest('revers_proxy', ['reverse_proxy', 'respond']), 'reverse_proxy');
  assert.equal(suggest('zzzzzz', ['reverse_proxy', 'respond']), null);
});
