/**
 * Signing in with a password, and creating the very first administrator.
 *
 * Whatever went wrong (no such login, wrong password, disabled account, no password set), the
 * caller gets the same `credentials` answer after the same amount of work, so neither the
 * message nor the response time tells an attacker which logins exist (OWASP Authentication
 * Cheat Sheet, "Authentication and Error Messages"). The event and the audit log, which only
 * operators read, do say why.
 */
import type { Clock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { EventBus, LoginEvent } from '../kernel/events.ts';
import type { Logger } from '../kernel/logger.ts';
import { foldLogin, type Store, type User } from '../store/index.ts';
import { checkDisplayName, checkEmail, checkUsername } from './admin.ts';
import { dummyVerify, hashPassword, needsRehash, verifyPassword } from './passwords.ts';
import type { LoginThrottle, ThrottleVerdict } from './login-throttle.ts';

export type SignInResult =
  | { ok: true; user: User; groups: string[] }
  | { ok: false; reason: 'credentials' | 'throttled'; retryAfterMs?: number };

export interface FirstAdminInput {
  username: string;
  password: string;
  email?: string | null;
  displayName?: string | null;
}

export interface Accounts {
  /** Checks a login (username or email) and password from `clientIp`. Never says which part was wrong. */
  signIn(login: string, password: string, clientIp: string): Promise<SignInResult>;
  /**
   * Creates the first user and puts it in the `admins` group. Refused (ERR_STORE_CONFLICT, 409)
   * once any user exists, so the setup page cannot be replayed to add administrators later.
   */
  createFirstAdmin(input: FirstAdminInput): Promise<User>;
}

export interface AccountsDeps {
  store: Store;
  clock: Clock;
  events: EventBus;
  throttle: LoginThrottle;
  logger: Logger;
}

/** The group the first administrator joins; admin-only pages check it. */
export const ADMINS_GROUP = 'admins';

/** Logins longer than this match no account (usernames and RFC 5321 addresses are shorter). */
const MAX_LOGIN_LENGTH = 320;
/** Typed logins kept in the audit log are cut here: a password pasted there must not be kept whole. */
const AUDIT_LOGIN_LENGTH = 64;

/** Builds the password sign-in service over the store. */
export function createAccounts(deps: AccountsDeps): Accounts {
  const { store, events, throttle, logger } = deps;

  const fail = async (
    login: string,
    clientIp: string,
    user: User | null,
    reason: 'credentials' | 'disabled',
  ): Promise<SignInResult> => {
    throttle.recordFailure(user === null ? login : loginsOf(user, login), clientIp);
    const event: LoginEvent = { login, userId: user?.id ?? null, clientIp, reason };
    events.emit('auth.login_failed', event);
    await store.audit.append({
      type: 'auth.login_failed',
      actor: null,
      subject: user?.id ?? null,
      ip: clientIp,
      detail: { login: login.slice(0, AUDIT_LOGIN_LENGTH), reason: user === null ? 'unknown_login' : reason },
    });
    return { ok: false, reason: 'credentials' };
  };

  const rehashQuietly = async (user: User, password: string): Promise<void> => {
    try {
      const fresh = await hashPassword(password);
      // Hashing takes a while too: written only over the hash that was checked, never over a
      // password set meanwhile (which would bring the old one back).
      if ((await store.users.byId(user.id))?.passwordHash !== user.passwordHash) return;
      await store.users.update(user.id, { passwordHash: fresh });
    } catch (error) {
      // The sign-in itself succeeded; a stronger hash can wait for the next one.
      logger.warn({ err: error, userId: user.id }, 'could not store a rehashed password');
    }
  };

  return {
    async signIn(rawLogin, password, clientIp) {
      const typed = typeof rawLogin === 'string' ? rawLogin.trim() : '';
      // Cut before it reaches the throttle, the events and the log: no account has a longer login.
      const tooLong = typed.length > MAX_LOGIN_LENGTH;
      // Folded as the store compares logins: every spelling that reaches an account (`ｃａrol` in
      // fullwidth letters is carol) meets that account's throttle.
      const login = foldLogin(typed.slice(0, MAX_LOGIN_LENGTH));
      const throttled = (verdict: ThrottleVerdict): SignInResult | null => {
        if (verdict.allowed) return null;
        events.emit('auth.login_failed', { login, userId: null, clientIp, reason: 'throttled' });
        // Not written to the audit log: refused attempts cost the attacker no hashing, and the
        // log is append-only, so recording each would let anyone fill the disk. The guard sees
        // the event and bans the source.
        logger.debug({ login: login.slice(0, AUDIT_LOGIN_LENGTH), clientIp }, 'sign-in throttled');
        return { ok: false, reason: 'throttled', retryAfterMs: verdict.retryAfterMs };
      };
      const early = throttled(throttle.check(login, clientIp));
      if (early !== null) return early;
      const user = login === '' || tooLong ? null : await store.users.byLogin(login);
      // The account's own names too: whatever text found the account, its counters apply.
      const refused = user === null ? null : throttled(throttle.check(loginsOf(user, login), clientIp));
      if (refused !== null) return refused;
      if (user === null || user.passwordHash === null) {
        await dummyVerify(password);
        return fail(login, clientIp, user, 'credentials');
      }
      // A disabled account's hash is still checked, for equal timing and so the operator's log
      // can tell "knew the password" (disabled) from "guessed wrong" (credentials).
      const correct = await verifyPassword(user.passwordHash, password);
      if (!correct) return fail(login, clientIp, user, 'credentials');
      if (user.disabled) return fail(login, clientIp, user, 'disabled');
      // The check takes a while: a password changed (or the account disabled) meanwhile wins, or
      // the old password would sign in after the change, and its rehash would write it back.
      const now = await store.users.byId(user.id);
      if (now === null || now.passwordHash !== user.passwordHash) return fail(login, clientIp, user, 'credentials');
      if (now.disabled) return fail(login, clientIp, user, 'disabled');

      throttle.recordSuccess(loginsOf(user, login), clientIp);
      if (needsRehash(user.passwordHash)) await rehashQuietly(user, password);
      const groups = await store.groups.groupsOf(user.id);
      events.emit('auth.login_succeeded', { login, userId: user.id, clientIp });
      await store.audit.append({ type: 'auth.login_succeeded', actor: user.id, subject: user.id, ip: clientIp, detail: {} });
      return { ok: true, user, groups };
    },

    async createFirstAdmin(input) {
      const username = checkUsername(input.username);
      const email = checkEmail(input.email ?? null);
      const displayName = checkDisplayName(input.displayName ?? null);
      // Hash first: the window between the emptiness check and the insert stays short.
      const passwordHash = await hashPassword(input.password);
      if ((await store.users.count()) > 0) {
        throw new PortcullisError(ErrorCodes.ERR_STORE_CONFLICT, 'an administrator already exists; sign in instead', { status: 409 });
      }
      const user = await store.users.create({
        username,
        email,
        displayName,
        passwordHash,
      });
      // Two setups racing past the check both get here. Whoever then sees another user backs
      // out, so there is never a second administrator; in the worst interleaving both back out
      // and the setup page can simply be submitted again.
      if ((await store.users.count()) > 1) {
        await store.users.delete(user.id);
        throw new PortcullisError(ErrorCodes.ERR_STORE_CONFLICT, 'an administrator already exists; sign in instead', { status: 409 });
      }
      if ((await store.groups.byName(ADMINS_GROUP)) === null) {
        try {
          await store.groups.create(ADMINS_GROUP, 'Portcullis administrators');
        } catch (error) {
          if (!(error instanceof PortcullisError && error.code === ErrorCodes.ERR_STORE_CONFLICT)) throw error;
        }
      }
      await store.groups.addMember(ADMINS_GROUP, user.id);
      await store.audit.append({ type: 'user.created', actor: 'system', subject: user.id, ip: null, detail: { username: user.username, firstAdmin: true } });
      return user;
    },
  };
}

/**
 * Every login that reaches this account, for the throttle: a guesser alternating between the
 * username and the email address meets one count, not two. (The price: a throttled alias tells
 * someone who knows both that they belong to the same account.)
 */
function loginsOf(user: User, typed: string): string[] {
  return user.email === null ? [typed, user.username] : [typed, user.username, user.email];
}
