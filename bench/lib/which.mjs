import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// A non-login root shell, or npm's environment, may lack the sbin directories where Debian
// puts nginx.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin'];

/**
 * Finds an executable on PATH (plus the sbin directories).
 * @param {string} name
 * @returns {string | null} absolute path, or null when absent
 */
export function findBinary(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
