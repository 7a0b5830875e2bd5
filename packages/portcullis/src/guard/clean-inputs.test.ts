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
});
