/**
 * Adapters for node:http, Express, Fastify and Hono. Structural types only: this package depends
 * on none of those frameworks, and each adapter is the same three steps: verify the Bearer
 * token, check the required scopes and groups, then hand the claims on or answer 401/403 with
 * the RFC 6750 challenge and a small JSON body.
 */
import { bearerToken } from './bearer.ts';
import type { VerifiedClaims } from './claims.ts';
import { isScopeToken, VerifyError } from './errors.ts';
import { requireGroup, requireScope } from './require.ts';
import type { RequestWithHeaders, Verifier } from './verifier.ts';

export interface AuthOptions {
  /** The token must grant every one of these scopes (else 403 insufficient_scope). */
  scopes?: readonly string[];
  /** The token's groups must include at least one of these (else 403). */
  groups?: readonly string[];
}

type Authorize = (claims: VerifiedClaims) => void;

function compileAuthorize(options: AuthOptions): Authorize {
  const scopes = [...(options.scopes ?? [])];
  const groups = [...(options.groups ?? [])];
  for (const scope of scopes) {
    if (!isScopeToken(scope)) throw new TypeError(`${JSON.stringify(scope)} is not a valid scope name`);
  }
  if (scopes.length === 0 && groups.length === 0) return () => {};
  return (claims) => {
    if (scopes.length > 0) requireScope(claims, ...scopes);
    if (groups.length > 0) requireGroup(claims, ...groups);
  };
}

/** The headers of an error answer (WWW-Authenticate only for 401 and 403). */
export function errorHeaders(error: VerifyError, realm: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  const challenge = error.wwwAuthenticate(realm);
  if (challenge !== undefined) headers['www-authenticate'] = challenge;
  if (error.status === 503) headers['retry-after'] = '5';
  return headers;
}

/** The parts of node's ServerResponse the adapters use (Express's Response is one). */
export interface NodeLikeResponse {
  readonly headersSent: boolean;
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/** A request the node/Express adapter sets `auth` on. */
export interface NodeLikeRequest extends RequestWithHeaders {
  auth?: VerifiedClaims;
}

/** Answers a VerifyError on a node:http (or Express) response: status, challenge, JSON body. */
export function sendVerifyError(res: NodeLikeResponse, error: VerifyError, realm: string): void {
  if (res.headersSent) return;
  res.statusCode = error.status;
  for (const [name, value] of Object.entries(errorHeaders(error, realm))) res.setHeader(name, value);
  res.end(JSON.stringify(error.body()));
}

/**
 * A `(req, res, next)` middleware for node:http-style stacks and Express (4 and 5): on success
 * sets `req.auth` to the claims and calls `next()`; on a VerifyError answers it; any other error
 * goes to `next(error)`.
 */
export function nodeMiddleware(
  verifier: Verifier,
  options: AuthOptions = {},
): (req: NodeLikeRequest, res: NodeLikeResponse, next: (error?: unknown) => void) => Promise<void> {
  const authorize = compileAuthorize(options);
  return async function portcullisAuth(req, res, next) {
    let claims: VerifiedClaims;
    try {
      claims = await verifier.verifyRequest(req);
      authorize(claims);
    } catch (error) {
      if (error instanceof VerifyError) sendVerifyError(res, error, verifier.realm);
      else next(error);
      return;
    }
    req.auth = claims;
    next();
  };
}

/** Express middleware: the node one (Express's req/res are node's). Sets `req.auth`. */
export const expressMiddleware = nodeMiddleware;

/** The parts of a Fastify request the hook uses. */
export interface FastifyLikeRequest extends RequestWithHeaders {
  auth?: VerifiedClaims | null;
}

/** The parts of a Fastify reply the hook uses. */
export interface FastifyLikeReply {
  code(statusCode: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(payload?: unknown): FastifyLikeReply;
}

/**
 * A Fastify `preHandler` hook: sets `request.auth` (declare it with
 * `fastify.decorateRequest('auth', null)`), or sends the 401/403 and ends the request.
 */
export function fastifyPreHandler(
  verifier: Verifier,
  options: AuthOptions = {},
): (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<FastifyLikeReply | undefined> {
  const authorize = compileAuthorize(options);
  return async function portcullisAuth(request, reply) {
    try {
      const claims = await verifier.verifyRequest(request);
      authorize(claims);
      request.auth = claims;
      return undefined;
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      reply.code(error.status);
      for (const [name, value] of Object.entries(errorHeaders(error, verifier.realm))) reply.header(name, value);
      // Fastify: an async hook that has sent a reply returns it, so the route does not run.
      return reply.send(error.body());
    }
  };
}

/** The parts of a Hono context the middleware uses. */
export interface HonoLikeContext {
  readonly req: { header(name: string): string | undefined };
  set(key: 'auth', value: VerifiedClaims): void;
}

/**
 * A Hono middleware: `c.set('auth', claims)` then `next()`, or a 401/403 Response. Declare the
 * variable for TypeScript: `declare module 'hono' { interface ContextVariableMap { auth: VerifiedClaims } }`.
 */
export function honoMiddleware(
  verifier: Verifier,
  options: AuthOptions = {},
): (c: HonoLikeContext, next: () => Promise<void>) => Promise<Response | undefined> {
  const authorize = compileAuthorize(options);
  return async function portcullisAuth(c, next) {
    let claims: VerifiedClaims;
    try {
      claims = await verifier.verify(bearerToken(c.req.header('authorization')));
      authorize(claims);
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      return new Response(JSON.stringify(error.body()), { status: error.status, headers: errorHeaders(error, verifier.realm) });
    }
    c.set('auth', claims);
    await next();
    return undefined;
  };
}
