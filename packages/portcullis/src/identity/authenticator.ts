/**
 * What the proxy's `authenticate` handler asks (its Authenticator port): who is signed in,
 * where to sign in, and a signed assertion of the user for upstreams that want one.
 */
import { createPrivateKey, randomUUID } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import type { SignedInUser } from '../kernel/auth-policy.ts';
import type { Clock } from '../kernel/clock.ts';
import type { EdgeSessions } from './edge-sessions.ts';

/** Assertions are read by the upstream right away; a minute covers clock skew, not replay later. */
const ASSERTION_TTL_S = 60;

export interface Authenticator {
  readonly cookiePrefix: string;
  identify(cookieHeader: string | undefined): Promise<SignedInUser | null>;
  signInUrl(returnTo: string): string;
  assertion(user: SignedInUser, audience: string): Promise<string>;
}

export function createAuthenticator(options: { edge: EdgeSessions; issuer: string; signingKey: JWK; clock: Clock; cookiePrefix: string }): Authenticator {
  const { edge, issuer, clock } = options;
  const key = createPrivateKey({ key: options.signingKey as never, format: 'jwk' });
  const kid = options.signingKey.kid;
  return {
    cookiePrefix: options.cookiePrefix,
    identify: (cookieHeader) => edge.identify(cookieHeader),
    signInUrl: (returnTo) => `${issuer}/login?rd=${encodeURIComponent(returnTo)}`,
    async assertion(user, audience) {
      const now = Math.floor(clock.now() / 1000);
      return new SignJWT({ preferred_username: user.username, email: user.email, name: user.name, groups: user.groups })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid !== undefined ? { kid } : {}) })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(user.id)
        .setIssuedAt(now)
        .setExpirationTime(now + ASSERTION_TTL_S)
        .setJti(randomUUID())
        .sign(key);
    },
  };
}
