/**
 * @portcullis/verify: verify Portcullis tokens locally from its JWKS. Discovery and the keys are
 * fetched once, verified tokens are cached until they expire: nothing here calls the issuer per
 * request.
 */
export const VERSION = '0.1.0';

export { createVerifier, ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS } from './verifier.ts';
export type { Verifier, VerifierOptions, RequestWithHeaders } from './verifier.ts';
export type { VerifiedClaims } from './claims.ts';
export type { FetchLike } from './discovery.ts';
export { VerifyError, VerifyErrorCodes } from './errors.ts';
export type { VerifyErrorBody, VerifyErrorCode } from './errors.ts';
export { bearerToken } from './bearer.ts';
export { requireGroup, requireScope } from './require.ts';
export { errorHeaders, expressMiddleware, fastifyPreHandler, honoMiddleware, nodeMiddleware, sendVerifyError } from './middleware.ts';
export type {
  AuthOptions,
  FastifyLikeReply,
  FastifyLikeRequest,
  HonoLikeContext,
  NodeLikeRequest,
  NodeLikeResponse,
} from './middleware.ts';
