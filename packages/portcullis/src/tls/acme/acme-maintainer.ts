/**
 * Keeps ACME certificates for the hosts that want them, in the background as Caddy does:
 * start-up serves stored certificates at once and orders missing ones without waiting for
 * them (handshakes for such a name fail until its certificate arrives, and a CA that is down
 * never holds up start-up). Renewal starts at two thirds of the life (with jitter), failures
 * are retried with exponential backoff up to a cap, and at most a few orders run at once, so
 * a large config never bursts into the CA's rate limits.
 */
import type { KeyType } from '../../config/types.ts';
import type { Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { LoadedCertificate } from '../certificate.ts';
import { serve, type ServedCertificate } from '../certificate-index.ts';
import type { AcmeEab } from './acme-client.ts';
import { DEFAULT_KEY_TYPE, keyTypeOf } from '../key-type.ts';
import type { AcmeIssuer } from './acme-issuer.ts';
import type { ChallengeType } from './order.ts';
import type { Dns01Settings } from './dns-01.ts';
import { doublingDelay } from '../../kernel/backoff.ts';

/** How many orders run at once (certmagic also throttles issuance). */
const MAX_CONCURRENT_ORDERS = 2;

export interface AcmeWant {
  host: string;
  email: string | undefined;
  /** The site's own external account binding (`tls { eab }`); absent: the issuer's (global `acme_eab`). */
  eab?: AcmeEab | null;
  /** The site's CA (its `tls { ca; ca_root }`, else the global ones); absent: the maintainer's `issuer`. */
  issuer?: AcmeIssuer;
  /** The certificate key's type (`key_type`); default p256. A certificate with another key is replaced. */
  keyType?: KeyType;
  /** The lifetime asked of the CA (`cert_lifetime`). */
  lifetimeMs?: number;
  /** The site's DNS challenge: orders answer dns-01 only (as Caddy does once a DNS provider is set). */
  dns?: Dns01Settings | null;
}

export interface AcmeMaintainerOptions {
  /** The CA of wants that name none. */
  issuer?: AcmeIssuer;
  clock: Clock;
  log: Logger;
  /** Enabled challenge types, most preferred first; a failed attempt rotates to the next. */
  challenges: readonly ChallengeType[];
  /** When a certificate is due for renewal (clock time). */
  renewalTime(cert: LoadedCertificate): number;
  /** First retry delay and cap (wall time, ms). */
  retryFirstMs: number;
  retryMaxMs: number;
  /** Called after the served certificates changed. */
  onChange(): void;
}

export interface AcmeMaintainer {
  /** Makes `wants` the set of managed hosts: loads stored certificates, orders missing ones in the background. */
  want(wants: AcmeWant[]): Promise<void>;
  /** Certificates being served, by host. */
  served(): Iterable<[string, ServedCertificate]>;
  /** Starts renewals that are due by the clock (called by the manager's maintenance timer). */
  check(): void;
  /** Stops timers and waits for orders in flight (the caller aborts their requests first). */
  close(): Promise<void>;
}

interface Job {
  host: string;
  email: string | undefined;
  eab: AcmeEab | null | undefined;
  issuer: AcmeIssuer;
  keyType: KeyType;
  lifetimeMs: number | undefined;
  dns: Dns01Settings | null;
  served: ServedCertificate | null;
  renewAt: number;
  failures: number;
  retryTimer: NodeJS.Timeout | null;
  running: Promise<void> | null;
  queued: boolean;
}

/** Whether two wants ask for the same binding (a changed one must reach the issuer on reload). */
function sameEab(a: AcmeEab | null | undefined, b: AcmeEab | null | undefined): boolean {
  // undefined (the issuer's binding) and null (none) are different wants.
  if (a == null || b == null) return a === b;
  return a.keyId === b.keyId && a.macKey === b.macKey;
}

/** With a DNS provider set, the DNS challenge is the only one (HTTP-01 and TLS-ALPN-01 cannot do wildcards, and are often unreachable where DNS is used). */
const DNS_ONLY: readonly ChallengeType[] = ['dns-01'];

/** Whether two wants answer the DNS challenge alike (a changed key or server must reach the next order). */
function sameDns(a: Dns01Settings | null, b: Dns01Settings | null): boolean {
  // Both are plain data built by site-plan.ts with a fixed key order.
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Creates the maintainer; nothing is ordered until `want`. */
export function createAcmeMaintainer(options: AcmeMaintainerOptions): AcmeMaintainer {
  const { clock, log, challenges } = options;
  const jobs = new Map<string, Job>();
  const waiting: Job[] = [];
  let active = 0;
  let closed = false;

  const backoff = (failures: number): number => {
    const base = doublingDelay(options.retryFirstMs, options.retryMaxMs, failures);
    // Up to 10% jitter, so hosts that failed together do not retry together.
    return Math.round(Math.min(options.retryMaxMs, base * (1 + Math.random() * 0.1)));
  };

  /** The preference list rotated by the failures so far: a challenge that keeps failing yields to the next. */
  const preference = (failures: number): ChallengeType[] => {
    const shift = challenges.length === 0 ? 0 : failures % challenges.length;
    return [...challenges.slice(shift), ...challenges.slice(0, shift)];
  };

  const adopt = (job: Job, cert: LoadedCertificate): void => {
    job.served = serve(cert);
    // A CA whose certificates are already due by our clock (skew) must not make us re-order at every check.
    const life = cert.notAfter - cert.notBefore;
    job.renewAt = Math.max(options.renewalTime(cert), clock.now() + Math.min(60 * 60 * 1000, life / 10));
  };

  const attempt = async (job: Job): Promise<void> => {
    const failures = job.failures;
    try {
      const order = { keyType: job.keyType, ...(job.lifetimeMs === undefined ? {} : { lifetimeMs: job.lifetimeMs }), ...(job.dns === null ? {} : { dns: job.dns }) };
      const types = job.dns === null ? preference(failures) : DNS_ONLY;
      const cert = await job.issuer.obtain(job.host, job.email, types, job.served?.cert ?? null, job.eab, order);
      if (closed || jobs.get(job.host) !== job) return;
      adopt(job, cert);
      job.failures = 0;
      options.onChange();
    } catch (error) {
      if (closed || jobs.get(job.host) !== job) return;
      const delay = backoff(failures);
      job.failures = failures + 1;
      log.warn(
        { host: job.host, attempt: failures + 1, retryInMs: delay, error: (error as Error).message },
        job.served ? 'renewing a certificate from the ACME CA failed; will retry' : 'obtaining a certificate from the ACME CA failed; will retry',
      );
      job.retryTimer = setTimeout(() => {
        job.retryTimer = null;
        start(job);
      }, delay);
      job.retryTimer.unref();
    }
  };

  const pump = (): void => {
    while (!closed && active < MAX_CONCURRENT_ORDERS && waiting.length > 0) {
      const job = waiting.shift()!;
      job.queued = false;
      if (jobs.get(job.host) !== job) continue;
      active++;
      job.running = attempt(job).finally(() => {
        job.running = null;
        active--;
        pump();
      });
    }
  };

  function start(job: Job): void {
    // No challenge answered by this process (validate, trust): serve what storage holds, order nothing.
    if (challenges.length === 0) return;
    if (closed || job.running !== null || job.queued || job.retryTimer !== null) return;
    job.queued = true;
    waiting.push(job);
    pump();
  }

  const drop = (job: Job): void => {
    if (job.retryTimer !== null) clearTimeout(job.retryTimer);
    job.retryTimer = null;
    jobs.delete(job.host);
  };

  return {
    async want(wants) {
      const next = new Map(wants.map((w) => [w.host, w]));
      const issuerOf = (w: AcmeWant): AcmeIssuer => {
        const issuer = w.issuer ?? options.issuer;
        if (issuer === undefined) throw new Error(`no ACME issuer for ${w.host}`);
        return issuer;
      };
      // A changed CA, account, key type or lifetime is a new job: the old one's certificate does not answer it.
      const changed = (w: AcmeWant, job: Job): boolean =>
        w.email !== job.email || !sameEab(w.eab, job.eab) || issuerOf(w) !== job.issuer || (w.keyType ?? DEFAULT_KEY_TYPE) !== job.keyType || w.lifetimeMs !== job.lifetimeMs || !sameDns(w.dns ?? null, job.dns);
      for (const job of [...jobs.values()]) {
        const w = next.get(job.host);
        if (w === undefined || changed(w, job)) drop(job);
      }
      const added: Job[] = [];
      for (const w of next.values()) {
        const { host, email, eab, lifetimeMs } = w;
        if (jobs.has(host)) continue;
        const issuer = issuerOf(w);
        const keyType = w.keyType ?? DEFAULT_KEY_TYPE;
        const job: Job = { host, email, eab, issuer, keyType, lifetimeMs, dns: w.dns ?? null, served: null, renewAt: 0, failures: 0, retryTimer: null, running: null, queued: false };
        const stored = await issuer.stored(host);
        if (stored !== null) {
          // A stored certificate that is already due keeps serving while its renewal runs; so
          // does one with another key type (key_type changed), whose replacement is due now.
          job.served = serve(stored);
          job.renewAt = keyTypeOf(stored.leaf) === keyType ? options.renewalTime(stored) : clock.now();
        }
        jobs.set(host, job);
        added.push(job);
      }
      for (const job of added) if (job.served === null || clock.now() >= job.renewAt) start(job);
    },
    *served() {
      for (const [host, job] of jobs) if (job.served !== null) yield [host, job.served];
    },
    check() {
      const now = clock.now();
      for (const job of jobs.values()) if (now >= job.renewAt) start(job);
    },
    async close() {
      closed = true;
      for (const job of jobs.values()) if (job.retryTimer !== null) clearTimeout(job.retryTimer);
      await Promise.all([...jobs.values()].map((job) => job.running));
    },
  };
}
