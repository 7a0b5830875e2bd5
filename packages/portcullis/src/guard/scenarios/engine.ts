/**
 * Runs the behaviour scenarios (scenarios.ts) in process: listens to the proxy's
 * `http.request_done` and identity's `auth.login_failed`, pours each event into the buckets
 * of the scenarios it fits, and when one fires, hands a decision (ban, throttle, challenge
 * with an expiry) to `decide` — main.ts stores it through the DecisionSync, which puts it in
 * force at once and keeps it across restarts.
 *
 * Created once per process, so a reload does not empty the buckets in the middle of an
 * attack; configure() applies each load's allowlist and simulate flag (or detaches).
 *
 * Addresses in the allowlist are never decided on (they still fill buckets: checking the
 * list only when a bucket fires keeps the per-event cost to the scenarios' own tests). In
 * simulate mode a firing is logged and nothing is decided.
 *
 * Every scenario counts per client: an IPv4 address, or an IPv6 /64 (client-table.ts), whose
 * decision then covers the /64 (scope `range`): an attacker changes address inside its /64 at
 * will. The per-client state of the request scenarios lives in one client table: the
 * slow-scraper's record, and a rate bucket for each scenario that counts events rather than
 * distinct values (client-buckets.ts), so a request looks its client up once. Measured in
 * bench:guard (20 000 clients): a lookup of their own for aggressive-crawl alone cost ~1 µs a
 * request, about 2 % of the proxy's throughput. Scenarios that count distinct values (paths)
 * keep a leaky bucket of their own (leaky-bucket.ts); they see 4xx answers only.
 *
 * The slow-scraper detector (slow-scraper.ts) is not a bucket: it decides a challenge on its
 * first firing and a ban when the same client fires again (it got pages again: its challenge
 * ran out, or it passed it and went on crawling).
 */
import { compileIpRanges } from '../../kernel/ip-ranges.ts';
import type { Clock } from '../../kernel/clock.ts';
import type { EventBus, LoginEvent, RequestDoneEvent } from '../../kernel/events.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { NewDecision } from '../../store/index.ts';
import { createClientBuckets, type ClientBuckets } from './client-buckets.ts';
import { createClientTable } from './client-table.ts';
import { createLeakyBuckets, type LeakyBuckets, type Overflow } from './leaky-bucket.ts';
import { BUILTIN_SCENARIOS, type HttpScenario, type LoginScenario, type Scenario, type SlowScraperScenario } from './scenarios.ts';
import { createSlowScraperDetector, type Firing } from './slow-scraper.ts';

export interface ScenarioEngineOptions {
  events: EventBus;
  clock: Clock;
  logger: Logger;
  /** Applies a decision (main.ts: DecisionSync.add). A rejection is logged, not thrown. */
  decide(decision: NewDecision): Promise<unknown> | void;
  /** Default: BUILTIN_SCENARIOS. */
  scenarios?: readonly Scenario[];
  /**
   * Evaluate finished requests in batches, once per turn of the event loop (setImmediate),
   * instead of inside each request's completion: the buckets and the detector then run hot in
   * the CPU caches over many events, not interleaved with the proxy's work. Measured in
   * bench:guard: guard on/off 0.80 -> 0.88. Default off, so that an emitted event is decided on
   * before emit() returns (what tests on a ManualClock expect); main.ts turns it on.
   */
  batch?: boolean;
  /** Most clients the client table, and keys each distinct-counting or login scenario, remembers; default 50 000. */
  maxKeys?: number;
}

/** What one config load says about the scenarios. */
export interface ScenarioSettings {
  /** `allow` ranges: never decided on. */
  neverBan: readonly string[];
  /** Log what would be decided, decide nothing. */
  simulate: boolean;
}

