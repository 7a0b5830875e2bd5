/** The host-name and DNS-name spellings the config and certificates share. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDnsName, isHostName } from './dns-names.ts';

describe('DNS names', () => {
  it('host names: letters, digits and inner hyphens, 63 a label, 253 in all', () => {
    for (const ok of ['example.com', 'a', 'xn--bcher-kva.example', '1.example', 'a-b.c', `${'a'.repeat(63)}.example`]) assert.equal(isHostName(ok), true, ok);
    const long = Array.from({ length: 64 }, () => 'abc').join('.');
    for (const bad of ['', '-a.example', 'a-.example', '_acme-challenge.example', 'a..b', 'a.', `${'a'.repeat(64)}.example`, long, 'ex ample.com', 'exa/mple.com', 'Example.com']) assert.equal(isHostName(bad), false, bad);
  });

  it('DNS names also allow _ (record and certificate names)', () => {
    assert.equal(isDnsName('_acme-challenge.example.com'), true);
    assert.equal(isDnsName('a_b.example'), true);
    for (const bad of ['', 'a..b', '-x.example', 'x-.example', 'a b', 'a.b/c']) assert.equal(isDnsName(bad), false, bad);
  });
});
