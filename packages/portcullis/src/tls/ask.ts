/**
 * The on-demand TLS permission check (Caddy's `on_demand_tls { ask }`): `GET <ask>?domain=<name>`,
 * where only a 2xx answer permits. A timeout, a network error, a redirect or any other status
 * refuses, so an ask endpoint that is down never lets a name through. Decisions are cached
 * briefly, and concurrent handshakes for one name share one request.
 */
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';

export interface AskOptions {
  /** The configured endpoint (absolute http(s) URL, checked by the config adapter). */
  url: string;
  clock: Clock;
  log: Logger;
  /** Per request (default 5 s). */
  timeoutMs?: number;
  /** How long a decision is reused (default 60 s); errors are reused for a tenth of it. */
  cacheMs?: number;
  /** Most decisions kept (default 10 000); the oldest are dropped first. */
  maxEntries?: number;
}

/** Whether `name` (a canonical DNS name) may get a certificate. Never rejects. */
export type AskGate = (name: string) => Promise<boolean>;

interface Decision {
  allowed: boolean;
  until: number;
}

/** Creates the gate for one endpoint. */
export function createAskGate(options: AskOptions): AskGate {
  const { clock, log } = options;
  const timeoutMs = options.timeoutMs ?? 5000;
  const cacheMs = options.cacheMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const decisions = new Map<string, Decision>();
  const asking = new Map<string, Promise<boolean>>();

  const remember = (name: string, allowed: boolean, ttl: number): void => {
    decisions.delete(name);
    // Map order is insertion order: the first key is the oldest decision.
    if (decisions.size >= maxEntries) decisions.delete(decisions.keys().next().value!);
    decisions.set(name, { allowed, until: clock.now() + ttl });
  };

  const ask = async (name: string): Promise<boolean> => {
    const url = new URL(options.url);
    url.searchParams.set('domain', name);
    try {
      // Redirects are not followed: only the configured endpoint decides.
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      const allowed = res.status >= 200 && res.status < 300;
      if (!allowed) log.info({ name, status: res.status }, 'on-demand TLS: the ask endpoint refused a name');
      remember(name, allowed, cacheMs);
      return allowed;
    } catch (error) {
      log.warn({ name, err: (error as Error).message }, 'on-demand TLS: the ask endpoint did not answer; refusing the name');
      remember(name, false, Math.max(1000, cacheMs / 10));
      return false;
    }
  };

  return (name) => {
    const known = decisions.get(name);
    if (known !== undefined && clock.now() < known.until) return Promise.resolve(known.allowed);
    let pending = asking.get(name);
    if (pending === undefined) {
      pending = ask(name).finally(() => asking.delete(name));
      asking.set(name, pending);
    }
    return pending;
  };
}
