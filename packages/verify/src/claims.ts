/**
 * The typed view of a verified token. Built once per token and frozen, because the same object
 * is handed to every request that presents the token again (the cache): a handler that
 * mutated it would change what the next request sees.
 */
import type { JWTPayload } from 'jose';
import { VerifyError, VerifyErrorCodes } from './errors.ts';

/** The claims of a token that passed verification. Frozen: share it, do not edit it. */
export interface VerifiedClaims {
  /** The user id, or the client id for a `client_credentials` token. */
  readonly sub: string;
  readonly iss: string;
  /** Always a list, even when the token has a single string `aud`. */
  readonly aud: readonly string[];
  /** Seconds since the epoch. */
  readonly exp: number;
  /** Seconds since the epoch. */
  readonly iat: number;
  /** The `scope` claim as issued (space-separated), when present. */
  readonly scope?: string;
  /** `scope` split on spaces; empty when the token has none. */
  readonly scopes: readonly string[];
  /** The `groups` claim; empty when the token has none. */
  readonly groups: readonly string[];
  readonly client_id?: string;
  readonly email?: string;
  readonly preferred_username?: string;
  readonly name?: string;
  /** The whole payload, deep-frozen, for custom claims. */
  readonly raw: Readonly<JWTPayload>;
}

function invalid(message: string): VerifyError {
  return new VerifyError(VerifyErrorCodes.INVALID_TOKEN, message);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function optionalString(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Turns a payload jose has verified (signature, iss, aud, exp, nbf, required claims) into
 * VerifiedClaims. Claims the app will make decisions on must have the right type: a signed
 * token whose `scope` or `groups` is not what the issuer emits is refused rather than guessed
 * at (a number `scope` silently read as "no scopes" would hide an issuer bug).
 */
export function toClaims(payload: JWTPayload): VerifiedClaims {
  const { sub, iss, aud, exp, iat, scope, groups } = payload;
  if (typeof sub !== 'string' || sub === '') throw invalid('the token has no "sub" string');
  if (typeof iss !== 'string') throw invalid('the token has no "iss" string');
  if (typeof exp !== 'number' || typeof iat !== 'number') throw invalid('the token has no numeric "exp" and "iat"');
  const audience = typeof aud === 'string' ? [aud] : isStringArray(aud) ? aud.slice() : undefined;
  if (audience === undefined) throw invalid('the token has no "aud"');
  if (scope !== undefined && typeof scope !== 'string') throw invalid('the "scope" claim is not a string');
  if (groups !== undefined && !isStringArray(groups)) throw invalid('the "groups" claim is not a list of strings');
  const claims: {
    -readonly [K in keyof VerifiedClaims]: VerifiedClaims[K];
  } = {
    sub,
    iss,
    aud: Object.freeze(audience),
    exp,
    iat,
    // RFC 9068 section 2.2.3 / RFC 8693 section 4.2: scope is space-separated.
    scopes: Object.freeze(typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : []),
    groups: Object.freeze(groups === undefined ? [] : groups.slice()),
    raw: deepFreeze(payload),
  };
  if (scope !== undefined) claims.scope = scope;
  const clientId = optionalString(payload, 'client_id');
  if (clientId !== undefined) claims.client_id = clientId;
  const email = optionalString(payload, 'email');
  if (email !== undefined) claims.email = email;
  const username = optionalString(payload, 'preferred_username');
  if (username !== undefined) claims.preferred_username = username;
  const name = optionalString(payload, 'name');
  if (name !== undefined) claims.name = name;
  return Object.freeze(claims);
}
