/**
 * Globs compile without the `u` flag (so V8 can hand a match that backtracks too much to its
 * linear engine, test/redos.test.ts), and still count a character outside the BMP as one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlob } from './path.ts';
import { globToRegExp } from '../files/hide.ts';

test('path globs: ? and classes take a character outside the BMP whole, never half of one', () => {
  const matches = (pattern: string, path: string) => compileGlob(pattern)(path);
  assert.equal(matches('/?', '/😀'), true);
  assert.equal(matches('/??', '/😀'), false, 'two ? are two characters, not the halves of one');
  assert.equal(matches('/x[😀]', '/x😀'), true);
  assert.equal(matches('/x[a😀]', '/xa'), true);
  assert.equal(matches('/x[😀]', '/xa'), false);
  assert.equal(matches('/x[^a]', '/x😀'), true);
  assert.equal(matches('/x[^a]', '/xa'), false);
  assert.equal(matches('/*.png', '/😀😀.png'), true);
  assert.throws(() => compileGlob('/x[^😀]'), /invalid path pattern/, 'a negated class cannot list one');
  assert.throws(() => compileGlob('/x[😀-😂]'), /invalid path pattern/);
});

test('hide globs: the same, and a negated class listing one hides more, never less', () => {
  const hides = (pattern: string, name: string) => globToRegExp(pattern)!.test(name);
  assert.equal(hides('x?', 'x😀'), true);
  assert.equal(hides('x??', 'x😀'), false);
  assert.equal(hides('x[^a]', 'x😀'), true);
  assert.equal(hides('x[^a]', 'xa'), false);
  assert.equal(hides('x[😀]', 'x😀'), true);
  assert.equal(hides('x[😀]', 'xb'), false);
  assert.equal(hides('x[^😀]', 'x😀'), true);
  assert.equal(globToRegExp('x[a]')!.flags, '', 'no u flag');
});
