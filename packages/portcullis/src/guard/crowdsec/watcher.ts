/**
 * Portcullis as a CrowdSec watcher: our own decisions (a scenario's ban, an operator's
 * `portcullis bans add`) are sent to a CrowdSec Local API as alerts, one decision each, so
 * CrowdSec's other bouncers — the firewall's above all — enforce them too.
 *
 * An alert carries every field LAPI 1.4's POST /v1/alerts requires. Its decision has origin
 * `crowdsec`, as the decisions of CrowdSec's own agent do: `cscli decisions list` shows only
 * origins `crowdsec` and `cscli` unless given `--all`, and bouncers take any origin. The
 * scenario `portcullis/<our origin>` says where it came from; a bouncer that also reads this
 * LAPI can skip those (CrowdSecBouncerOptions.ignoreScenarioPrefix). Decisions that came from
 * CrowdSec (origin `crowdsec...`) are never sent back.
 *
 * Sending is batched and never blocks the caller. While the LAPI is down the queue holds at
 * most `maxQueue` decisions (the oldest go first, with a warning); a batch the LAPI keeps
 * refusing with an error status is dropped after `maxAttempts` tries, so one it can never take
 * does not hold up the rest. The duration sent is what is left of the decision when it is
 * sent, so time spent queued does not lengthen a ban.
 */
