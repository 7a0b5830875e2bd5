/**
 * The key that signs the guard's challenges and clearances (challenge.ts), kept in the store's
 * `signing_keys` table beside the identity provider's keys, so a restart keeps clearances valid
 * and every process sharing the store accepts the others' clearances.
 *
 * It is one row with a fixed key id: the table's primary key is what makes two processes that
 * start together end with one secret (the second insert conflicts; that process reads the
 * first one's). Its alg `guard-challenge` is no JWS algorithm: identity's JWKS and
 * `portcullis keys rotate` take only the signing algorithms, so the row is never published
 * and never rotated into an asymmetric key.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { SigningKey, SigningKeyRepository } from '../store/index.ts';

export const CHALLENGE_SECRET_KID = 'guard-challenge';
export const CHALLENGE_SECRET_ALG = 'guard-challenge';
const SECRET_BYTES = 32;

/**
 * The stored challenge secret, created (32 random bytes) when the store has none. Throws a
 * PortcullisError when the store cannot be read or holds a malformed row: a random secret in
 * its place would quietly split the nodes sharing the store and forget clearances on restart.
 */
export async function loadChallengeSecret(keys: SigningKeyRepository, clock: Clock): Promise<Buffer> {
  try {
    const stored = decode(await find(keys));
    if (stored !== null) return stored;
    try {
      await keys.add(newSecret(clock));
    } catch (error) {
      // Another process sharing the store added its secret first: that one is everyone's.
      if (!(error instanceof PortcullisError && error.code === ErrorCodes.ERR_STORE_CONFLICT)) throw error;
    }
    const added = decode(await find(keys));
    if (added === null) throw new PortcullisError(ErrorCodes.ERR_STORE, 'the secret was added but cannot be read back');
    return added;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new PortcullisError(error instanceof PortcullisError ? error.code : ErrorCodes.ERR_STORE, `guard: cannot load the challenge secret from the database: ${detail}`, { cause: error });
  }
}

async function find(keys: SigningKeyRepository): Promise<SigningKey | null> {
  return (await keys.list()).find((k) => k.kid === CHALLENGE_SECRET_KID) ?? null;
}

/** The secret of a stored row; null when there is none; throws when the row is not one of ours. */
function decode(key: SigningKey | null): Buffer | null {
  if (key === null) return null;
  const k = key.privateJwk.k;
  const secret = typeof k === 'string' && /^[\w-]+$/.test(k) ? Buffer.from(k, 'base64url') : null;
  if (key.alg !== CHALLENGE_SECRET_ALG || secret === null || secret.length !== SECRET_BYTES) {
    throw new PortcullisError(ErrorCodes.ERR_STORE, `the signing_keys row ${CHALLENGE_SECRET_KID} is not a ${SECRET_BYTES}-byte ${CHALLENGE_SECRET_ALG} secret; delete it to have a new one made`);
  }
  return secret;
}

function newSecret(clock: Clock): SigningKey {
  return {
    kid: CHALLENGE_SECRET_KID,
    alg: CHALLENGE_SECRET_ALG,
    privateJwk: { kty: 'oct', k: randomBytes(SECRET_BYTES).toString('base64url') },
    createdAt: clock.now(),
    retiredAt: null,
  };
}
