/**
 * Typed in-process events named `noun.verb`. Modules that must not import each other (identity
 * and guard, proxy and guard) talk through these.
 */

/** Emitted by the proxy once a response has been sent (or the client went away). */
export interface RequestDoneEvent {
  site: string;
  method: string;
  host: string;
  path: string;
  status: number;
  clientIp: string;
  userAgent: string;
  /** The Referer header as sent ('' when absent); the slow-scraper detector follows link chains with it. */
  referer: string;
  /** Whether the request carried a Cookie header: browsers keep the cookies a site sets, most crawlers do not. */
  hasCookies: boolean;
  /**
   * The guard answered with its proof-of-work challenge page (a 403) instead of the site: the
   * client was asked to prove it runs a browser, it did not probe for anything, so the
   * scenarios do not count these.
   */
  challenged: boolean;
  /**
   * A browser said another site's page caused the request (`Sec-Fetch-Site: cross-site` or
   * `same-site`): an `<img>` on someone else's page can make any visitor's browser ask for
   * `/.env`, so the scenarios that ban do not believe such requests are the client's own.
   */
  crossSite: boolean;
}

/** Emitted by identity after a password check, whatever the outcome; the guard counts failures. */
export interface LoginEvent {
  /** The login name as typed (lower-cased, trimmed); may name no account. */
  login: string;
  /** The account's id when one matched, else null (never tells the client). */
  userId: string | null;
  clientIp: string;
  /** Why it failed: 'credentials' | 'disabled' | 'throttled'; absent on success. */
  reason?: 'credentials' | 'disabled' | 'throttled';
}

/** The map of every event name to its payload. Later modules add their events here. */
export interface EventMap {
  'http.request_done': RequestDoneEvent;
  'config.reloaded': { ok: boolean; error?: string };
  'auth.login_failed': LoginEvent;
  'auth.login_succeeded': LoginEvent;
}

type Listener<T> = (payload: T) => void;

export class EventBus {
  private readonly listeners = new Map<keyof EventMap, Set<Listener<never>>>();

  on<K extends keyof EventMap>(name: K, listener: Listener<EventMap[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** True when someone listens; lets the hot path skip building a payload nobody reads. */
  has(name: keyof EventMap): boolean {
    const set = this.listeners.get(name);
    return set !== undefined && set.size > 0;
  }

  /** Listeners run synchronously; one that throws is isolated so it cannot break the emitter. */
  emit<K extends keyof EventMap>(name: K, payload: EventMap[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<EventMap[K]>)(payload);
      } catch {
        // A subscriber's bug must not fail the request that emitted the event.
      }
    }
  }
}
