import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { createCookieSigner } from './cookie-keys.ts';

/** keygrip's own output for comparison: HMAC-SHA1, base64 with /+= made URL-safe. */
const keygrip = (key: string, data: string) =>
  createHmac('sha1', key).update(data).digest('base64').replace(/\/|\+|=/g, (c) => ({ '/': '_', '+': '-', '=': '' })[c]!);

test('signs like keygrip, so cookies signed before an upgrade still verify', () => {
  const signer = createCookieSigner(['new-key', 'old-key']);
  assert.equal(signer.sign('_session=abc'), keygrip('new-key', '_session=abc'));
  assert.equal(signer.index('_session=abc', keygrip('old-key', '_session=abc')), 1);
  assert.equal(signer.verify('_session=abc', keygrip('new-key', '_session=abc')), true);
});

test('a wrong, truncated or foreign signature is refused', () => {
  const signer = createCookieSigner(['k']);
  const good = signer.sign('x=1');
  assert.equal(signer.index('x=2', good), -1);
  assert.equal(signer.index('x=1', good.slice(0, -1)), -1);
  assert.equal(signer.index('x=1', keygrip('other', 'x=1')), -1);
  assert.equal(signer.verify('x=1', ''), false);
});
