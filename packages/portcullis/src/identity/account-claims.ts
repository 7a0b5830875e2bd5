/**
 * What tokens and userinfo say about a user: the standard claims of the scopes `openid
 * profile email groups`, plus custom claims read from user attributes (config `claim`). Only
 * these go into tokens: never password hashes, never attributes nobody mapped.
 */
import type { CustomClaim } from '../config/types.ts';
import type { GroupRepository, User, UserRepository } from '../store/index.ts';

/** Claims released per scope, in oidc-provider's `claims` option shape. */
export function claimsByScope(custom: CustomClaim[]): Record<string, string[]> {
  const scopes: Record<string, string[]> = {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'updated_at'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  };
  for (const c of custom) (scopes[c.scope] ??= []).push(c.claim);
  return scopes;
}

export interface AccountSource {
  /** The account for a subject, or undefined when it is gone or disabled (its tokens stop working). */
  find(sub: string): Promise<{ user: User; groups: string[] } | undefined>;
}

export function createAccountSource(users: UserRepository, groups: GroupRepository): AccountSource {
  return {
    async find(sub) {
      const user = await users.byId(sub);
      if (user === null || user.disabled) return undefined;
      return { user, groups: await groups.groupsOf(user.id) };
    },
  };
}

/** Every claim the user has; oidc-provider filters them by the granted scopes and claims. */
export function claimsOf(user: User, groups: string[], custom: CustomClaim[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: user.id,
    preferred_username: user.username,
    name: user.displayName ?? user.username,
    updated_at: Math.floor(user.updatedAt / 1000),
    groups,
  };
  if (user.email !== null) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified;
  }
  for (const c of custom) {
    const value = user.attributes[c.attribute];
    if (value !== undefined && value !== null) claims[c.claim] = value;
  }
  return claims;
}
