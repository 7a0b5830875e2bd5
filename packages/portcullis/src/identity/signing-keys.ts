/**
 * Token signing keys and cookie keys, kept in the store. Keys are generated on first start;
 * `portcullis keys rotate` adds a new key per algorithm and retires the old one, which stays
 * published in the JWKS until every token it signed has expired, then is deleted.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Clock } from '../kernel/clock.ts';
import type { SigningKey, SigningKeyRepository } from '../store/index.ts';

export type SigningAlg = 'RS256' | 'ES256' | 'EdDSA';

/** Cookie-signing secrets share the key table under this pseudo-algorithm; never published. */
const COOKIE_ALG = 'cookie';

/**
 * The JWS algorithms of the table's rows: only these are published and rotated. Other rows are
 * other modules' secrets (the guard's `guard-challenge` HMAC key): publishing one in the JWKS
 * would hand it out, and rotating it would replace a symmetric secret by a key pair.
 */
const SIGNING_ALGS: ReadonlySet<string> = new Set<SigningAlg>(['RS256', 'ES256', 'EdDSA']);

/** Whether a row is identity's own (a signing key or a cookie secret), to publish, rotate or delete. */
const isOwn = (key: SigningKey): boolean => SIGNING_ALGS.has(key.alg) || key.alg === COOKIE_ALG;

export interface KeySet {
  /** Private JWKs for oidc-provider: the active key of each algorithm first, then retired ones. */
  jwks: JWK[];
  /** Secrets that sign oidc-provider's cookies, newest first (older ones still verify). */
  cookieKeys: string[];
}

/**
 * Makes sure every algorithm in `algs` has an active key, deletes keys retired longer ago than
 * `retentionMs` (the longest lifetime of a token they may have signed), and returns the set.
 */
export async function loadKeySet(repo: SigningKeyRepository, clock: Clock, algs: SigningAlg[], retentionMs: number): Promise<KeySet> {
  let keys = await repo.list();
  const now = clock.now();
  for (const key of keys) {
    if (isOwn(key) && key.retiredAt !== null && key.retiredAt + retentionMs <= now) await repo.delete(key.kid);
  }
  for (const alg of [...algs, COOKIE_ALG] as const) {
    if (!keys.some((k) => k.alg === alg && k.retiredAt === null)) await repo.add(await generateKey(alg, clock));
  }
  keys = (await repo.list()).filter((k) => k.retiredAt === null || k.retiredAt + retentionMs > now);
  const active = keys.filter((k) => k.retiredAt === null);
  const retired = keys.filter((k) => k.retiredAt !== null);
  return {
    jwks: [...active, ...retired].filter((k) => SIGNING_ALGS.has(k.alg)).map((k) => k.privateJwk as JWK),
    cookieKeys: [...active, ...retired].filter((k) => k.alg === COOKIE_ALG).map((k) => String(k.privateJwk.k)),
  };
}

/**
 * Adds a fresh key for every algorithm that has an active one (and for the cookie secret) and
 * retires the old ones. Returns the new key ids.
 */
export async function rotateKeys(repo: SigningKeyRepository, clock: Clock): Promise<string[]> {
  const active = (await repo.list()).filter((k) => k.retiredAt === null && isOwn(k));
  const algs = new Set(active.map((k) => k.alg));
  if (!algs.has('RS256')) algs.add('RS256');
  algs.add(COOKIE_ALG);
  const added: string[] = [];
  for (const alg of algs) {
    const key = await generateKey(alg as SigningAlg | typeof COOKIE_ALG, clock);
    await repo.add(key);
    added.push(key.kid);
    for (const old of active) if (old.alg === alg) await repo.retire(old.kid);
  }
  return added;
}

async function generateKey(alg: SigningAlg | typeof COOKIE_ALG, clock: Clock): Promise<SigningKey> {
  if (alg === COOKIE_ALG) {
    const k = randomBytes(32).toString('base64url');
    return { kid: `cookie-${randomBytes(8).toString('hex')}`, alg, privateJwk: { kty: 'oct', k }, createdAt: clock.now(), retiredAt: null };
  }
  // RSA 2048: what every relying party accepts, and verification is cheap (see the figures).
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, alg, privateJwk: { ...jwk, kid, alg, use: 'sig' }, createdAt: clock.now(), retiredAt: null };
}
