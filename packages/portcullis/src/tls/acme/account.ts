/**
 * The ACME account key: created once per CA and email, stored 0600, reused on every start
 * and by every process sharing the storage (the lock makes concurrent first starts agree).
 */
import { createPrivateKey } from 'node:crypto';
import { withFileLock } from '../file-lock.ts';
import { readTextIfExists, writeFileAtomic } from '../private-files.ts';
import type { AcmeLibrary } from './acme-client.ts';
import type { AcmePaths } from './ca-storage.ts';

async function readKey(path: string): Promise<string | null> {
  const pem = await readTextIfExists(path);
  if (pem === null) return null;
  try {
    createPrivateKey(pem);
    return pem;
  } catch {
    throw new Error(`the ACME account key ${path} is not a valid private key; move it away to create a new account`);
  }
}

/** The stored account key (PEM), created (ECDSA P-256) when there is none. */
export async function accountKey(acme: AcmeLibrary, paths: AcmePaths, locks: string): Promise<{ pem: string; created: boolean }> {
  const existing = await readKey(paths.accountKey);
  if (existing !== null) return { pem: existing, created: false };
  return withFileLock(locks, paths.accountLockName, async () => {
    const again = await readKey(paths.accountKey);
    if (again !== null) return { pem: again, created: false };
    const pem = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString('utf8');
    await writeFileAtomic(paths.accountKey, pem, 0o600);
    return { pem, created: true };
  });
}
