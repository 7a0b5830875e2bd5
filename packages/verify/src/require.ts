/**
 * Authorization checks on verified claims: a valid token that lacks the rights is a 403
 * (RFC 6750 section 3.1 insufficient_scope), not a 401.
 */
import type { VerifiedClaims } from './claims.ts';
import { isScopeToken, VerifyError, VerifyErrorCodes } from './errors.ts';

/**
 * Throws ERR_VERIFY_FORBIDDEN (403) unless the token grants every one of `scopes`. The 403
 * challenge names them in `scope=` so the client knows what to ask for.
 */
export function requireScope(claims: VerifiedClaims, ...scopes: string[]): void {
  for (const scope of scopes) {
    // The names go into the challenge header: a bad one is a bug in the app, caught early.
    if (!isScopeToken(scope)) throw new TypeError(`requireScope: ${JSON.stringify(scope)} is not a valid scope name`);
  }
  const missing = scopes.filter((scope) => !claims.scopes.includes(scope));
  if (missing.length > 0) {
    throw new VerifyError(VerifyErrorCodes.FORBIDDEN, `the token lacks the scope ${missing.join(' ')}`, { scope: scopes });
  }
}

/**
 * Throws ERR_VERIFY_FORBIDDEN (403) unless the token's `groups` include at least one of
 * `groups`. The challenge does not list the groups: group names are the app's business.
 */
export function requireGroup(claims: VerifiedClaims, ...groups: string[]): void {
  if (groups.length === 0) return;
  if (!groups.some((group) => claims.groups.includes(group))) {
    throw new VerifyError(VerifyErrorCodes.FORBIDDEN, `the token is in none of the groups ${groups.join(', ')}`);
  }
}
