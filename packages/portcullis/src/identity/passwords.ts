/**
 * Password hashing: argon2id (RFC 9106) through Node's built-in `crypto.argon2`, stored as PHC
 * strings (`$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`, base64 without padding)
 * so hashes from argon2-cffi, libsodium, Authelia or Keycloak verify here unchanged.
 */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';

export interface Argon2Params {
  /** Memory in KiB. */
  m: number;
  /** Passes (iterations). */
  t: number;
  /** Lanes. */
  p: number;
}

/**
 * The cost new hashes get. OWASP's Password Storage Cheat Sheet lists five equivalent argon2id
 * minimums (m=47104 t=1, 19456/2, 12288/3, 9216/4, 7168/5, all p=1). Measured on one core of
 * the build machine (Node 24.21, async, 32-byte tag): 47104/1 ~60 ms, 19456/2 ~27 ms,
 * 12288/3 ~23 ms, 9216/4 ~21 ms, 7168/5 ~20 ms. The issue asks for at least 30 complete
 * password logins per second per core, and a login also parses, looks up, and writes a session,
 * so the fastest of the equivalent settings is the one that leaves room: 7168 KiB x 5 passes
 * (also Keycloak's default).
 */
export const CURRENT_PARAMS: Readonly<Argon2Params> = Object.freeze({ m: 7168, t: 5, p: 1 });

const SALT_BYTES = 16;
const TAG_BYTES = 32;

/** Longer passwords are refused: hashing megabytes per request is a cheap DoS (CVE-2013-1443 in Django). */
export const MAX_PASSWORD_BYTES = 1024;

/**
 * Ceilings on the cost read from a stored hash. A tampered row or a hostile import must not make
 * each verify allocate gigabytes or spin for seconds. They still admit the common defaults of
 * other systems (argon2-cffi / Authelia: m=65536 t=3 p=4).
 */
const MAX_STORED: Readonly<Argon2Params> = Object.freeze({ m: 65536, t: 16, p: 16 });
const MAX_STORED_TAG = 64;
const MAX_STORED_SALT = 64;

interface ParsedHash {
  params: Argon2Params;
  salt: Buffer;
  hash: Buffer;
}

// Strict: one shape only, decimal without leading zeros, unpadded standard base64.
const PHC = /^\$argon2id\$v=19\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,9})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{6,})$/;

/** Hashes a new password with the current parameters and a fresh 16-byte salt. */
export async function hashPassword(password: string): Promise<string> {
  const message = passwordBytes(password);
  if (message === null) {
    throw new PortcullisError(
      ErrorCodes.ERR_HTTP_BAD_REQUEST,
      password === '' ? 'the password must not be empty' : `the password must be at most ${MAX_PASSWORD_BYTES} bytes of UTF-8`,
      { status: 400 },
    );
  }
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(message, salt, CURRENT_PARAMS, TAG_BYTES);
  return formatPhc(CURRENT_PARAMS, salt, hash);
}

/**
 * True when `password` matches the PHC string. Never throws: a malformed or out-of-bounds stored
 * string, or an empty or oversized password, is simply false.
 */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  const parsed = parsePhc(phc);
  const message = passwordBytes(password);
  if (parsed === null || message === null) return false;
  try {
    const computed = await derive(message, parsed.salt, parsed.params, parsed.hash.length);
    return computed.length === parsed.hash.length && timingSafeEqual(computed, parsed.hash);
  } catch {
    return false;
  }
}

/** A verify that always fails and costs what a real one at the current parameters costs. */
export type DummyVerify = (password: string) => Promise<false>;

/**
 * Spends the time of one verify for a login that matched no usable account, so that response
 * time does not tell an attacker which logins exist (OWASP Authentication Cheat Sheet,
 * "Authentication Responses").
 */
export async function dummyVerify(password: string): Promise<false> {
  const message = passwordBytes(password);
  // A real verify also returns at once for these, before any hashing.
  if (message === null) return false;
  try {
    await derive(message, DUMMY_SALT, CURRENT_PARAMS, TAG_BYTES);
  } catch {
    // the outcome is false either way
  }
  return false;
}

// Fixed per process: only the cost matters, the output is thrown away.
const DUMMY_SALT = randomBytes(SALT_BYTES);

/**
 * True when the stored hash was made with other parameters than new hashes get (memory,
 * passes, lanes), with a shorter salt or tag, or is not one this module can verify: a
 * successful login then stores a fresh hash. Stronger ones too (argon2-cffi's 64 MiB x 3, say):
 * an unknown login costs a dummy check at the current parameters, so an account whose hash costs
 * more answers measurably slower (231 ms against 28 ms) and tells a guesser the login exists.
 * The current parameters are one of OWASP's recommended settings.
 */
export function needsRehash(phc: string): boolean {
  const parsed = parsePhc(phc);
  if (parsed === null) return true;
  const { params, salt, hash } = parsed;
  return (
    params.m !== CURRENT_PARAMS.m ||
    params.t !== CURRENT_PARAMS.t ||
    params.p !== CURRENT_PARAMS.p ||
    salt.length < SALT_BYTES ||
    hash.length < TAG_BYTES
  );
}

/** Reads a PHC argon2id string; null when malformed or when its cost is outside the bounds. */
function parsePhc(phc: string): ParsedHash | null {
  if (typeof phc !== 'string' || phc.length > 512) return null;
  const match = PHC.exec(phc);
  if (match === null) return null;
  const params: Argon2Params = { m: Number(match[1]), t: Number(match[2]), p: Number(match[3]) };
  if (params.m > MAX_STORED.m || params.t > MAX_STORED.t || params.p > MAX_STORED.p) return null;
  // RFC 9106 section 3.1: memory is at least 8 KiB per lane.
  if (params.m < 8 * params.p) return null;
  const salt = decodeBase64(match[4]!);
  const hash = decodeBase64(match[5]!);
  if (salt === null || hash === null) return null;
  if (salt.length < 8 || salt.length > MAX_STORED_SALT || hash.length < 4 || hash.length > MAX_STORED_TAG) return null;
  return { params, salt, hash };
}

function formatPhc(params: Argon2Params, salt: Buffer, hash: Buffer): string {
  return `$argon2id$v=19$m=${params.m},t=${params.t},p=${params.p}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/** The UTF-8 bytes of the password as given (no normalisation); null when empty or too long. */
function passwordBytes(password: string): Buffer | null {
  if (typeof password !== 'string' || password.length === 0) return null;
  // Every UTF-16 code unit becomes at least one UTF-8 byte: skip encoding a hostile megabyte string.
  if (password.length > MAX_PASSWORD_BYTES) return null;
  const bytes = Buffer.from(password, 'utf8');
  return bytes.length > MAX_PASSWORD_BYTES ? null : bytes;
}

function derive(message: Buffer, nonce: Buffer, params: Argon2Params, tagLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2('argon2id', { message, nonce, parallelism: params.p, memory: params.m, passes: params.t, tagLength }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

function encodeBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** Unpadded standard base64 to bytes; null when the text is not canonical (stray trailing bits). */
function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64');
  return encodeBase64(bytes) === text ? bytes : null;
}
