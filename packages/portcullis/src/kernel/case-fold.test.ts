/**
 * Case folding proven against the `i` flag it replaces (see case-fold.ts for why: V8's
 * linear-time regexp engine refuses `i`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { foldCase } from './case-fold.ts';

describe('case folding: (?i) without the i flag', () => {
  const PATTERNS = [
    'union\\s+select',
    'masscan|zgrab|sqlmap',
    '^[a-f0-9]{8}$',
    '[^a-z]x',
    '[\\w-]+\\.php',
    '\\bselect\\b',
    '\\x41b\\u0043',
    '[\\x41-\\x43]z',
    'café',
    '[à-ÿ]+',
    'straße',
    'µ',
    '(?<word>bot)s?',
    'a{2,3}B',
    '[-a]',
    '[a-]',
    '\\d+[.]?\\D',
  ];
  const INPUTS = ['UNION SELECT', 'union\tselect', 'MasScan/1.3', 'ZGRAB', 'DEADbeef', 'deadbeeg', '1X', 'ax', 'Index.PHP', 'a-b.Php', 'SELECT', 'Selection', 'abc', 'ABC', 'bz', 'Cz', 'dz', 'CAFÉ', 'café', 'ÀÉÎ', 'àéî', 'STRASSE', 'STRAßE', 'µ', 'μ', 'Μ', 'BotBOT', 'aaB', 'AAb', '-', 'A', '12x', '3.Y', 'K', 'k', '\u212a', 'ſ', 'S'];

  it('matches exactly what the i flag matches, on ASCII and beyond', () => {
    for (const p of PATTERNS) {
      const folded = new RegExp(foldCase(p));
      const reference = new RegExp(p, 'i');
      for (const s of INPUTS) assert.equal(folded.test(s), reference.test(s), `/${p}/i vs /${folded.source}/ on ${JSON.stringify(s)}`);
    }
  });

  it('leaves group names, quantifiers, escapes and the Kelvin sign alone; refuses back-references', () => {
    assert.equal(foldCase('(?<name>a){2,3}\\d'), '(?<name>[\\u0041\\u0061]){2,3}\\d');
    assert.throws(() => foldCase('(a)\\1'), /back-references/);
    assert.throws(() => foldCase('(?<n>a)\\k<n>'), /back-references/);
    // Non-Unicode Canonicalize never maps a non-ASCII character to an ASCII one.
    assert.equal(new RegExp(foldCase('k')).test('\u212a'), false);
  });
});
