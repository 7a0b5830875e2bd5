/**
 * Password-guessing throttle, in memory, per client IP and per account.
 *
 * Policy, and why:
 * - Per IP: 20 failed sign-ins within 15 minutes lock that IP out of signing in for 15 minutes.
 *   It stops one host from trying many accounts (credential stuffing, password spraying), which
 *   a per-account limit cannot see. A success does NOT clear an IP's failures: otherwise an
 *   attacker with one real account could sign into it between guesses to reset the count.
 *   IPv6 clients are counted per /64, the block one subscriber usually gets (RFC 6177), or
 *   every host could rotate through 2^64 addresses.
 * - Per account (the login folded as the store compares logins: NFKC, then lower case, so that
 *   `ｃａrol` in fullwidth letters meets carol's counter): the first 5 consecutive failures are free (typos);
 *   after that each further attempt has to wait 1, 2, 4, 8, then 15 minutes (the cap) since the
 *   last failure. This counts across IPs, so a guesser spread over a botnet still gets at most
 *   about four guesses an hour on one account (OWASP Authentication Cheat Sheet, "Account
 *   Lockout"; NIST SP 800-63B section 5.2.2 asks for at most 100 consecutive failures).
 *   Attempts refused by the throttle are not counted, so the delay never grows past the cap.
 *   A run of failures is forgotten a day after its last failure.
 * - The trade-off: a limit that spans IPs is also a way to keep the real user out, since the
 *   attacker can spend every slot the moment it opens. The lock is therefore never permanent
 *   (at worst 15 minutes between attempts, and it ends when the attack stops), and an IP from
 *   which the account signed in successfully in the last 30 days (up to 4 per account) gets a
 *   counter of its own: the user at home or at the office signs in as usual while a botnet
 *   hammers the shared counter. A success resets the counter it went through; it does not
 *   reset the shared counter from a remembered IP, so a victim's own logins do not hand the
 *   attacker fresh free guesses. Someone who shares the user's IP (same NAT) gets the same
 *   paced guesses on that counter as well, at most doubling the rate. A new device during an
 *   active attack may have to wait; the guard's bans are the answer to the botnet itself.
 *
 * Memory is bounded: each table keeps at most `maxEntries` keys and drops the least recently
 * used. Flooding the tables to evict a victim's entry takes `maxEntries` failed logins, each of
 * which costs the attacker an argon2 verify and counts against their IPs.
 */
import type { Clock } from '../kernel/clock.ts';
import { parseIp } from '../kernel/ip-ranges.ts';
import { foldLogin } from '../store/index.ts';
import { doublingDelay } from '../kernel/backoff.ts';

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface LoginThrottle {
  /**
   * Whether a sign-in attempt may go ahead; when not, how long until it may. Several logins
   * (an account's aliases): the longest wait of any of them.
   */
  check(login: string | readonly string[], ip: string): ThrottleVerdict;
  /**
   * A password check failed (wrong password, unknown or disabled account). Several logins when
   * the account has aliases (username and email): each is counted, the IP once, so switching
   * between them does not multiply the guesses.
   */
  recordFailure(login: string | readonly string[], ip: string): void;
  /** A password check succeeded; resets the counter of each login given. */
  recordSuccess(login: string | readonly string[], ip: string): void;
}

export interface LoginThrottleOptions {
  clock: Clock;
  /** Most keys kept per table (accounts, IPs); default 100 000. */
  maxEntries?: number;
}

const MINUTE = 60_000;
const IP_MAX_FAILURES = 20;
const IP_WINDOW_MS = 15 * MINUTE;
const IP_LOCK_MS = 15 * MINUTE;
const ACCOUNT_FREE_FAILURES = 5;
const ACCOUNT_BASE_DELAY_MS = MINUTE;
const ACCOUNT_MAX_DELAY_MS = 15 * MINUTE;
const ACCOUNT_FORGET_MS = 24 * 60 * MINUTE;
const TRUSTED_IP_TTL_MS = 30 * 24 * 60 * MINUTE;
const TRUSTED_IPS_PER_ACCOUNT = 4;
/** Keys are cut to this length so hostile megabyte logins cannot fill memory. */
const MAX_KEY_LENGTH = 320;

interface IpEntry {
  /** Times of recent failures, oldest first; at most IP_MAX_FAILURES. */
  failures: number[];
  lockedUntil: number;
}

interface Counter {
  failures: number;
  lastFailureAt: number;
}

interface TrustedIp extends Counter {
  lastSuccessAt: number;
}

interface AccountEntry extends Counter {
  /** IPs the account signed in from, with their own counters; at most TRUSTED_IPS_PER_ACCOUNT. */
  trusted: Map<string, TrustedIp>;
}

