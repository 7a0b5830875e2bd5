/**
 * The guard's challenge secret in the store (src/guard/challenge-secret.ts), on real SQLite
 * files: made once, kept across opens, one secret for processes that start together, never in
 * identity's JWKS nor touched by `portcullis keys rotate`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ManualClock, systemClock } from '../src/kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../src/kernel/errors.ts';
import { openSqliteStore, type SigningKeyRepository, type Store } from '../src/store/index.ts';
import { CHALLENGE_SECRET_ALG, CHALLENGE_SECRET_KID, loadChallengeSecret } from '../src/guard/challenge-secret.ts';
import { loadKeySet, rotateKeys } from '../src/identity/signing-keys.ts';

const base = mkdtempSync(join(tmpdir(), 'portcullis-challenge-secret-'));
after(() => rmSync(base, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(base, `d${++files}`, 'store.db');

async function withStore<T>(path: string, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({ path, clock: systemClock });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

const challengeRows = async (keys: SigningKeyRepository) => (await keys.list()).filter((k) => k.alg === CHALLENGE_SECRET_ALG);

/** Runs `script` (an ES module) in a new Node process; its stdout. */
function node(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('guard challenge secret', () => {
  test('made on first start (32 random bytes), the same on every later open', async () => {
    const path = freshPath();
    const first = await withStore(path, (store) => loadChallengeSecret(store.keys, systemClock));
    assert.equal(first.length, 32);
    const again = await withStore(path, async (store) => {
      assert.equal((await challengeRows(store.keys)).length, 1);
      return loadChallengeSecret(store.keys, systemClock);
    });
    assert.deepEqual(again, first);
    const elsewhere = await withStore(freshPath(), (store) => loadChallengeSecret(store.keys, systemClock));
    assert.notDeepEqual(elsewhere, first, 'another database, another secret');
  });

  test('processes starting together on one database end with one secret', { timeout: 60_000 }, async () => {
    const path = freshPath();
    // Created first so that the processes race on the secret, not on the migrations.
    await withStore(path, async () => undefined);
    const url = (file: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', 'src', file)).href);
    const startAt = Date.now() + 1500;
    const script = `
      const { openSqliteStore } = await import(${url('store/index.ts')});
      const { loadChallengeSecret } = await import(${url('guard/challenge-secret.ts')});
      const clock = { now: () => Date.now() };
      const store = await openSqliteStore({ path: ${JSON.stringify(path)}, clock });
      await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
      const secret = await loadChallengeSecret(store.keys, clock);
      await store.close();
      process.stdout.write(secret.toString('hex'));
    `;
    const secrets = await Promise.all([1, 2, 3, 4].map(() => node(script)));
    assert.equal(new Set(secrets).size, 1, secrets.join('\n'));
    assert.match(secrets[0]!, /^[0-9a-f]{64}$/);
    await withStore(path, async (store) => assert.equal((await challengeRows(store.keys)).length, 1));
  });

  test('lost race: the insert conflicts, the other process\'s secret is read and used', async () => {
    await withStore(freshPath(), async (store) => {
      const theirs = await loadChallengeSecret(store.keys, systemClock);
      // What this process saw before the other one's insert landed: no secret yet.
      let stale = true;
      const racing: SigningKeyRepository = {
        ...store.keys,
        list: async () => {
          if (!stale) return store.keys.list();
          stale = false;
          return [];
        },
      };
      assert.deepEqual(await loadChallengeSecret(racing, systemClock), theirs);
      assert.equal((await challengeRows(store.keys)).length, 1);
    });
  });

  test('a store that cannot be read, or a malformed row, fails with a clear error (no random fallback)', async () => {
    const broken: SigningKeyRepository = {
      list: () => Promise.reject(new PortcullisError(ErrorCodes.ERR_STORE, 'store: database is locked')),
      add: () => Promise.reject(new Error('unused')),
      retire: () => Promise.reject(new Error('unused')),
      delete: () => Promise.reject(new Error('unused')),
    };
    await assert.rejects(loadChallengeSecret(broken, systemClock), (error: unknown) => {
      assert.ok(error instanceof PortcullisError);
      assert.equal(error.code, ErrorCodes.ERR_STORE);
      assert.equal(error.message, 'guard: cannot load the challenge secret from the database: store: database is locked');
      return true;
    });
    await withStore(freshPath(), async (store) => {
      await store.keys.add({ kid: CHALLENGE_SECRET_KID, alg: CHALLENGE_SECRET_ALG, privateJwk: { kty: 'oct', k: 'c2hvcnQ' }, createdAt: 0, retiredAt: null });
      await assert.rejects(loadChallengeSecret(store.keys, systemClock), /guard: cannot load the challenge secret from the database: the signing_keys row guard-challenge is not a 32-byte guard-challenge secret/);
    });
  });

  test('security: the challenge secret is never in the JWKS and keys rotate leaves it alone', async () => {
    await withStore(freshPath(), async (store) => {
      const clock = new ManualClock(Date.now());
      const secret = await loadChallengeSecret(store.keys, clock);
      const k = secret.toString('base64url');
      const keySet = await loadKeySet(store.keys, clock, ['RS256', 'EdDSA'], 3_600_000);
      assert.deepEqual(keySet.jwks.map((j) => j.alg).sort(), ['EdDSA', 'RS256']);
      assert.ok(!JSON.stringify(keySet).includes(k), 'the secret appears nowhere in the key set');
      const added = await rotateKeys(store.keys, clock);
      assert.equal(added.length, 3, `RS256, EdDSA and the cookie key: ${added.join(', ')}`);
      const rows = await challengeRows(store.keys);
      assert.deepEqual(rows.map((r) => [r.kid, r.retiredAt, r.privateJwk.k]), [[CHALLENGE_SECRET_KID, null, k]]);
      // Long after every retired key is deleted, the secret is still there and still unpublished.
      clock.advance(10 * 3_600_000);
      const later = await loadKeySet(store.keys, clock, ['RS256', 'EdDSA'], 3_600_000);
      assert.ok(!JSON.stringify(later).includes(k));
      assert.deepEqual(await loadChallengeSecret(store.keys, clock), secret);
    });
  });
});
