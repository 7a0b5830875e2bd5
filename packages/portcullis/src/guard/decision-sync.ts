/**
 * Keeps this process's decision index in step with the store: every active decision at
 * start, then the changes since the last version every couple of seconds, so a ban added or
 * lifted with `portcullis bans` from another process takes effect within one poll. Expired
 * decisions are dropped from the index once a minute and from the store every ten.
 */
import type { Logger } from '../kernel/logger.ts';
import type { Decision, DecisionRepository, NewDecision } from '../store/index.ts';
import type { DecisionIndex } from './decision-index.ts';

export interface DecisionSyncOptions {
  decisions: DecisionRepository;
  index: DecisionIndex;
  logger: Logger;
  /** Between polls; default 2s. */
  intervalMs?: number;
  /** Between prune() of the index; default 1 min. */
  pruneEveryMs?: number;
  /** Between deleteExpired() in the store; default 10 min. */
  purgeEveryMs?: number;
}

export interface DecisionSync {
  /** Loads every active decision into the index and starts polling. */
  start(): Promise<void>;
  /** Applies the store's changes now (serialised with the timer's polls). */
  poll(): Promise<void>;
  /** Stores a decision and has it in force before resolving. */
  add(input: NewDecision): Promise<Decision>;
  /** Lifts by id and has the lift in force before resolving; false when there was none. */
  remove(id: number): Promise<boolean>;
  /** Lifts every decision on exactly `value`, in force before resolving; returns how many. */
  removeByValue(value: string): Promise<number>;
  stop(): void;
}

/** Changes read per query, and most pages applied in one poll (so a poll is bounded). */
const PAGE = 10_000;
const MAX_PAGES_PER_POLL = 100;

export function createDecisionSync(options: DecisionSyncOptions): DecisionSync {
  const { decisions, index, logger } = options;
  const intervalMs = options.intervalMs ?? 2000;
  const pruneEveryMs = options.pruneEveryMs ?? 60_000;
  const purgeEveryMs = options.purgeEveryMs ?? 600_000;
  let version = 0;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let lastError: string | null = null;
  let lastPrune = 0;
  let lastPurge = 0;

  async function pollOnce(): Promise<void> {
    for (let page = 0; page < MAX_PAGES_PER_POLL; page++) {
      const changes = await decisions.changedSince(version, PAGE);
      for (const id of changes.removed) index.remove(id);
      for (const decision of changes.added) index.add(decision);
      version = changes.version;
      if (changes.added.length + changes.removed.length < PAGE) break;
    }
    const now = Date.now();
    if (now - lastPrune >= pruneEveryMs) {
      lastPrune = now;
      index.prune();
    }
    if (now - lastPurge >= purgeEveryMs) {
      lastPurge = now;
      const purged = await decisions.deleteExpired();
      if (purged > 0) logger.debug({ purged }, 'expired guard decisions removed from the store');
    }
  }

  /** One poll at a time: the timer's and the immediate ones queue behind each other. */
  function serialized(): Promise<void> {
    const next = running.then(pollOnce, pollOnce);
    running = next.catch(() => undefined);
    return next;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      serialized().then(
        () => {
          if (lastError !== null) logger.info('guard decisions: the store answers again');
          lastError = null;
        },
        (error: unknown) => {
          // Logged once per distinct failure, not every two seconds.
          const message = (error as Error).message;
          if (message !== lastError) logger.warn({ err: message }, 'guard decisions: polling the store failed; the decisions in force stay until it answers');
          lastError = message;
        },
      ).finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    async start() {
      // The version first: changes made while the list is read are applied again by the
      // first poll, which is harmless (add replaces by id, remove of an absent id is a no-op).
      version = await decisions.version();
      index.replaceAll(await decisions.list());
      lastPrune = lastPurge = Date.now();
      logger.debug({ decisions: index.size }, 'guard decisions loaded');
      schedule();
    },
    poll: serialized,
    async add(input) {
      const decision = await decisions.add(input);
      await serialized();
      return decision;
    },
    async remove(id) {
      const removed = await decisions.remove(id);
      await serialized();
      return removed;
    },
    async removeByValue(value) {
      const removed = await decisions.removeByValue(value);
      await serialized();
      return removed;
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
