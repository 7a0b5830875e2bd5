/**
 * Portcullis as a CrowdSec bouncer: pulls the decisions of a CrowdSec Local API in stream mode
 * (every active decision first, then what changed, every `intervalMs`) and puts them in force
 * in the guard's DecisionIndex, next to the store's decisions, so the gate refuses those
 * addresses as it refuses our own bans.
 *
 * What maps to what:
 *   scope `Ip` -> 'ip', `Range` -> 'range' (normalised as ours are); other scopes (Country, AS,
 *     Username, ...) are ignored and counted: the gate judges addresses only.
 *   type `ban` -> 'ban', `captcha` -> 'challenge', `throttle` -> 'throttle', anything else ->
 *     'ban' (what CrowdSec's own bouncers fall back to for a remediation they do not know).
 *   origin `crowdsec:<scenario>`, reason the scenario.
 *
 * The LAPI is not trusted to be well-behaved: a deletion of a decision we do not hold is a
 * no-op (LAPI 1.4 repeats deletions), at most `maxDecisions` are held, ranges wider than /8
 * (IPv4) or /16 (IPv6) are refused as the CLI refuses them, and a failed poll keeps what is
 * enforced and asks for everything again next time (the LAPI may have moved this key's
 * cursor past changes we never received).
 */
import type { Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { Decision, DecisionKind } from '../../store/index.ts';
import type { DecisionIndex } from '../decision-index.ts';
import { formatIpPrefix, isSingleAddress, parseIpPrefix } from '../ip-prefix.ts';
import { isLapiError, type LapiClient, type LapiDecision } from './lapi-client.ts';

export interface CrowdSecBouncerOptions {
  client: Pick<LapiClient, 'url' | 'streamDecisions'>;
  /** The guard's index, shared with the store's decisions. */
  index: DecisionIndex;
  clock: Clock;
  logger: Logger;
  /** Between polls; default 10 s. */
  intervalMs?: number;
  /** Most decisions held from the LAPI, and read per poll; default 1 000 000. */
  maxDecisions?: number;
  /**
   * Decisions whose scenario starts with this are not enforced (counted as `own`): set it to
   * `portcullis/` when this process also pushes to the same LAPI as a watcher, so our own
   * decisions coming back do not outlive a lift of the original.
   */
  ignoreScenarioPrefix?: string | null;
}

/** What the bouncer has done so far, for logs, tests and metrics. */
export interface CrowdSecBouncerStats {
  /** Decisions from the LAPI in force now (or until their expiry is noticed). */
  held: number;
  polls: number;
  failedPolls: number;
  /** Decisions not enforced, by why: `scope:Country`, `own`, `too-wide`, `bad-value`, `expired`, `over-limit`, `unreadable`. */
  ignored: Record<string, number>;
  /** The last failure, while polls fail; null when the last poll worked. */
  lastError: string | null;
  /** When the last poll worked (clock ms); null before. */
  lastSuccessAt: number | null;
}

/** What one poll changed. */
export interface BouncerPollResult {
  startup: boolean;
  added: number;
  removed: number;
  ignored: number;
  truncated: boolean;
}

export interface CrowdSecBouncer {
  /** Pulls everything the LAPI holds (logging, not throwing, when that fails) and starts polling. */
  start(): Promise<void>;
  /** Polls now (serialised with the timer's polls). Rejects with the LAPI client's error. */
  poll(): Promise<BouncerPollResult>;
  /**
   * Stops polling (aborting a poll in flight) and resolves once no poll runs; what is in force
   * stays. The next start() pulls everything again.
   */
  stop(): Promise<void>;
  /** Lifts every decision this bouncer put in force (after stop(), when CrowdSec is configured away). */
  clear(): void;
  stats(): CrowdSecBouncerStats;
}

/** Narrowest ranges enforced, as `portcullis bans add` refuses wider ones (decision-admin.ts). */
const WIDEST_V4 = 8;
const WIDEST_V6 = 16;
/** Longest scenario name kept in an origin; a longer one is cut. */
const MAX_SCENARIO = 120;
/** Between sweeps of our own expired decisions out of the index. */
const SWEEP_EVERY_MS = 60_000;

const KINDS: Record<string, DecisionKind> = { ban: 'ban', captcha: 'challenge', throttle: 'throttle' };

/** A bouncer pulling from `options.client` into `options.index`. */
export function createCrowdSecBouncer(options: CrowdSecBouncerOptions): CrowdSecBouncer {
  const { client, index, clock, logger } = options;
  const intervalMs = options.intervalMs ?? 10_000;
  const maxDecisions = options.maxDecisions ?? 1_000_000;
  const ownPrefix = options.ignoreScenarioPrefix ?? null;
  /**
   * Index id -> expiry of each decision we put in force. Index ids are the NEGATIVE of the
   * LAPI's ids: the store's ids are positive integers, so the two never collide in the one
   * index, and a lift of one never lifts the other.
   */
  const held = new Map<number, number>();
  const ignored: Record<string, number> = Object.create(null) as Record<string, number>;
  let startup = true;
  let stopped = true;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  let polls = 0;
  let failedPolls = 0;
  /** The last poll's failure (any caller's), for stats(). */
  let lastFailure: string | null = null;
  /** The failure last logged by the timer's polls, so a streak is logged once. */
  let lastError: string | null = null;
  let lastSuccessAt: number | null = null;
  let lastSweep = 0;
  let warnedOverLimit = false;
  /** Aborts the poll in flight, on stop(). */
  let inFlight: AbortController | null = null;

  const count = (why: string, n = 1): void => {
    // Scope names come from the LAPI: a bounded number of distinct keys.
    const key = why in ignored || Object.keys(ignored).length < 100 ? why : 'other';
    ignored[key] = (ignored[key] ?? 0) + n;
  };

  const lift = (id: number): boolean => {
    if (!held.delete(id)) return false;
    index.remove(id);
    return true;
  };

  /** The Decision to put in force for `d`, or why none. */
  const toDecision = (d: LapiDecision, now: number): Decision | string => {
    const scope = d.scope.toLowerCase();
    if (scope !== 'ip' && scope !== 'range') return `scope:${printable(d.scope, 32)}`;
    if (ownPrefix !== null && d.scenario.startsWith(ownPrefix)) return 'own';
    if (d.durationMs <= 0) return 'expired';
    const prefix = parseIpPrefix(d.value.trim());
    if (prefix === null || (scope === 'ip' && !isSingleAddress(prefix))) return 'bad-value';
    if (prefix.bits < (prefix.family === 4 ? WIDEST_V4 : WIDEST_V6)) return 'too-wide';
    const scenario = printable(d.scenario, MAX_SCENARIO);
    return {
      id: -d.id,
      kind: KINDS[d.type.toLowerCase()] ?? 'ban',
      scope: isSingleAddress(prefix) ? 'ip' : 'range',
      value: formatIpPrefix(prefix),
      reason: scenario,
      origin: scenario === '' ? 'crowdsec' : `crowdsec:${scenario}`,
      createdAt: now,
      expiresAt: Math.round(now + d.durationMs),
    };
  };

  async function pollOnce(): Promise<BouncerPollResult> {
    const asStartup = startup;
    const result: BouncerPollResult = { startup: asStartup, added: 0, removed: 0, ignored: 0, truncated: false };
    const seen = asStartup ? new Set<number>() : null;
    const now = clock.now();
    let overLimit = 0;
    polls++;
    const aborter = new AbortController();
    inFlight = aborter;
    try {
      const summary = await client.streamDecisions({
        startup: asStartup,
        signal: aborter.signal,
        maxElements: 2 * maxDecisions,
        onDecision(list, d) {
          if (list === 'deleted') {
            // LAPI 1.4 sends the same deletion again on later polls: absent ids are fine.
            if (lift(-d.id)) result.removed++;
            return;
          }
          const decision = toDecision(d, now);
          if (typeof decision === 'string') {
            count(decision);
            result.ignored++;
            // A decision we held that changed into something we ignore goes.
            if (lift(-d.id)) result.removed++;
            return;
          }
          if (!held.has(decision.id) && held.size >= maxDecisions) {
            overLimit++;
            count('over-limit');
            result.ignored++;
            return;
          }
          seen?.add(decision.id);
          if (index.add(decision)) {
            held.set(decision.id, decision.expiresAt!);
            result.added++;
          } else {
            held.delete(decision.id);
          }
        },
      });
      if (summary.skipped > 0) {
        count('unreadable', summary.skipped);
        result.ignored += summary.skipped;
      }
      result.truncated = summary.truncated;
    } catch (error) {
      // What the LAPI sent before failing is applied; the rest we ask for again, all of it.
      startup = true;
      failedPolls++;
      lastFailure = (error as Error).message;
      throw error;
    } finally {
      inFlight = null;
    }
    if (seen !== null && !result.truncated) {
      // Everything in force is in a startup reply: what it does not name was lifted while we
      // were not listening.
      for (const id of [...held.keys()]) if (!seen.has(id) && lift(id)) result.removed++;
    }
    startup = false;
    if (overLimit > 0 || result.truncated) {
      if (!warnedOverLimit) logger.warn({ lapi: client.url, maxDecisions, notEnforced: overLimit, truncated: result.truncated }, 'CrowdSec: the LAPI holds more decisions than this bouncer keeps; the rest are not enforced');
      warnedOverLimit = true;
    } else warnedOverLimit = false;
    if (now - lastSweep >= SWEEP_EVERY_MS) {
      lastSweep = now;
      for (const [id, expiresAt] of held) if (expiresAt <= now) lift(id);
    }
    lastSuccessAt = now;
    lastFailure = null;
    return result;
  }

  /** One poll at a time: the timer's and the immediate ones queue behind each other. */
  function serialized(): Promise<BouncerPollResult> {
    const next = running.then(pollOnce, pollOnce);
    running = next.catch(() => undefined);
    return next;
  }

  /** Logs the first failure of a streak (and a change of failure), and the recovery. */
  function report(outcome: Promise<BouncerPollResult>): Promise<void> {
    return outcome.then(
      (result) => {
        if (lastError !== null) logger.info({ lapi: client.url }, 'CrowdSec: the LAPI answers again');
        else if (result.added + result.removed > 0) logger.debug({ lapi: client.url, ...result }, 'CrowdSec decisions applied');
        lastError = null;
      },
      (error: unknown) => {
        if (stopped) return;
        const message = (error as Error).message;
        if (message !== lastError) {
          const refused = isLapiError(error) && (error.lapiStatus === 401 || error.lapiStatus === 403);
          const fields = { lapi: client.url, err: message, held: held.size };
          if (refused) logger.error(fields, 'CrowdSec: the LAPI refuses our bouncer API key; the decisions in force stay, and polling goes on');
          else logger.warn(fields, 'CrowdSec: polling the LAPI failed; the decisions in force stay until it answers');
        }
        lastError = message;
      },
    );
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      void report(serialized()).finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    async start() {
      if (!stopped) return;
      stopped = false;
      startup = true;
      await report(serialized());
      if (lastError === null) logger.info({ lapi: client.url, decisions: held.size }, 'CrowdSec bouncer started');
      schedule();
    },
    poll: serialized,
    async stop() {
      stopped = true;
      startup = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      inFlight?.abort();
      await running;
    },
    clear() {
      for (const id of [...held.keys()]) lift(id);
    },
    stats() {
      return { held: held.size, polls, failedPolls, ignored: { ...ignored }, lastError: lastFailure, lastSuccessAt };
    },
  };
}

/** Control characters out, length capped: scenario names come from the LAPI and go into logs. */
function printable(text: string, max: number): string {
  const clean = text.replace(/[\p{Cc}]/gu, ' ').trim();
  return clean.length > max ? clean.slice(0, max) : clean;
}
