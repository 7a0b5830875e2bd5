import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { withFileLock } from './file-lock.ts';

test('the lock admits one holder at a time and is released after the work', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let inside = 0;
  let most = 0;
  const work = async () => {
    inside += 1;
    most = Math.max(most, inside);
    await sleep(20);
    inside -= 1;
  };
  await Promise.all([1, 2, 3].map(() => withFileLock(dir, 'name', work)));
  assert.equal(most, 1);
  await withFileLock(dir, 'name', async () => undefined); // free again
});

test('a stale lock left by a dead process is taken over; a fresh one times out', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'held.lock');
  await writeFile(path, '99999 dead\n');
  const old = new Date(Date.now() - 120_000);
  await utimes(path, old, old);
  assert.equal(await withFileLock(dir, 'held', async () => 'ran', { staleMs: 60_000 }), 'ran');
  await writeFile(path, 'alive\n');
  await assert.rejects(withFileLock(dir, 'held', async () => 'ran', { staleMs: 60_000, timeoutMs: 100 }), /timed out/);
});

test('security: a holder that stalled and was taken over leaves its successor\'s lock in place when it finishes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'name.lock');
  await withFileLock(dir, 'name', async () => {
    // While this holder was stalled past staleMs, another process took the lock over: the file
    // is now that process's (what its own tryCreate writes: its token, pid and time).
    await rm(path);
    await writeFile(path, 'successor-token 4242 2026-01-01T00:00:00.000Z\n');
  }, { staleMs: 60_000 });
  assert.equal(await readFile(path, 'utf8'), 'successor-token 4242 2026-01-01T00:00:00.000Z\n', 'the successor still holds its lock');
  // So a third process still waits for the successor.
  await assert.rejects(withFileLock(dir, 'name', async () => 'ran', { staleMs: 60_000, timeoutMs: 100 }), /timed out/);
});
