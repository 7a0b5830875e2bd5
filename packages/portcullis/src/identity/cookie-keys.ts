/**
 * The signer of oidc-provider's cookies (Koa's `app.keys`): what the `keygrip` package does
 * (HMAC-SHA1, URL-safe base64 without padding, newest key signs, any key verifies), with
 * KeyObject keys and `timingSafeEqual`. keygrip's constant-time compare (`tsscmp`) runs two
 * extra HMACs per check with fresh Buffer keys, which costs about a millisecond per sign-in.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export interface CookieSigner {
  sign(data: string): string;
  verify(data: string, digest: string): boolean;
  index(data: string, digest: string): number;
}

export function createCookieSigner(secrets: readonly string[]): CookieSigner {
  if (secrets.length === 0) throw new Error('cookie signing needs at least one key');
  const keys: KeyObject[] = secrets.map((s) => createSecretKey(Buffer.from(s, 'utf8')));
  const mac = (key: KeyObject, data: string) => createHmac('sha1', key).update(data).digest('base64url');
  const index = (data: string, digest: string) => {
    if (typeof digest !== 'string') return -1;
    const given = Buffer.from(digest);
    for (let i = 0; i < keys.length; i++) {
      const expected = Buffer.from(mac(keys[i]!, data));
      if (expected.length === given.length && timingSafeEqual(expected, given)) return i;
    }
    return -1;
  };
  return { sign: (data) => mac(keys[0]!, data), index, verify: (data, digest) => index(data, digest) !== -1 };
}
