/**
 * The verified-token cache on its own: bounded, recently used entries kept, nothing served past
 * `exp`, keys that are hashes rather than tokens.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { VerifiedClaims } from '../src/index.ts';
import { createTokenCache } from '../src/token-cache.ts';

const NOW = 1_700_000_000_000;

function claims(sub: string, exp = NOW / 1000 + 3600): VerifiedClaims {
  return Object.freeze({ sub, iss: 'https://idp', aud: ['https://idp'], exp, iat: NOW / 1000, scopes: [], groups: [], raw: {} });
}

describe('token cache', () => {
  test('keys are SHA-256 digests, not the tokens', () => {
    const cache = createTokenCache(10);
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln';
    const key = cache.key(token);
    assert.equal(key.length, 43);
    assert.ok(!key.includes(token));
    assert.equal(cache.key(token), key);
    assert.notEqual(cache.key(`${token}x`), key);
  });

  test('never holds more than its bound', () => {
    const cache = createTokenCache(1000);
    for (let i = 0; i < 25_000; i++) {
      cache.set(cache.key(`t${i}`), claims(`u${i}`), NOW);
      if (i % 3 === 0) cache.get(cache.key(`t${i - 500}`), NOW);
    }
    assert.equal(cache.size, 1000);
    assert.equal(cache.get(cache.key('t24999'), NOW)?.sub, 'u24999', 'the newest is there');
  });

  test('recently used entries survive a flood of new ones', () => {
    const cache = createTokenCache(100);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, claims(`u${i}`), NOW);
    for (let i = 0; i < 10; i++) assert.ok(cache.get(`k${i}`, NOW));
    for (let i = 0; i < 50; i++) cache.set(`new${i}`, claims(`n${i}`), NOW);
    for (let i = 0; i < 10; i++) assert.equal(cache.get(`k${i}`, NOW)?.sub, `u${i}`, `hot k${i} kept`);
    for (let i = 10; i < 60; i++) assert.equal(cache.get(`k${i}`, NOW), undefined, `cold k${i} evicted`);
    for (let i = 60; i < 100; i++) assert.ok(cache.get(`k${i}`, NOW), `k${i} not yet reached`);
  });

  test('nothing is served at or after exp, and such entries go', () => {
    const cache = createTokenCache(10);
    const exp = NOW / 1000 + 60;
    cache.set('a', claims('a', exp), NOW);
    assert.ok(cache.get('a', exp * 1000 - 1));
    assert.equal(cache.get('a', exp * 1000), undefined);
    assert.equal(cache.size, 0);
  });

  test('a token already past exp is not stored; size 0 stores nothing', () => {
    const cache = createTokenCache(10);
    cache.set('old', claims('old', NOW / 1000 - 1), NOW);
    cache.set('now', claims('now', NOW / 1000), NOW);
    assert.equal(cache.size, 0);
    const off = createTokenCache(0);
    off.set('a', claims('a'), NOW);
    assert.equal(off.size, 0);
    assert.equal(off.get('a', NOW), undefined);
  });

  test('expired entries are evicted before live unused ones', () => {
    const cache = createTokenCache(3);
    cache.set('live1', claims('l1'), NOW);
    cache.set('soon', claims('s', NOW / 1000 + 10), NOW);
    cache.set('live2', claims('l2'), NOW);
    cache.get('live1', NOW);
    cache.get('soon', NOW); // used, but expired by the time room is needed
    cache.set('new', claims('n'), NOW + 20_000);
    assert.equal(cache.get('soon', NOW), undefined);
    assert.ok(cache.get('live1', NOW + 20_000));
    assert.ok(cache.get('live2', NOW + 20_000));
    assert.ok(cache.get('new', NOW + 20_000));
  });
});
