/**
 * Where ACME material lives under the storage directory, certmagic's layout:
 * <storage>/acme/<ca>/users/<email>/account.key (an account bound to an external account:
 * <storage>/acme/<ca>/users/<email>/eab-<key id>/account.key) and
 * <storage>/certificates/<ca>/<name>/<name>.crt|.key, with <ca> derived from the directory URL.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { storageName } from '../host-names.ts';

/** Let's Encrypt's production directory, the default CA (as in Caddy). */
export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/**
 * A file-name-safe key for a CA: host, port and path of its directory URL
 * (`acme-v02.api.letsencrypt.org-directory`, `127.0.0.1_14000-dir`). Throws on a URL that is
 * not https (RFC 8555 section 6.1 requires HTTPS).
 */
export function caStorageKey(directoryUrl: string): string {
  const url = new URL(directoryUrl);
  if (url.protocol !== 'https:') throw new Error(`the ACME directory ${directoryUrl} is not an https:// URL`);
  const host = url.port ? `${url.hostname}_${url.port}` : url.hostname;
  const path = url.pathname.replace(/^\/+|\/+$/g, '').replace(/\//g, '-');
  const key = (path ? `${host}-${path}` : host).toLowerCase().replace(/[^a-z0-9._-]/g, '_');
  // `..` or a leading dot must never make a path component that walks out of storage.
  return key.replace(/^\.+/, '_').replace(/\.\.+/g, '_');
}

/** A file-name-safe account folder for an email (`default` without one). */
function userKey(email: string | undefined): string {
  if (!email) return 'default';
  return email.toLowerCase().replace(/[^a-z0-9@._+-]/g, '_').replace(/^\.+/, '_').replace(/\.\.+/g, '_');
}

/**
 * The folder of an account bound with EAB key id `keyId`: each binding gets its own key, since
 * a CA answers a known key with the account it already has (RFC 8555 section 7.3.1), which
 * would put one site's certificates on another binding's account. The readable part is
 * sanitised like an email; the hash keeps ids that sanitise alike apart.
 */
function eabKey(keyId: string): string {
  const readable = keyId.toLowerCase().replace(/[^a-z0-9._-]/g, '_').replace(/^\.+/, '_').replace(/\.\.+/g, '_').slice(0, 64);
  return `eab-${readable}-${createHash('sha256').update(keyId).digest('hex').slice(0, 12)}`;
}

export interface AcmePaths {
  accountKey: string;
  certificate(host: string): { dir: string; cert: string; key: string };
  /** Lock name for ordering `host` from this CA (shared by every process using the storage). */
  lockName(host: string): string;
  accountLockName: string;
}

/** The paths for one CA, account email and (when the account is bound) EAB key id under `storage`. */
export function acmePaths(storage: string, directoryUrl: string, email: string | undefined, eabKeyId?: string): AcmePaths {
  const ca = caStorageKey(directoryUrl);
  const user = eabKeyId === undefined ? userKey(email) : join(userKey(email), eabKey(eabKeyId));
  return {
    accountKey: join(storage, 'acme', ca, 'users', user, 'account.key'),
    certificate(host) {
      const name = storageName(host);
      const dir = join(storage, 'certificates', ca, name);
      return { dir, cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    },
    lockName: (host) => `issue_cert_${ca}_${storageName(host)}`,
    accountLockName: `acme_account_${ca}_${user.replace(/[\\/]/g, '_')}`,
  };
}
