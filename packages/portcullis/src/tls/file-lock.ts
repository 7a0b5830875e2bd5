/**
 * A lock between processes that share a storage directory, so two never issue the same
 * certificate at once: an exclusively created file (O_CREAT|O_EXCL), removed when done. A lock
 * older than `staleMs` belongs to a process that died and is taken over; the holder touches it
 * while it works so a slow issuance is not mistaken for a dead one (certmagic does the same).
 */
import { closeSync, openSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensurePrivateDir } from './private-files.ts';

export interface FileLockOptions {
  /** A lock file untouched for this long is considered abandoned. */
  staleMs?: number;
  /** Give up waiting after this long. */
  timeoutMs?: number;
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${process.pid} ${new Date().toISOString()}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function removeIfStale(path: string, staleMs: number): void {
  try {
    // File times are wall-clock time, so this compares against Date.now(), not an injected Clock.
    if (Date.now() - statSync(path).mtimeMs > staleMs) unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Runs `work` while holding the lock `<dir>/<name>.lock`, waiting with backoff for it. */
export async function withFileLock<T>(dir: string, name: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const staleMs = options.staleMs ?? 60_000;
  const deadline = Date.now() + (options.timeoutMs ?? 2 * staleMs);
  const path = join(dir, `${name}.lock`);
  await ensurePrivateDir(dir);
  let wait = 10;
  while (!tryCreate(path)) {
    removeIfStale(path, staleMs);
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${path}`);
    await sleep(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 1000);
  }
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // Removed under us; the work finishes regardless and the next holder re-checks storage.
    }
  }, staleMs / 3);
  heartbeat.unref();
  try {
    return await work();
  } finally {
    clearInterval(heartbeat);
    try {
      unlinkSync(path);
    } catch {
      // Already taken over as stale by another process; nothing of ours to remove.
    }
  }
}
