/**
 * The verifier: checks a JWT from Portcullis (or any OpenID provider) locally, with the keys
 * its JWKS publishes. Discovery is fetched once; jose's remote JWKS keeps the keys and refetches
 * them on an unknown `kid` at most once per cooldown; tokens already verified are answered from
 * a bounded cache until they expire. Nothing here calls the issuer per request.
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTVerifyGetKey, type RemoteJWKSet } from 'jose';
import { bearerToken } from './bearer.ts';
import { toClaims, type VerifiedClaims } from './claims.ts';
import { discover, type FetchLike } from './discovery.ts';
import { isQuotable, VerifyError, VerifyErrorCodes } from './errors.ts';
import { createTokenCache } from './token-cache.ts';

/**
 * The algorithms a verifier may accept: asymmetric signatures only. HS* would let anyone who
 * holds the public key forge tokens once a key is used as an HMAC secret (the RS256/HS256
 * confusion, CVE-2015-9235 and kin); `none` is no signature at all.
 */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

/** What Portcullis signs with: RS256 by default, ES256 or EdDSA per client. */
export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'ES256', 'EdDSA']);

/** Bigger than any token Portcullis issues by far; stops hashing and parsing megabytes. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** After a failed discovery, requests fail fast for this long instead of each calling the issuer. */
const DISCOVERY_RETRY_MS = 5_000;

export interface VerifierOptions {
  /** The issuer URL, exactly as the provider's discovery names it (`https://auth.example.com`). */
  issuer: string;
  /**
   * The audience this app accepts: the issuer URL for Portcullis access tokens (RFC 9068), the
   * client id for ID tokens. A list accepts any of them.
   */
  audience: string | readonly string[];
  /** Accepted `alg` values. Default RS256, ES256, EdDSA. Asymmetric only: HS* and `none` are refused. */
  algorithms?: readonly string[];
  /** Seconds of clock skew allowed on `exp` and `nbf`. Default 30. */
  clockTolerance?: number;
  /** Required `typ` header, e.g. `at+jwt` for access tokens (RFC 9068 section 4). Default: not checked. */
  typ?: string;
  /** Least time between two JWKS fetches caused by unknown `kid`s. Default 30 000 ms. */
  jwksCooldownMs?: number;
  /** How long fetched keys are used before they are fetched again. Default 600 000 ms. */
  jwksCacheMaxAgeMs?: number;
  /** Timeout of the discovery and JWKS requests. Default 5 000 ms. */
  timeoutMs?: number;
  /** Verified tokens remembered until their `exp`. Default 10 000; 0 turns the cache off. */
  cacheSize?: number;
  /** `realm` of the WWW-Authenticate challenges the middleware sends. Default `api`. */
  realm?: string;
  /** fetch for discovery and the JWKS. Default the global fetch. */
  fetch?: FetchLike;
  /** The clock, in milliseconds since the epoch, for `exp`/`nbf` and the cache. Default Date.now. */
  now?: () => number;
}

/** Anything with node:http-style headers: node's IncomingMessage, Express, Fastify requests. */
export interface RequestWithHeaders {
  readonly headers: { readonly authorization?: string | readonly string[] | undefined };
}

export interface Verifier {
  readonly issuer: string;
  readonly realm: string;
  /** Fetches discovery and the JWKS now (else the first verify does): to fail fast at start-up. */
  ready(): Promise<void>;
  /** Verifies a token; resolves to its claims or rejects with a VerifyError. */
  verify(token: string): Promise<VerifiedClaims>;
  /** Verifies the Bearer token of a request's Authorization header. */
  verifyRequest(req: RequestWithHeaders): Promise<VerifiedClaims>;
}

function optionError(message: string): TypeError {
  return new TypeError(`createVerifier: ${message}`);
}

function checkIssuer(issuer: unknown): string {
  if (typeof issuer !== 'string' || !URL.canParse(issuer)) throw optionError('issuer must be an absolute URL');
  const url = new URL(issuer);
  // OpenID Connect Core section 2: the issuer is an https URL with no query or fragment.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw optionError(`issuer must be an http(s) URL, not ${url.protocol}`);
  if (url.search !== '' || url.hash !== '' || issuer.includes('?') || issuer.includes('#')) throw optionError('issuer must have no query or fragment');
  return issuer;
}

function checkAlgorithms(algorithms: readonly string[] | undefined): string[] {
  if (algorithms === undefined) return [...DEFAULT_ALGORITHMS];
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw optionError('algorithms must be a non-empty list');
  for (const alg of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw optionError(`algorithm ${JSON.stringify(alg)} is not accepted: only asymmetric signatures (${ASYMMETRIC_ALGORITHMS.join(', ')})`);
    }
  }
  return [...algorithms];
}

function checkDuration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw optionError(`${name} must be a finite number >= 0`);
  return value;
}

/** jose errors of fetching or parsing the key set, as opposed to errors about the token. */
function isKeySetUnavailable(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true; // fetch's TypeError, AbortError...
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC';
}

