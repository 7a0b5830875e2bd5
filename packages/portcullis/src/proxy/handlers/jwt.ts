/**
 * `jwt`: only requests with a valid `Authorization: Bearer` JWT go on, and only those whose
 * claims the `require` lines admit; chosen claims go upstream in headers. Verification is
 * @portcullis/verify's: discovery and the JWKS are fetched once, lazily on the first request
 * (a config load never waits on the network, and an issuer served by this same process is
 * listening by then), each new token's signature is checked locally, and verified tokens are
 * remembered until they expire. Client-sent copies of the claim headers (any spelling) are
 * removed by the site before any route runs (identity-headers.ts), on this route and every other.
 */
import { createVerifier, VerifyError, VerifyErrorCodes, type VerifiedClaims, type Verifier } from '@portcullis/verify';
import type { JwtHandler, JwtRequirement } from '../../config/types.ts';
import { headerValue } from '../../kernel/header-value.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';

/**
 * Verifiers of one config load, keyed by the settings that make one verifier differ from
 * another: the `jwt` lines of a load that share them share one discovery, one key set and one
 * token cache. Keyed by the load's HandlerDeps, so a reload starts afresh (new keys are
 * fetched) and an old load's verifiers go with it.
 */
const verifiersByLoad = new WeakMap<HandlerDeps, Map<string, Verifier>>();

function verifierFor(config: JwtHandler, deps: HandlerDeps): Verifier {
  let verifiers = verifiersByLoad.get(deps);
  if (verifiers === undefined) {
    verifiers = new Map();
    verifiersByLoad.set(deps, verifiers);
  }
  const key = JSON.stringify([config.issuer, config.audience, config.algorithms, config.leewayMs, config.typ]);
  let verifier = verifiers.get(key);
  if (verifier === undefined) {
    const clock = deps.clock;
    verifier = createVerifier({
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: config.leewayMs / 1000,
      ...(config.typ === null ? {} : { typ: config.typ }),
      now: () => clock.now(),
    });
    verifiers.set(key, verifier);
  }
  return verifier;
}

interface Check {
  holds(claims: VerifiedClaims): boolean;
  /** Thrown when it does not hold: a 403 (RFC 6750 §3.1 insufficient_scope). */
  refusal: VerifyError;
}

function compileRequirement(requirement: JwtRequirement, allScopes: readonly string[]): Check {
  const values = requirement.values;
  switch (requirement.kind) {
    case 'scope':
      return {
        holds: (claims) => values.every((scope) => claims.scopes.includes(scope)),
        // The challenge names every scope the route needs, so a client asks for them all at once.
        refusal: new VerifyError(VerifyErrorCodes.FORBIDDEN, `the token lacks one of the scopes ${values.join(' ')}`, { scope: allScopes }),
      };
    case 'group':
      return {
        holds: (claims) => values.some((group) => claims.groups.includes(group)),
        refusal: new VerifyError(VerifyErrorCodes.FORBIDDEN, `the token is in none of the groups ${values.join(', ')}`),
      };
    case 'claim': {
      const accepted = new Set(values);
      const name = requirement.claim;
      const matches = (value: unknown) => {
        const text = scalarText(value);
        return text !== null && accepted.has(text);
      };
      return {
        holds: (claims) => {
          // Own properties only: `raw` is parsed JSON, and a missing claim must not find Object.prototype's.
          if (!Object.hasOwn(claims.raw, name)) return false;
          const value = claims.raw[name];
          return Array.isArray(value) ? value.some(matches) : matches(value);
        },
        refusal: new VerifyError(VerifyErrorCodes.FORBIDDEN, `the claim ${name} is none of ${values.join(', ')}`),
      };
    }
  }
}

/** A string as it is, a number or boolean as its JSON text; null for anything else. */
function scalarText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** A claim as a header value: a scalar as text, a list of scalars joined with `,`; null (no header) otherwise. */
function claimText(value: unknown): string | null {
  if (!Array.isArray(value)) return scalarText(value);
  const parts: string[] = [];
  for (const item of value) {
    const text = scalarText(item);
    if (text === null) return null;
    parts.push(text);
  }
  return parts.join(',');
}

/**
 * The error a refused request becomes. 401 and 403 carry the RFC 6750 §3 challenge and a fixed
 * description (never text from the token); the verifier's detailed reason stays out of the
 * response. 503 when the issuer's keys cannot be had: not the client's fault, and a 401 would
 * make clients throw away good tokens.
 */
function refusal(error: VerifyError, ctx: RequestContext): PortcullisError {
  if (error.status === 503) {
    return new PortcullisError(ErrorCodes.ERR_HTTP_UNAVAILABLE, `jwt: ${error.message}`, { status: 503, headers: { 'Retry-After': '5' }, cause: error });
  }
  // wwwAuthenticate falls back to realm "api" when the site's name cannot be quoted.
  const headers = { 'WWW-Authenticate': error.wwwAuthenticate(ctx.siteName) ?? 'Bearer' };
  const code = error.status === 403 ? ErrorCodes.ERR_HTTP_FORBIDDEN : ErrorCodes.ERR_HTTP_UNAUTHORIZED;
  return new PortcullisError(code, error.description, { status: error.status, headers });
}

export function createJwt(config: JwtHandler, deps: HandlerDeps): Handler {
  const verifier = verifierFor(config, deps);
  const allScopes = config.require.flatMap((r) => (r.kind === 'scope' ? r.values : []));
  const checks = config.require.map((r) => compileRequirement(r, allScopes));
  const setters = config.claimHeaders.map(({ claim, header }) => ({ claim, name: header.toLowerCase() }));
  const stripAuthorization = config.stripAuthorization;

  return async (ctx, next) => {
    let claims: VerifiedClaims;
    try {
      claims = await verifier.verifyRequest(ctx.req);
    } catch (error) {
      throw error instanceof VerifyError ? refusal(error, ctx) : error;
    }
    for (const check of checks) if (!check.holds(claims)) throw refusal(check.refusal, ctx);
    const headers = ctx.req.headers;
    const raw = claims.raw;
    for (const { claim, name } of setters) {
      const text = Object.hasOwn(raw, claim) ? claimText(raw[claim]) : null;
      if (text !== null) headers[name] = headerValue(text);
    }
    if (stripAuthorization) delete headers.authorization;
    return next();
  };
}