export interface ScenarioEngine {
  /**
   * Listens with `settings` (replacing earlier ones), or stops listening when null; the
   * buckets are kept either way. Throws ERR_CONFIG_INVALID on a malformed allow range.
   */
  configure(settings: ScenarioSettings | null): void;
  /** Firings by scenario name, simulated ones included. */
  readonly fired: Map<string, number>;
  /** Keys held over all scenarios (for tests and metrics). */
  keyCount(): number;
}

interface Armed<S extends HttpScenario | LoginScenario> {
  scenario: S;
  /** Its buckets: in the client table (a request scenario without `distinct`), or of its own. */
  buckets: LeakyBuckets | null;
  rates: ClientBuckets | null;
  /**
   * A banning scenario with buckets of its own (the 4xx ones) keeps apart the requests a browser
   * said another site's page caused (RequestDoneEvent.crossSite): four `<img>` tags on any page
   * would otherwise get every visitor banned, and their NAT or /64 with them. Those fill these
   * buckets, which decide a challenge: a browser passes it, a scanner that claims the header to
   * dodge the ban meets it.
   */
  crossSite: LeakyBuckets | null;
  origin: string;
}

/** Finished requests held for one batch at most (see ScenarioEngineOptions.batch). */
const MAX_BATCH = 1024;
const HOUR = 3_600_000;

/** Builds the engine; it listens once configure() is called with settings. */

