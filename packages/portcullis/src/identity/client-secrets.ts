/**
 * OIDC client secrets: generated, stored only as a hash, compared in constant time.
 *
 * A plain SHA-256 is enough here, unlike for passwords: a generated secret carries 256 bits of
 * randomness and a config secret is expected to be long and random too, so no dictionary or
 * brute force can walk a fast hash back to it. argon2 would be wrong for this job: each
 * client_credentials grant authenticates the client, and at ~20 ms per verify one core could
 * do ~50 grants a second, far below the 800 grants/s the issue targets.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256:';
/** A secret longer than this is refused unhashed: no legitimate client sends kilobytes. */
const MAX_SECRET_LENGTH = 1024;

/** A fresh secret: 32 random bytes, base64url (43 characters). */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** `sha256:<base64url>` of the secret's UTF-8 bytes: the only form a secret is stored in. */
export function hashClientSecret(secret: string): string {
  return PREFIX + createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/**
 * True when the presented secret hashes to the stored value. Both sides are fixed-length
 * digests, so the comparison time says nothing about how much of the secret was right.
 * Never throws on a malformed stored hash or an empty, huge or non-string presented secret.
 */
export function compareClientSecret(storedHash: string, presented: string): boolean {
  if (typeof storedHash !== 'string' || !storedHash.startsWith(PREFIX)) return false;
  if (typeof presented !== 'string' || presented.length === 0 || presented.length > MAX_SECRET_LENGTH) return false;
  const expected = Buffer.from(storedHash.slice(PREFIX.length), 'base64url');
  if (expected.length !== 32) return false;
  const actual = createHash('sha256').update(presented, 'utf8').digest();
  return timingSafeEqual(actual, expected);
}
