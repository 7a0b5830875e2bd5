import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { compareClientSecret, generateClientSecret, hashClientSecret } from './client-secrets.ts';

describe('client secrets', () => {
  test('generated secrets are 32 random bytes in base64url', () => {
    const a = generateClientSecret();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.notEqual(generateClientSecret(), a);
  });

  test('the hash is sha256:<base64url> of the UTF-8 secret', () => {
    const expected = 'sha256:' + createHash('sha256').update('s3cr\u00e9t').digest('base64url');
    assert.equal(hashClientSecret('s3cr\u00e9t'), expected);
  });

  test('compare accepts the secret and nothing else', () => {
    const secret = generateClientSecret();
    const stored = hashClientSecret(secret);
    assert.equal(compareClientSecret(stored, secret), true);
    assert.equal(compareClientSecret(stored, secret.slice(0, -1)), false);
    assert.equal(compareClientSecret(stored, secret + 'x'), false);
    assert.equal(compareClientSecret(stored, stored), false, 'the hash is not the secret');
  });

  test('malformed stored values and hostile presented values are false, never a throw', () => {
    const stored = hashClientSecret('secret');
    for (const [s, p] of [
      ['', 'secret'],
      ['secret', 'secret'],
      ['sha256:', 'secret'],
      ['sha256:AAAA', 'secret'],
      ['sha1:' + stored.slice(7), 'secret'],
      [stored, ''],
      [stored, 'x'.repeat(1_000_000)],
      [stored, undefined],
      [undefined, 'secret'],
    ] as const) {
      assert.equal(compareClientSecret(s as string, p as string), false);
    }
  });
});