export function createScenarioEngine(options: ScenarioEngineOptions): ScenarioEngine {
  const { events, logger, decide } = options;
  const scenarios = options.scenarios ?? BUILTIN_SCENARIOS;
  // In batch mode the time is read once a batch, not twice an event (Date.now() costs about
  // what one bucket's update does): the events of one batch finished within one turn of the loop.
  let batchNow = -1;
  const clock: Clock = { now: () => (batchNow >= 0 ? batchNow : options.clock.now()) };
  const maxKeys = options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys };
  const slowScraper = scenarios.find((s): s is SlowScraperScenario => 'detector' in s && s.detector === 'slow-scraper') ?? null;
  // A client quiet for half the slow-scraper's window has nothing left in its counts.
  const clients = createClientTable({ quietMs: (slowScraper?.windowMs ?? HOUR) / 2, ...maxKeys });
  const arm = <S extends HttpScenario | LoginScenario>(scenario: S): Armed<S> => {
    const bucket = {
      capacity: scenario.capacity,
      leakPerSecond: scenario.leakPerSecond,
      // A decided client keeps sending (a banned client's 403s are events too): one attack,
      // one decision, until the decision would have run out.
      blackholeMs: scenario.durationMs,
    };
    const inTable = scenario.event === 'http.request_done' && scenario.distinct === undefined;
    return {
      scenario,
      origin: `scenario:${scenario.name}`,
      buckets: inTable ? null : createLeakyBuckets({ ...bucket, clock, ...maxKeys }),
      rates: inTable ? createClientBuckets(clients, bucket) : null,
      crossSite: !inTable && scenario.event === 'http.request_done' && scenario.decision === 'ban' ? createLeakyBuckets({ ...bucket, clock, ...maxKeys }) : null,
    };
  };
  const http = scenarios.filter((s): s is HttpScenario => s.event === 'http.request_done' && !('detector' in s)).map(arm);
  const logins = scenarios.filter((s): s is LoginScenario => s.event === 'auth.login_failed').map(arm);
  const detector =
    slowScraper === null
      ? null
      : createSlowScraperDetector({
          clock,
          clients,
          windowMs: slowScraper.windowMs,
          minPages: slowScraper.minPages,
          minSignals: slowScraper.minSignals,
          repeatMemoryMs: slowScraper.repeatWithinMs,
        });
  const slowScraperOrigin = slowScraper === null ? '' : `scenario:${slowScraper.name}`;
  const fired = new Map<string, number>();
  let allowed: ((ip: string) => boolean) | null = null;
  let simulate = false;
  let unsubscribe: (() => void)[] = [];

  /**
   * A scenario's decision on a client (`203.0.113.9`, or `2001:db8:1:2::/64` with scope
   * `range`). Skipped when the address that made it fire, or the network's first address, is
   * allowed (an `allow` of a search engine's range covers its /64s).
   */
  const fire = (name: string, origin: string, kind: NewDecision['kind'], durationMs: number, client: string, lastIp: string, reason: string): void => {
    const slash = client.indexOf('/');
    const single = slash === -1;
    if (allowed !== null && (allowed(lastIp) || allowed(single ? client : client.slice(0, slash)))) return;
    enact(name, { kind, scope: single ? 'ip' : 'range', value: client, reason, origin, expiresAt: clock.now() + durationMs }, durationMs);
  };

  const fireScenario = (armed: Armed<HttpScenario | LoginScenario>, client: string, lastIp: string, reason: string): void =>
    fire(armed.scenario.name, armed.origin, armed.scenario.decision, armed.scenario.durationMs, client, lastIp, reason);

  /** A banning scenario filled by requests another site's page caused: a challenge (see Armed.crossSite). */
  const fireCrossSite = (armed: Armed<HttpScenario>, client: string, lastIp: string): void => {
    const s = armed.scenario;
    const reason = `${reasonOf(s)}, sent as another site's page asked (Sec-Fetch-Site): a challenge, not a ban`;
    fire(s.name, armed.origin, 'challenge', s.durationMs, client, lastIp, reason);
  };

  /** Firing again means it got pages again after its challenge: a ban, and the reason says why. */
  const fireSlowScraper = (scenario: SlowScraperScenario, firing: Firing): void => {
    if (firing.strikes <= 1) return fire(scenario.name, slowScraperOrigin, scenario.decision, scenario.durationMs, firing.key, firing.lastIp, firing.reason);
    const reason = `again after a challenge (firing ${firing.strikes}): ${firing.reason}`;
    fire(scenario.name, slowScraperOrigin, scenario.repeatDecision, scenario.repeatDurationMs, firing.key, firing.lastIp, reason);
  };

  /** Counts, logs and (unless simulating) stores a decision. */
  const enact = (name: string, decision: NewDecision, durationMs: number): void => {
    fired.set(name, (fired.get(name) ?? 0) + 1);
    const fields = { scenario: name, clientIp: decision.value, decision: decision.kind, durationMs, reason: decision.reason };
    if (simulate) {
      logger.info(fields, 'guard scenario would decide (simulate)');
      return;
    }
    logger.info(fields, 'guard scenario decided');
    try {
      Promise.resolve(decide(decision)).catch((error: unknown) => logger.warn({ ...fields, err: (error as Error).message }, 'guard scenario: storing the decision failed'));
    } catch (error) {
      logger.warn({ ...fields, err: (error as Error).message }, 'guard scenario: storing the decision failed');
    }
  };

  const onRequest = (e: RequestDoneEvent): void => {
    // A challenge page is the guard's own answer, not the site's: a challenged crawler that
    // keeps walking would otherwise look like a 4xx scanner and be banned within a minute.
    if (e.challenged) return;
    const key = clients.keyOf(e.clientIp);
    if (key === null) {
      logger.debug({ clientIp: e.clientIp }, 'guard scenarios: a finished request from something that is not an address; not counted');
      return;
    }
    const clientError = e.status >= 400 && e.status < 500;
    let slot = -1;
    for (let i = 0; i < http.length; i++) {
      const armed = http[i]!;
      const s = armed.scenario;
      if ((s.clientErrorsOnly === true && !clientError) || !s.matches(e)) continue;
      let fired: boolean;
      if (armed.rates !== null) {
        const now = clock.now();
        if (slot === -1) slot = clients.slot(key, now);
        fired = armed.rates.pour(slot, now);
      } else if (e.crossSite && armed.crossSite !== null) {
        if (armed.crossSite.pour(key, s.distinct?.(e)) !== null) fireCrossSite(armed, clients.textOf(key), e.clientIp);
        continue;
      } else {
        fired = armed.buckets!.pour(key, s.distinct?.(e)) !== null;
      }
      if (fired) fireScenario(armed, clients.textOf(key), e.clientIp, reasonOf(s));
    }
    if (detector !== null) {
      const firing = detector.observe(e, key);
      if (firing !== null) fireSlowScraper(slowScraper!, firing);
    }
  };

  // The batch of finished requests waiting for the next turn of the loop; bounded, so a burst
  // of completions in one turn is evaluated at once rather than held.
  let queue: RequestDoneEvent[] = [];
  let spare: RequestDoneEvent[] = [];
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    // Taken whole first (two arrays swapped, nothing allocated): an event that throws neither
    // stops the rest nor leaves the batch to be poured a second time.
    const batch = queue;
    queue = spare;
    spare = batch;
    batchNow = options.clock.now();
    for (let i = 0; i < batch.length; i++) {
      try {
        onRequest(batch[i]!);
      } catch (error) {
        // Outside emit(), which isolates a throwing listener: here a bug would reach the process.
        logger.error({ err: error }, 'guard scenario evaluation failed');
      }
    }
    batchNow = -1;
    batch.length = 0;
  };
  const enqueue = (e: RequestDoneEvent): void => {
    queue.push(e);
    if (queue.length >= MAX_BATCH) drain();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  };

  const onLoginFailed = (e: LoginEvent): void => {
    const key = clients.keyOf(e.clientIp);
    const client = key === null ? null : clients.textOf(key);
    // Who the account scenario may decide on: never an allowed address (its failures still
    // count against the account), nor anything that is not an address, nor a client whose
    // attempt the identity throttle refused: an attacker gets those for free and so does the
    // account's owner, locked out by the attack and trying again (they still fill the bucket).
    const source = client === null || allowed?.(e.clientIp) === true || e.reason === 'throttled' ? undefined : client;
    for (let i = 0; i < logins.length; i++) {
      const armed = logins[i]!;
      const s = armed.scenario;
      if (s.by === 'ip') {
        if (key !== null && armed.buckets!.pour(key) !== null) fireScenario(armed, client!, e.clientIp, reasonOf(s));
        continue;
      }
      const overflow = armed.buckets!.pour(e.login, undefined, source);
      if (overflow !== null) fireContributors(armed, overflow);
    }
  };

  /** The account cannot be banned, the clients behind the attack can: those above the per-client minimum. */
  const fireContributors = (armed: Armed<LoginScenario>, overflow: Overflow): void => {
    const min = armed.scenario.minFailuresPerIp ?? 0;
    for (const [client, failures] of overflow.sources) {
      // The login is not in the reason: what people type as a login is sometimes a password.
      if (failures > min) fireScenario(armed, client, client, `${reasonOf(armed.scenario)}; ${Math.round(failures)} from this client`);
    }
  };

  return {
    fired,
    keyCount: () => [...http, ...logins].reduce((n, a) => n + (a.buckets?.size ?? 0) + (a.crossSite?.size ?? 0), clients.size),
    configure(settings) {
      if (settings === null) {
        for (const off of unsubscribe) off();
        unsubscribe = [];
        queue.length = 0;
        return;
      }
      // Compiled before anything changes: a bad range leaves the previous settings in force.
      const nextAllowed = settings.neverBan.length === 0 ? null : compileIpRanges([...settings.neverBan]);
      allowed = nextAllowed;
      // A /64 holding an allowed host is not one client: each of its addresses is.
      clients.splitAround(settings.neverBan);
      simulate = settings.simulate;
      if (unsubscribe.length === 0) {
        if (http.length > 0 || detector !== null) unsubscribe.push(events.on('http.request_done', options.batch === true ? enqueue : onRequest));
        if (logins.length > 0) unsubscribe.push(events.on('auth.login_failed', onLoginFailed));
      }
    },
  };
}


/** The decision's reason: what overflowed, for `portcullis decisions`. */
function reasonOf(s: HttpScenario | LoginScenario): string {
  return `more than ${s.capacity} ${s.counts}`;
}
