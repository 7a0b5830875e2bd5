/**
 * Sign-in sessions for sites behind `authenticate` and the forward-auth endpoint: one cookie on
 * the configured cookie domain (so one sign-in covers every site under it), naming a session
 * kept in the store (so sign-out ends it everywhere, and restarts keep it). A session is only
 * a random id in the cookie; who it belongs to lives in the database.
 */
import { randomBytes } from 'node:crypto';
import type { SignedInUser } from '../kernel/auth-policy.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Store } from '../store/index.ts';
import { readCookie, serializeCookie } from '../kernel/cookies.ts';

const MODEL = 'EdgeSession';
/**
 * How long a looked-up session is trusted without asking the store again: requests behind
 * `authenticate` then cost a map lookup. A sign-out on this node takes effect at once; a user
 * disabled or given a new password with the CLI, or a sign-out on another node, within this time.
 */
const CACHE_MS = 10_000;
const MAX_CACHED = 50_000;

export interface EdgeSessions {
  /** The cookie's name; never sent upstream. */
  readonly cookieName: string;
  /** The signed-in user for a Cookie header, or null. */
  identify(cookieHeader: string | undefined): Promise<SignedInUser | null>;
  /** Starts a session for an account; returns the Set-Cookie value. */
  create(accountId: string): Promise<string>;
  /** Ends the session named in a Cookie header (if any); returns the Set-Cookie value that clears the cookie. */
  destroy(cookieHeader: string | undefined): Promise<string>;
}

export interface EdgeSessionOptions {
  store: Store;
  clock: Clock;
  /** The identity block's cookie name (prefix). */
  cookiePrefix: string;
  /** Cookie domain (`example.com`), or null: host-only on the issuer's host. */
  domain: string | null;
  secure: boolean;
  ttlMs: number;
}

export function createEdgeSessions(options: EdgeSessionOptions): EdgeSessions {
  const { store, clock, domain, secure, ttlMs } = options;
  // __Secure-: a browser refuses the cookie unless it came over https with Secure, so a
  // plain-http page on a sibling subdomain cannot plant one (session fixation).
  const cookieName = `${secure ? '__Secure-' : ''}${options.cookiePrefix}.sso`;
  const cache = new Map<string, { user: SignedInUser | null; until: number }>();

  async function lookup(id: string): Promise<SignedInUser | null> {
    const session = await store.artifacts.find(MODEL, id);
    if (session === null || typeof session.accountId !== 'string') return null;
    const user = await store.users.byId(session.accountId);
    if (user === null || user.disabled) return null;
    // Started before the account's sessions were voided (a password change): over.
    if (typeof session.createdAt !== 'number' || session.createdAt < user.sessionsValidFrom) return null;
    return {
      id: user.id,
      username: user.username,
      email: user.email,
      name: user.displayName ?? user.username,
      groups: await store.groups.groupsOf(user.id),
    };
  }

  return {
    cookieName,
    async identify(cookieHeader) {
      const id = readCookie(cookieHeader, cookieName);
      // 43 base64url characters = 32 random bytes; anything else is not ours.
      if (id === null || !/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
      const now = clock.now();
      const hit = cache.get(id);
      if (hit !== undefined && hit.until > now) return hit.user;
      const user = await lookup(id);
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(id, { user, until: now + CACHE_MS });
      return user;
    },
    async create(accountId) {
      const id = randomBytes(32).toString('base64url');
      await store.artifacts.upsert(MODEL, id, { accountId, createdAt: clock.now() }, clock.now() + ttlMs, null);
      return serializeCookie(cookieName, id, { domain, secure, maxAge: Math.floor(ttlMs / 1000) });
    },
    async destroy(cookieHeader) {
      const id = readCookie(cookieHeader, cookieName);
      if (id !== null) {
        cache.delete(id);
        await store.artifacts.destroy(MODEL, id);
      }
      return serializeCookie(cookieName, '', { domain, secure, maxAge: 0 });
    },
  };
}