/** One VerifyError for whatever jose threw: the code says what the app may tell the caller. */
function fromJose(error: unknown): VerifyError {
  if (error instanceof VerifyError) return error;
  const why = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.JWTExpired) return new VerifyError(VerifyErrorCodes.EXPIRED, `token rejected: ${why}`, { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new VerifyError(VerifyErrorCodes.AUDIENCE, `token rejected: ${why}`, { cause: error });
    if (error.claim === 'iss') return new VerifyError(VerifyErrorCodes.ISSUER, `token rejected: ${why}`, { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new VerifyError(VerifyErrorCodes.ALGORITHM, `token rejected: ${why}`, { cause: error });
  }
  // Anything else, including what we did not foresee, fails closed.
  return new VerifyError(VerifyErrorCodes.INVALID_TOKEN, `token rejected: ${why}`, { cause: error });
}

/**
 * Creates a verifier. Checks the options now (a TypeError for a bad one, e.g. an HS256 or
 * `none` algorithm); fetches nothing until `ready()` or the first `verify()`.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = checkIssuer(options.issuer);
  const audiences = typeof options.audience === 'string' ? [options.audience] : Array.isArray(options.audience) ? [...options.audience] : [];
  if (audiences.length === 0 || audiences.some((aud) => typeof aud !== 'string' || aud === '')) {
    throw optionError('audience must be a non-empty string or list of them');
  }
  const algorithms = checkAlgorithms(options.algorithms);
  const clockTolerance = checkDuration('clockTolerance', options.clockTolerance, 30);
  if (options.typ !== undefined && (typeof options.typ !== 'string' || options.typ === '')) throw optionError('typ must be a non-empty string');
  const typ = options.typ;
  const cooldownDuration = checkDuration('jwksCooldownMs', options.jwksCooldownMs, 30_000);
  const cacheMaxAge = checkDuration('jwksCacheMaxAgeMs', options.jwksCacheMaxAgeMs, 600_000);
  const timeoutMs = Math.round(checkDuration('timeoutMs', options.timeoutMs, 5_000));
  const cacheSize = checkDuration('cacheSize', options.cacheSize, 10_000);
  if (!Number.isInteger(cacheSize)) throw optionError('cacheSize must be an integer');
  const realm = options.realm ?? 'api';
  if (typeof realm !== 'string' || !isQuotable(realm)) throw optionError('realm must be printable ASCII without " or \\');
  const fetchImpl: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const now = options.now ?? Date.now;
  const cache = createTokenCache(cacheSize);
  const useCache = cacheSize > 0;
  // ID tokens and RFC 9068 access tokens both carry these; a token without `exp` would be
  // valid forever, so it is refused rather than accepted.
  const requiredClaims = ['iss', 'aud', 'sub', 'exp', 'iat'];

  let remote: RemoteJWKSet | undefined;
  let getKey: JWTVerifyGetKey | undefined;
  let pending: Promise<JWTVerifyGetKey> | undefined;
  let failed: { error: VerifyError; atMs: number } | undefined;

  function startKeys(jwksUri: URL): JWTVerifyGetKey {
    const keySet = createRemoteJWKSet(jwksUri, {
      cooldownDuration,
      cacheMaxAge,
      timeoutDuration: timeoutMs,
      [customFetch]: fetchImpl,
    });
    remote = keySet;
    return async (header, token) => {
      try {
        return await keySet(header, token);
      } catch (error) {
        if (!isKeySetUnavailable(error)) throw error;
        const why = error instanceof Error ? error.message : String(error);
        throw new VerifyError(VerifyErrorCodes.DISCOVERY, `JWKS ${jwksUri.href} unavailable: ${why}`, { cause: error });
      }
    };
  }

  function keys(): Promise<JWTVerifyGetKey> {
    if (getKey !== undefined) return Promise.resolve(getKey);
    if (pending !== undefined) return pending;
    if (failed !== undefined && now() - failed.atMs < DISCOVERY_RETRY_MS) return Promise.reject(failed.error);
    const attempt = discover(issuer, fetchImpl, timeoutMs).then(
      (found) => {
        failed = undefined;
        getKey = startKeys(found.jwksUri);
        return getKey;
      },
      (error: unknown) => {
        const verifyError = error instanceof VerifyError ? error : new VerifyError(VerifyErrorCodes.DISCOVERY, String(error), { cause: error });
        failed = { error: verifyError, atMs: now() };
        throw verifyError;
      },
    );
    pending = attempt;
    const clear = (): void => {
      if (pending === attempt) pending = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async function verify(token: string): Promise<VerifiedClaims> {
    if (typeof token !== 'string' || token === '') throw new VerifyError(VerifyErrorCodes.MISSING_TOKEN, 'no token');
    if (token.length > MAX_TOKEN_LENGTH) throw new VerifyError(VerifyErrorCodes.INVALID_TOKEN, `token longer than ${MAX_TOKEN_LENGTH} characters`);
    const nowMs = now();
    const cacheKey = useCache ? cache.key(token) : '';
    if (useCache) {
      const hit = cache.get(cacheKey, nowMs);
      if (hit !== undefined) return hit;
    }
    const resolveKey = getKey ?? (await keys());
    let claims: VerifiedClaims;
    try {
      const { payload } = await jwtVerify(token, resolveKey, {
        issuer,
        audience: audiences,
        algorithms,
        clockTolerance,
        typ,
        requiredClaims,
        currentDate: new Date(nowMs),
      });
      claims = toClaims(payload);
    } catch (error) {
      throw fromJose(error);
    }
    if (useCache) cache.set(cacheKey, claims, nowMs);
    return claims;
  }

  return {
    issuer,
    realm,
    async ready() {
      await keys();
      const keySet = remote;
      if (keySet === undefined || keySet.jwks() !== undefined) return;
      try {
        await keySet.reload();
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        throw new VerifyError(VerifyErrorCodes.DISCOVERY, `JWKS unavailable: ${why}`, { cause: error });
      }
    },
    verify,
    async verifyRequest(req) {
      return verify(bearerToken(req.headers.authorization));
    },
  };
}
