/**
 * On-demand TLS: certificates obtained during the handshake for names a `tls { on_demand }`
 * site covers and nothing else holds. Every name is first put to the ask endpoint (loading from
 * storage too, as Caddy does, so a name no longer permitted is not served), then loaded or
 * issued with at most a few issuances at once; the handshake waits a bounded time. A name
 * that failed is not retried for a while, so a flood of handshakes never becomes a flood of
 * orders.
 */
import type { SecureContext } from 'node:tls';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import type { LoadedCertificate } from './certificate.ts';
import type { AskGate } from './ask.ts';
import { isHostName } from '../kernel/dns-names.ts';
import { canonicalServername, wildcardOf } from './host-names.ts';
import type { OnDemandRule } from './site-plan.ts';
import { doublingDelay } from '../kernel/backoff.ts';

export interface OnDemandOptions {
  rules: readonly OnDemandRule[];
  permits: AskGate;
  /** A certificate for `name` (stored, else new) that is not `replacing`; rejects when none can be had. */
  obtain(name: string, rule: OnDemandRule, replacing: LoadedCertificate | null): Promise<LoadedCertificate>;
  /** The context to serve `cert` with under the rule's site settings. */
  contextFor(cert: LoadedCertificate, rule: OnDemandRule): SecureContext;
  renewalTime(cert: LoadedCertificate): number;
  clock: Clock;
  log: Logger;
  /** How long a handshake waits for a certificate (default 45 s); the order goes on after that. */
  waitMs?: number;
  /** Issuances running at once (default 4), and handshakes allowed to queue behind them (default 100). */
  maxConcurrent?: number;
  maxQueued?: number;
  /**
   * How long a failed name is refused before it is tried again (default 60 s), doubling with
   * each failure in a row up to an hour: a name the `ask` endpoint approves but that never
   * validates (a customer's domain pointing elsewhere) must not cost an ACME order a minute,
   * which would eat into the account's order limits every renewal shares.
   */
  failureHoldMs?: number;
  /** Failures by name; give the same map to each prepare's issuer so a reload does not forget them. */
  failures?: Map<string, NameFailures>;
  /** Most certificates held in memory (default 10 000); the oldest are dropped and reloaded from storage when asked for. */
  maxCertificates?: number;
}

/** A name's failures in a row, and until when it is refused. */
export interface NameFailures {
  count: number;
  until: number;
}

/** The longest a failed name waits before it is tried again. */
const MAX_FAILURE_HOLD_MS = 60 * 60 * 1000;

export interface OnDemand {
  /**
   * null when no on-demand rule covers `servername` (the caller falls back as usual); else
   * the held context, or a promise of one that resolves to null when the name is refused.
   */
  lookup(servername: string): SecureContext | Promise<SecureContext | null> | null;
  /** Stops waiting handshakes from starting new work. */
  close(): void;
}

interface Held {
  cert: LoadedCertificate;
  context: SecureContext;
  renewAt: number;
}

/** The rule covering `name`: exact host, one-label wildcard, or a site for any name; the first match wins. */
function ruleFor(rules: readonly OnDemandRule[], name: string): OnDemandRule | null {
  const wildcard = wildcardOf(name);
  for (const rule of rules) {
    if (rule.hosts.length === 0 || rule.hosts.includes(name) || (wildcard !== null && rule.hosts.includes(wildcard))) return rule;
  }
  return null;
}

/** Creates the on-demand issuer over the rules of one prepare. */
export function createOnDemand(options: OnDemandOptions): OnDemand {
  const { rules, permits, clock, log } = options;
  const waitMs = options.waitMs ?? 45_000;
  const maxConcurrent = options.maxConcurrent ?? 4;
  const maxQueued = options.maxQueued ?? 100;
  const failureHoldMs = options.failureHoldMs ?? 60_000;
  const maxCertificates = options.maxCertificates ?? 10_000;
  const held = new Map<string, Held>();
  const pending = new Map<string, Promise<SecureContext | null>>();
  const failures = options.failures ?? new Map<string, NameFailures>();
  const queue: ((granted: boolean) => void)[] = [];
  let running = 0;
  let closed = false;

  /** Waits for an issuance slot; false when too many handshakes already wait. */
  const acquire = (): Promise<boolean> => {
    if (running < maxConcurrent) {
      running++;
      return Promise.resolve(true);
    }
    if (queue.length >= maxQueued) return Promise.resolve(false);
    return new Promise((resolve) => queue.push(resolve));
  };
  const release = (): void => {
    // The slot passes straight to the next waiter, so `running` stays the same.
    const next = queue.shift();
    if (next) next(true);
    else running--;
  };

  const hold = (name: string, cert: LoadedCertificate, rule: OnDemandRule): Held => {
    const entry = { cert, context: options.contextFor(cert, rule), renewAt: options.renewalTime(cert) };
    held.delete(name);
    if (held.size >= maxCertificates) held.delete(held.keys().next().value!);
    held.set(name, entry);
    return entry;
  };

  const work = async (name: string, rule: OnDemandRule, replacing: Held | undefined): Promise<SecureContext | null> => {
    if ((failures.get(name)?.until ?? 0) > clock.now()) return null;
    if (!(await permits(name))) return null;
    if (closed || !(await acquire())) return null;
    try {
      if (closed) return null;
      const cert = await options.obtain(name, rule, replacing?.cert ?? null);
      failures.delete(name);
      return hold(name, cert, rule).context;
    } catch (error) {
      // Bounded like the other maps: a refused flood must not grow it without end.
      if (failures.size >= maxCertificates && !failures.has(name)) failures.clear();
      const count = (failures.get(name)?.count ?? 0) + 1;
      const holdMs = doublingDelay(failureHoldMs, MAX_FAILURE_HOLD_MS, count - 1);
      failures.set(name, { count, until: clock.now() + holdMs });
      log.warn({ name, site: rule.site.name, err: (error as Error).message }, 'on-demand TLS: could not get a certificate');
      return null;
    } finally {
      release();
    }
  };

  /** One piece of work per name at a time; handshakes for the same name share it. */
  const start = (name: string, rule: OnDemandRule, replacing: Held | undefined): Promise<SecureContext | null> => {
    let run = pending.get(name);
    if (run === undefined) {
      run = work(name, rule, replacing).finally(() => pending.delete(name));
      pending.set(name, run);
    }
    return run;
  };

  const bounded = (run: Promise<SecureContext | null>): Promise<SecureContext | null> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), waitMs);
      timer.unref();
      run.then((context) => {
        clearTimeout(timer);
        resolve(context);
      });
    });

  return {
    lookup(servername) {
      // Names that are not host names (IP literals, `*`, `_`, junk) never reach the ask endpoint
      // or storage: no public CA signs them for a web site anyway.
      const name = canonicalServername(servername);
      if (name === null || /^[\d.]+$/.test(name) || !isHostName(name)) return null;
      const rule = ruleFor(rules, name);
      if (rule === null) return null;
      const have = held.get(name);
      if (have !== undefined) {
        const now = clock.now();
        if (now < have.renewAt) return have.context;
        // Due: renew in the background and keep serving the current certificate while it is valid.
        const renewal = start(name, rule, have);
        if (now < have.cert.notAfter) return have.context;
        return bounded(renewal);
      }
      return bounded(start(name, rule, undefined));
    },
    close() {
      closed = true;
      for (const wake of queue.splice(0)) wake(false);
    },
  };
}
