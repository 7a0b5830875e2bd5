/**
 * The one error this package throws at verification time. Every failure carries a stable
 * `code`, the HTTP status an API should answer with, and the RFC 6750 challenge to send back.
 *
 * Two texts on purpose: `message` is for the app's logs (it may name the issuer, the claim, the
 * cause), `description` is what goes on the wire to an unauthenticated caller and is always one
 * of the fixed strings below, never built from the token.
 */

/** Every code `VerifyError` carries. Codes are never renamed or reused. */
export const VerifyErrorCodes = {
  /** No bearer token in the request (no Authorization header, or another scheme). */
  MISSING_TOKEN: 'ERR_VERIFY_MISSING_TOKEN',
  /** Malformed, badly signed, signed by an unknown key, not yet valid, wrong `typ`... */
  INVALID_TOKEN: 'ERR_VERIFY_INVALID_TOKEN',
  /** `exp` is in the past (beyond the clock tolerance). */
  EXPIRED: 'ERR_VERIFY_EXPIRED',
  /** `aud` does not name this API. */
  AUDIENCE: 'ERR_VERIFY_AUDIENCE',
  /** `iss` is not the configured issuer. */
  ISSUER: 'ERR_VERIFY_ISSUER',
  /** The token's `alg` is not one the verifier accepts. */
  ALGORITHM: 'ERR_VERIFY_ALGORITHM',
  /** Discovery or the JWKS could not be fetched or is wrong: the server's problem, not the caller's. */
  DISCOVERY: 'ERR_VERIFY_DISCOVERY',
  /** A valid token without the scope or group the resource needs. */
  FORBIDDEN: 'ERR_VERIFY_FORBIDDEN',
} as const;

export type VerifyErrorCode = (typeof VerifyErrorCodes)[keyof typeof VerifyErrorCodes];

/** The JSON body the middleware answers with. */
export interface VerifyErrorBody {
  error: string;
  error_description: string;
}

interface CodeInfo {
  status: 401 | 403 | 503;
  /** RFC 6750 section 3.1 error code for the challenge; undefined: no `error=` attribute. */
  challenge: 'invalid_token' | 'insufficient_scope' | undefined;
  /** `error` of the JSON body. */
  bodyError: string;
  description: string;
}

const INFO: Record<VerifyErrorCode, CodeInfo> = {
  // RFC 6750 section 3.1: a request without credentials gets a challenge with no error code.
  ERR_VERIFY_MISSING_TOKEN: { status: 401, challenge: undefined, bodyError: 'unauthorized', description: 'A bearer token is required' },
  ERR_VERIFY_INVALID_TOKEN: { status: 401, challenge: 'invalid_token', bodyError: 'invalid_token', description: 'The access token is invalid' },
  ERR_VERIFY_EXPIRED: { status: 401, challenge: 'invalid_token', bodyError: 'invalid_token', description: 'The access token expired' },
  ERR_VERIFY_AUDIENCE: { status: 401, challenge: 'invalid_token', bodyError: 'invalid_token', description: 'The access token is not meant for this resource' },
  ERR_VERIFY_ISSUER: { status: 401, challenge: 'invalid_token', bodyError: 'invalid_token', description: 'The access token is from another issuer' },
  ERR_VERIFY_ALGORITHM: { status: 401, challenge: 'invalid_token', bodyError: 'invalid_token', description: 'The access token is signed with an algorithm that is not accepted' },
  // Not the caller's fault: a 401 would make clients throw away good tokens.
  ERR_VERIFY_DISCOVERY: { status: 503, challenge: undefined, bodyError: 'temporarily_unavailable', description: 'The token signing keys are unavailable' },
  ERR_VERIFY_FORBIDDEN: { status: 403, challenge: 'insufficient_scope', bodyError: 'insufficient_scope', description: 'The access token does not grant access to this resource' },
};

/** RFC 6750 section 3: realm and error_description are quoted-strings without `"` or `\`. */
const QUOTABLE = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;
/** RFC 6750 section 3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** True when `value` may go inside a quoted-string of a challenge as it is. */
export function isQuotable(value: string): boolean {
  return QUOTABLE.test(value);
}

/** True when `value` is a valid RFC 6750 scope-token. */
export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

export interface VerifyErrorOptions {
  cause?: unknown;
  /** Scopes the resource needs, for the `scope=` attribute of a 403 challenge. */
  scope?: readonly string[];
}

/** A verification failure with a stable code, an HTTP status and an RFC 6750 challenge. */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode;
  /** 401 (no or bad token), 403 (good token, not enough rights) or 503 (keys unavailable). */
  readonly status: 401 | 403 | 503;
  /** Safe to show the caller: a fixed text per code. */
  readonly description: string;
  /** Scopes that would have been enough, on FORBIDDEN from `requireScope`. */
  readonly scope: readonly string[] | undefined;

  constructor(code: VerifyErrorCode, message: string, options: VerifyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VerifyError';
    const info = INFO[code];
    this.code = code;
    this.status = info.status;
    this.description = info.description;
    this.scope = options.scope === undefined ? undefined : Object.freeze(options.scope.filter(isScopeToken));
  }

  /**
   * The `WWW-Authenticate` value for this failure (RFC 6750 section 3), or undefined for
   * failures that are not the caller's (503). `realm` must be quotable (the verifier checks it).
   */
  wwwAuthenticate(realm: string): string | undefined {
    const info = INFO[this.code];
    if (info.status === 503) return undefined;
    const safeRealm = isQuotable(realm) ? realm : 'api';
    let value = `Bearer realm="${safeRealm}"`;
    if (info.challenge === undefined) return value;
    value += `, error="${info.challenge}", error_description="${info.description}"`;
    if (this.scope !== undefined && this.scope.length > 0) value += `, scope="${this.scope.join(' ')}"`;
    return value;
  }

  /** The small JSON body `{ error, error_description }` the middleware answers with. */
  body(): VerifyErrorBody {
    return { error: INFO[this.code].bodyError, error_description: this.description };
  }
}
