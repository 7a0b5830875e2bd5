/**
 * Writing certificate material: directories 0700, private keys 0600, every file replaced
 * atomically (write a temporary file, then rename) so a reader never sees half a PEM.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Creates `dir` and its parents as 0700 (only this user may list or read key material). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Atomically writes `data` to `path` with `mode` (0600 for keys, 0644 for certificates). */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await ensurePrivateDir(dirname(path));
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // `flag: 'wx'`: never follow a planted symlink or reuse someone else's file.
    await writeFile(temporary, data, { mode, flag: 'wx' });
    await chmod(temporary, mode); // the umask may have narrowed or the file system ignored mode
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The file's text, or null when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