import type { Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { Decision } from '../../store/index.ts';
import { formatGoDuration, isLapiError, type LapiAlert, type LapiClient } from './lapi-client.ts';
import type { DecisionIndex } from '../decision-index.ts';
import { onNewDecisions } from '../new-decisions.ts';

export interface CrowdSecWatcherOptions {
  client: Pick<LapiClient, 'url' | 'pushAlerts'>;
  clock: Clock;
  logger: Logger;
  /** Decisions waiting at most; default 10 000. */
  maxQueue?: number;
  /** Alerts per request; default 100. */
  batchSize?: number;
  /** How long a push waits for others to join its batch; default 1 s. */
  flushDelayMs?: number;
  /** Between tries while the LAPI fails; default 10 s. */
  retryMs?: number;
  /** Tries of one batch the LAPI answers with an error status; default 5. */
  maxAttempts?: number;
}

export interface CrowdSecWatcherStats {
  queued: number;
  sent: number;
  /** Dropped because the queue was full, the LAPI kept refusing them, or stop() could not send them. */
  dropped: number;
  /** Not sent because they came from CrowdSec, or had expired. */
  skipped: number;
  lastError: string | null;
}

export interface CrowdSecWatcher {
  /** Queues `decision` to be sent; false when it is not one to send (from CrowdSec, or expired). */
  push(decision: Decision): boolean;
  /** Sends what is queued now; resolves when the queue is empty or a send failed (it is retried later). */
  flush(): Promise<void>;
  /** Stops, after one last flush bounded by `timeoutMs` (default 5 s); what is left is dropped. */
  stop(timeoutMs?: number): Promise<void>;
  stats(): CrowdSecWatcherStats;
}

/** The scenario our alerts carry: `portcullis/` and the decision's origin. */
export const SCENARIO_PREFIX = 'portcullis/';
/** Longest message sent (the decision's reason). */
const MAX_MESSAGE = 500;
/** The duration sent for a decision that lasts until lifted: ten years (Go durations end at 292). */
const FOREVER_MS = 10 * 365 * 24 * 3600 * 1000;

/** A watcher sending to `options.client`. */
export function createCrowdSecWatcher(options: CrowdSecWatcherOptions): CrowdSecWatcher {
  const { client, clock, logger } = options;
  const maxQueue = options.maxQueue ?? 10_000;
  const batchSize = options.batchSize ?? 100;
  const flushDelayMs = options.flushDelayMs ?? 1000;
  const retryMs = options.retryMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 5;
  let queue: Decision[] = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;
  let stopped = false;
  let attempts = 0;
  let sent = 0;
  let dropped = 0;
  let skipped = 0;
  let lastError: string | null = null;
  let droppingSince: number | null = null;

  const later = (ms: number): void => {
    if (stopped || timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, ms);
    timer.unref();
  };

  /** Keeps the newest `maxQueue`: while the LAPI is down the oldest bans matter least (they expire first). */
  const trim = (): void => {
    const over = queue.length - maxQueue;
    if (over <= 0) return;
    queue.splice(0, over);
    dropped += over;
    if (droppingSince === null) {
      droppingSince = clock.now();
      logger.warn({ lapi: client.url, maxQueue }, 'CrowdSec watcher: the queue is full (the LAPI has not taken our alerts for a while); dropping the oldest');
    }
  };

  /** The alert for `d`, or null when it has expired. */
  const toAlert = (d: Decision, now: number): LapiAlert | null => {
    const left = d.expiresAt === null ? FOREVER_MS : d.expiresAt - now;
    if (left <= 0) return null;
    const scope = d.scope === 'range' ? 'Range' : 'Ip';
    const scenario = `${SCENARIO_PREFIX}${printable(d.origin, 100)}`;
    const source = scope === 'Range' ? { scope, value: d.value, range: d.value } : { scope, value: d.value, ip: d.value };
    const at = new Date(d.createdAt).toISOString();
    return {
      scenario,
      scenario_hash: '',
      scenario_version: '',
      message: printable(`${d.reason === '' ? d.kind : d.reason} (${d.kind} by Portcullis, ${d.origin})`, MAX_MESSAGE),
      events_count: 1,
      start_at: at,
      stop_at: at,
      capacity: 0,
      leakspeed: '0',
      simulated: false,
      events: [],
      remediation: true,
      source,
      decisions: [{ origin: 'crowdsec', type: d.kind === 'challenge' ? 'captcha' : d.kind, scope, value: d.value, duration: formatGoDuration(left), scenario }],
    };
  };

  const sendBatch = async (): Promise<boolean> => {
    const batch = queue.splice(0, batchSize);
    const now = clock.now();
    const alerts: LapiAlert[] = [];
    for (const d of batch) {
      const alert = toAlert(d, now);
      if (alert === null) skipped++;
      else alerts.push(alert);
    }
    try {
      await client.pushAlerts(alerts);
    } catch (error) {
      const answered = isLapiError(error) && error.lapiStatus !== null && error.lapiStatus !== 401 && error.lapiStatus !== 403;
      attempts = answered ? attempts + 1 : 0;
      const message = (error as Error).message;
      if (answered && attempts >= maxAttempts) {
        // The LAPI keeps refusing this very batch: it will not take it, the rest may go.
        attempts = 0;
        dropped += batch.length;
        logger.warn({ lapi: client.url, err: message, dropped: batch.length }, 'CrowdSec watcher: the LAPI keeps refusing these alerts; dropping them');
      } else {
        queue = batch.concat(queue);
        trim();
        if (message !== lastError) logger.warn({ lapi: client.url, err: message, queued: queue.length }, 'CrowdSec watcher: sending alerts failed; retrying');
      }
      lastError = message;
      return false;
    }
    attempts = 0;
    sent += alerts.length;
    if (lastError !== null) logger.info({ lapi: client.url }, 'CrowdSec watcher: the LAPI takes our alerts again');
    lastError = null;
    droppingSince = null;
    return true;
  };

  /** Sends batches until the queue is empty or one fails (then retries after retryMs). */
  function flush(): Promise<void> {
    flushing ??= (async () => {
      try {
        while (queue.length > 0) {
          if (!(await sendBatch())) {
            later(retryMs);
            return;
          }
        }
      } finally {
        flushing = null;
      }
    })();
    return flushing;
  }

  return {
    push(decision) {
      if (stopped || decision.origin.startsWith('crowdsec') || (decision.expiresAt !== null && decision.expiresAt <= clock.now())) {
        skipped++;
        return false;
      }
      queue.push(decision);
      trim();
      if (flushing === null) later(flushDelayMs);
      return true;
    },
    flush,
    async stop(timeoutMs = 5000) {
      if (stopped) return;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
      // Retries are scheduled by later(), which does nothing once stopped.
      stopped = true;
      await Promise.race([flush(), deadline]);
      if (queue.length > 0) {
        dropped += queue.length;
        logger.warn({ lapi: client.url, dropped: queue.length }, 'CrowdSec watcher: stopped with alerts not sent');
        queue = [];
      }
    },
    stats() {
      return { queued: queue.length, sent, dropped, skipped, lastError };
    },
  };
}

/**
 * `index`, pushing to `watcher` each decision put in force for the first time (new-decisions.ts).
 * Give this (not the bare index) to the DecisionSync.
 */
export function forwardNewDecisions(index: DecisionIndex, watcher: Pick<CrowdSecWatcher, 'push'>): DecisionIndex {
  return onNewDecisions(index, (decision) => watcher.push(decision));
}

/** Control characters out, length capped. */
function printable(text: string, max: number): string {
  const clean = text.replace(/[\p{Cc}]/gu, ' ');
  return clean.length > max ? clean.slice(0, max) : clean;
}
