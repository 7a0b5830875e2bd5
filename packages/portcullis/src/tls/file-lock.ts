/**
 * A lock between processes that share a storage directory, so two never issue the same
 * certificate at once: an exclusively created file (O_CREAT|O_EXCL), removed when done. A lock
 * older than `staleMs` belongs to a process that died and is taken over; the holder touches it
 * while it works so a slow issuance is not mistaken for a dead one (certmagic does the same).
 *
 * The file holds a random token of its holder's: a holder that stalled past `staleMs` (a
 * suspended VM, SIGSTOP) and was taken over must not remove its successor's lock when it wakes,
 * or a third process gets in beside the second. A stale file is renamed aside before it is
 * removed, so of two processes taking it over only one removes it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensurePrivateDir } from './private-files.ts';

export interface FileLockOptions {
  /** A lock file untouched for this long is considered abandoned. */
  staleMs?: number;
  /** Give up waiting after this long. */
  timeoutMs?: number;
}

function tryCreate(path: string, token: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${token} ${process.pid} ${new Date().toISOString()}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Whether the lock file still holds `token`: false once another process took it over. */
function stillOurs(path: string, token: string): boolean {
  try {
    return readFileSync(path, 'utf8').startsWith(`${token} `);
  } catch {
    return false;
  }
}

function removeIfStale(path: string, staleMs: number): void {
  // Renamed aside first (atomic): a second process that also found it stale then finds nothing
  // to rename, instead of removing the lock the first one has just created in its place.
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    // File times are wall-clock time, so this compares against Date.now(), not an injected Clock.
    if (Date.now() - statSync(path).mtimeMs <= staleMs) return;
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return;
  }
  // What was renamed may be a lock created after the stat (another process took the stale one
  // over first): a fresh one is put back, with link() so it never replaces a lock made in the
  // meantime. Only a third process arriving in that instant could then hold beside it.
  try {
    if (Date.now() - statSync(aside).mtimeMs <= staleMs) linkSync(aside, path);
  } catch {
    // Gone, or its place taken: nothing to put back.
  }
  try {
    unlinkSync(aside);
  } catch {
    // Already removed.
  }
}

/** Runs `work` while holding the lock `<dir>/<name>.lock`, waiting with backoff for it. */
export async function withFileLock<T>(dir: string, name: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const staleMs = options.staleMs ?? 60_000;
  const deadline = Date.now() + (options.timeoutMs ?? 2 * staleMs);
  const path = join(dir, `${name}.lock`);
  await ensurePrivateDir(dir);
  const token = randomBytes(12).toString('hex');
  let wait = 10;
  while (!tryCreate(path, token)) {
    removeIfStale(path, staleMs);
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${path}`);
    await sleep(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 1000);
  }
  const heartbeat = setInterval(() => {
    // Touch only our own lock: one taken over is the new holder's to keep fresh.
    if (!stillOurs(path, token)) return;
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
      if (stillOurs(path, token)) unlinkSync(path);
    } catch {
      // Removed meanwhile; nothing of ours to remove.
    }
  }
}
