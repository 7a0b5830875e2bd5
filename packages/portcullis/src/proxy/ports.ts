/**
 * What the proxy needs from other modules, declared here so the proxy never imports them
 * (DESIGN.md: main.ts hands in objects that satisfy these).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { SecureContext } from 'node:tls';
import type { SignedInUser } from '../kernel/auth-policy.ts';

/**
 * The identity provider's HTTP surface (OpenID endpoints, login pages), served on sites with
 * `identity_provider`; implemented by the identity module.
 */
export interface IdentityEndpoint {
  /**
   * Answers one request. The proxy has already resolved the client's address (trusted proxies
   * only) and checked the Host header; the endpoint builds every URL from its issuer, never
   * from request headers.
   */
  handle(req: IncomingMessage, res: ServerResponse, request: { clientIp: string; remoteIp: string; id: string }): Promise<void>;
}

/**
 * The client's address from the peer's (plain: no zone, IPv4-mapped as IPv4) and the request
 * headers, believed only from trusted proxies (`trusted_proxies`); implemented by the guard
 * module. Runs once per request, before routing: it must be cheap and never throw.
 */
export type ClientIpResolver = (remoteIp: string, headers: IncomingHttpHeaders) => string;

/** Who is signed in, for `authenticate`; implemented by the identity module, answered in-process. */
export interface Authenticator {
  /**
   * The prefix of Portcullis's cookie names (`portcullis`: `portcullis.sso`,
   * `__Host-portcullis`, `portcullis.interaction`, ...): all are removed from requests before
   * they go upstream.
   */
  readonly cookiePrefix: string;
  /** The signed-in user named by the request's session cookie, or null. */
  identify(cookieHeader: string | undefined): Promise<SignedInUser | null>;
  /** The sign-in page for an anonymous browser, which comes back to `returnTo` afterwards. */
  signInUrl(returnTo: string): string;
  /** A short-lived JWT asserting the user to an upstream at `audience` (the site's origin). */
  assertion(user: SignedInUser, audience: string): Promise<string>;
}

/** Certificates for HTTPS listeners, by SNI name; implemented by the TLS module. */
export interface CertificateProvider {
  /**
   * The context for a server name the client sent (SNI, lower-cased). null: no certificate
   * for that name, and the handshake fails with an alert rather than show a wrong certificate.
   */
  contextFor(servername: string): SecureContext | null | Promise<SecureContext | null>;
  /**
   * For clients that send no SNI (URLs with an IP address): the context for the address the
   * connection arrived on, or the `default_sni` certificate; null fails the handshake.
   */
  contextForAddress(localAddress: string): SecureContext | null;
  /**
   * The client-certificate policy (`tls { client_auth }`) for a server name the client sent
   * (SNI, lower-cased; the same name lookup as contextFor), or null: never ask this name's
   * clients for a certificate (browsers would prompt on sites that do not use one).
   */
  clientAuthFor(servername: string): ClientAuthPolicy | null;
  /**
   * The client-certificate policy of a site, by the hosts its addresses name as written
   * (`*.corp.example` included), or null when it has none loaded. A request is checked against
   * the policy of the site it was routed to as well as its name's: the router also weighs the
   * listener and the address path, so a name can reach a site that is not that name's.
   */
  clientAuthOfSite(hosts: readonly string[]): ClientAuthPolicy | null;
  /** A name's `tls { protocols; ciphers }` (node:tls option spellings), or null for the defaults. */
  tlsSettingsFor(servername: string): { minVersion?: string; maxVersion?: string; ciphers?: string } | null;
  /** ACME HTTP-01: the key authorization for `/.well-known/acme-challenge/<token>`, or null. */
  httpChallenge(host: string, path: string): string | null;
  /** ACME TLS-ALPN-01 (RFC 8737): the challenge certificate for a handshake offering `acme-tls/1`, or null. */
  alpnChallengeContext(servername: string): SecureContext | null;
}

/**
 * How a handshake treats client certificates for one name. Every policy asks for a
 * certificate (TLS CertificateRequest); the trusted CAs live in that name's SecureContext.
 */
export interface ClientAuthPolicy {
  /** A client that sends no certificate fails the handshake (`require`, `require_and_verify`). */
  requireCertificate: boolean;
  /** A certificate that does not chain to the trusted CAs fails the handshake (`verify_if_given`, `require_and_verify`). */
  verifyCertificate: boolean;
  /**
   * Equal for names that share one policy (mode and CA set): a connection admitted for one of
   * them may carry requests for the others, one admitted under another id may not.
   */
  id: string;
}

/** The parts of a request the guard's gate reads (a RequestContext has them all). */
export interface GateRequest {
  readonly clientIp: string;
  readonly method: string;
  /** Decoded, normalised path (what matchers see). */
  readonly path: string;
  /** The path as the client sent it. */
  readonly rawPath: string;
  /** Query string without '?'. */
  readonly query: string;
  /**
   * The request target, path and query, as received (origin form): `rawPath` and `query` in one
   * string. The gate runs before any route, so no rewrite has changed either.
   */
  readonly originalUri: string;
  readonly host: string;
  /** The site serving the request (its addresses as written). */
  readonly siteName: string;
  readonly req: { readonly headers: IncomingHttpHeaders; readonly rawHeaders: readonly string[] };
}

/** What the gate decided: the request is answered with this status instead of its routes. */
export interface GateVerdict {
  /** 403 for bans and blocking rules, 429 for throttles. */
  status: number;
  /** For logs and metrics (`ban:<scenario>`, `rule:<id>`, `blocklist:<file>`); never shown to clients. */
  reason: string;
  /** Seconds, for a Retry-After header. */
  retryAfter?: number;
  /** A challenge (`challenge:<origin>`, `challenge:rule:<id>`): answered with the proof-of-work page, not an error. */
  challenge?: true;
}

/**
 * The guard's proof-of-work challenge (src/guard/challenge.ts): the page a challenged request
 * gets, and the two fixed paths (`/.portcullis/challenge.js`, `/.portcullis/challenge`) the
 * front door answers on every site before routing while the guard is on.
 */
export interface ChallengeResponder {
  /** Portcullis's clearance cookie: removed from requests before they go upstream. */
  readonly cookieName: string;
  /** Whether `rawPath` (no query) is one of the fixed challenge paths. */
  owns(rawPath: string): boolean;
  /** The challenge page for a challenged request. */
  page(verdict: GateVerdict, request: GateRequest): { status: number; headers: Record<string, string>; body: string };
  /** Answers a request on one of the fixed paths; never rejects. */
  handle(req: IncomingMessage, res: ServerResponse, request: { clientIp: string; secure: boolean }): Promise<void>;
}

/**
 * The guard's check of every request, after the client IP is resolved and the site is
 * chosen, before any route runs (bans, blocklists, request rules). Synchronous on purpose:
 * it is a table lookup on the hot path, never I/O. Implemented by the guard.
 */
export interface RequestGate {
  check(request: GateRequest): GateVerdict | null;
}

/** Rate-limit counters for the `rate_limit` directive; kept by the guard so they survive reloads. */
export interface RateLimiter {
  /**
   * Counts one event for `key` in `zone` under a limit of `events` per `windowMs` (with
   * `burst` extra); returns 0 when allowed, else the milliseconds until one would be.
   */
  take(zone: string, key: string, limit: { events: number; windowMs: number; burst: number }): number;
}