/** Builds an in-memory throttle; see the module comment for the policy. */
export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { clock } = options;
  const maxEntries = Math.max(1, options.maxEntries ?? 100_000);
  const ips = new LruMap<IpEntry>(maxEntries);
  const accounts = new LruMap<AccountEntry>(maxEntries);

  /** The counter this IP's attempts on this account go through. */
  const counterFor = (account: AccountEntry, ipKey: string, now: number): Counter => {
    const trusted = account.trusted.get(ipKey);
    if (trusted !== undefined && now - trusted.lastSuccessAt < TRUSTED_IP_TTL_MS) return trusted;
    return account;
  };

  const accountEntry = (loginKey: string): AccountEntry => {
    let account = accounts.get(loginKey);
    if (account === undefined) {
      account = { failures: 0, lastFailureAt: 0, trusted: new Map() };
      accounts.set(loginKey, account);
    }
    return account;
  };

  return {
    check(login, ip) {
      const now = clock.now();
      const ipKey = ipKeyOf(ip);
      let wait = 0;
      const ipEntry = ips.get(ipKey);
      if (ipEntry !== undefined && ipEntry.lockedUntil > now) wait = ipEntry.lockedUntil - now;
      for (const key of loginKeysOf(login)) {
        const account = accounts.get(key);
        if (account === undefined) continue;
        const counter = counterFor(account, ipKey, now);
        forgetIfStale(counter, now);
        wait = Math.max(wait, counter.lastFailureAt + delayAfter(counter.failures) - now);
      }
      return wait > 0 ? { allowed: false, retryAfterMs: wait } : { allowed: true };
    },

    recordFailure(login, ip) {
      const now = clock.now();
      const ipKey = ipKeyOf(ip);
      let ipEntry = ips.get(ipKey);
      if (ipEntry === undefined) {
        ipEntry = { failures: [], lockedUntil: 0 };
        ips.set(ipKey, ipEntry);
      }
      const failures = ipEntry.failures;
      while (failures.length > 0 && now - failures[0]! >= IP_WINDOW_MS) failures.shift();
      failures.push(now);
      if (failures.length >= IP_MAX_FAILURES) {
        ipEntry.lockedUntil = now + IP_LOCK_MS;
        failures.length = 0;
      }
      for (const loginKey of loginKeysOf(login)) {
        const counter = counterFor(accountEntry(loginKey), ipKey, now);
        forgetIfStale(counter, now);
        counter.failures++;
        counter.lastFailureAt = now;
      }
    },

    recordSuccess(login, ip) {
      const now = clock.now();
      const ipKey = ipKeyOf(ip);
      for (const loginKey of loginKeysOf(login)) {
        const account = accountEntry(loginKey);
        const counter = counterFor(account, ipKey, now);
        counter.failures = 0;
        counter.lastFailureAt = 0;
        // Remember this IP with a clean counter, most recent success last.
        account.trusted.delete(ipKey);
        account.trusted.set(ipKey, { failures: 0, lastFailureAt: 0, lastSuccessAt: now });
        while (account.trusted.size > TRUSTED_IPS_PER_ACCOUNT) {
          account.trusted.delete(account.trusted.keys().next().value!);
        }
      }
    },
  };
}

/** Wait required after `failures` consecutive failures: none for the first five, then doubling. */
function delayAfter(failures: number): number {
  if (failures < ACCOUNT_FREE_FAILURES) return 0;
  return doublingDelay(ACCOUNT_BASE_DELAY_MS, ACCOUNT_MAX_DELAY_MS, failures - ACCOUNT_FREE_FAILURES);
}

function forgetIfStale(counter: Counter, now: number): void {
  if (counter.failures > 0 && now - counter.lastFailureAt >= ACCOUNT_FORGET_MS) {
    counter.failures = 0;
    counter.lastFailureAt = 0;
  }
}

/** The store's comparison key (NFKC can lengthen a text, hence the second cut). */
function loginKeyOf(login: string): string {
  return foldLogin(login.trim().slice(0, MAX_KEY_LENGTH)).slice(0, MAX_KEY_LENGTH);
}

function loginKeysOf(login: string | readonly string[]): Set<string> {
  return new Set(typeof login === 'string' ? [loginKeyOf(login)] : login.map(loginKeyOf));
}

/** IPv4 as is (IPv4-mapped IPv6 included), IPv6 by its /64; anything unparsable verbatim, cut short. */
export function ipKeyOf(ip: string): string {
  const parsed = parseIp(ip);
  if (parsed === null) return ip.slice(0, 64);
  if ('v4' in parsed) {
    const v = parsed.v4;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const w = parsed.v6;
  const hex = (word: number) => `${(word >>> 16).toString(16)}:${(word & 0xffff).toString(16)}`;
  return `${hex(w[0]!)}:${hex(w[1]!)}::/64`;
}

/** A Map that forgets its least recently used keys past a size. */
class LruMap<V> {
  private readonly map = new Map<string, V>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // Re-insert so Map's insertion order is the recency order.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}
