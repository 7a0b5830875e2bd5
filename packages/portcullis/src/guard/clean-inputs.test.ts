/** The memory of clean inputs: bounded in count and in what one input may cost. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rememberCleanInputs } from './clean-inputs.ts';

describe('rememberCleanInputs', () => {
  it('remembers what it is given, forgets all when full, never keeps a long input', () => {
    const clean = rememberCleanInputs(3, 16);
    clean.add('a');
    clean.add('b');
    assert.equal(clean.has('a'), true);
    assert.equal(clean.has('c'), false);
    clean.add('c');
    clean.add('d');
    assert.equal(clean.has('a'), false, 'emptied when full');
    assert.equal(clean.has('d'), true);
    const long = 'x'.repeat(17);
    clean.add(long);
    assert.equal(clean.has(long), false, 'too long to remember');
  });

  it('the last clean input answers without the Set; nothing unclean or too long ever becomes it', () => {
    const clean = rememberCleanInputs(2, 16);
    assert.equal(clean.has(''), false, 'nothing is clean before something is added');
    clean.add('Mozilla/5.0');
    assert.equal(clean.has(['Mozilla', '5.0'].join('/')), true, 'an equal string, not the same one');
    clean.add('x'.repeat(17));
    assert.equal(clean.has('x'.repeat(17)), false);
    assert.equal(clean.has('Mozilla/5.0'), true);
    assert.equal(clean.has('sqlmap/1.7'), false);
  });
});
