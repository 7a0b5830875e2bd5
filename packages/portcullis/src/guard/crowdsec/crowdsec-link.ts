/**
 * The guard's link to a CrowdSec Local API across reloads: a bouncer that enforces the LAPI's
 * decisions in the guard's index (when `api_key` is set) and a watcher that sends our own
 * decisions there as alerts (when `machine_id` and `password` are set and `push` is on).
 *
 * main.ts loads this module only for a config with a `crowdsec` block, so nobody else pays
 * for the LAPI client and undici. A reload with the same settings keeps everything running;
 * changed settings replace the client, bouncer and watcher (the old bouncer's decisions are
 * dropped from the index first, the new one starts from a full stream).
 */
import type { CrowdSecConfig } from '../../config/types.ts';
import type { Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { Decision } from '../../store/index.ts';
import type { DecisionIndex } from '../decision-index.ts';
import { createCrowdSecBouncer, type CrowdSecBouncer } from './bouncer.ts';
import { createLapiClient, type LapiClient } from './lapi-client.ts';
import { createCrowdSecWatcher, SCENARIO_PREFIX, type CrowdSecWatcher } from './watcher.ts';

export interface CrowdSecLink {
  /** Applies one load's settings; resolves once a replaced link has stopped. */
  configure(settings: CrowdSecConfig): Promise<void>;
  /** A decision of ours just put in force: to the watcher, if there is one. */
  push(decision: Decision): void;
  /** The index was refilled from another store (which empties it): stream everything again. */
  resync(): void;
  close(): Promise<void>;
}

interface Running {
  key: string;
  client: LapiClient;
  bouncer: CrowdSecBouncer | null;
  watcher: CrowdSecWatcher | null;
}

export function createCrowdSecLink(deps: { index: DecisionIndex; clock: Clock; logger: Logger }): CrowdSecLink {
  const { index, clock } = deps;
  const logger = deps.logger.child({ module: 'crowdsec' });
  let running: Running | null = null;

  const stop = async (r: Running): Promise<void> => {
    if (r.bouncer !== null) {
      await r.bouncer.stop();
      r.bouncer.clear();
    }
    await r.watcher?.stop();
    await r.client.close();
  };

  const start = (settings: CrowdSecConfig): Running => {
    const client = createLapiClient({ url: settings.lapiUrl, apiKey: settings.apiKey, machineId: settings.machineId, password: settings.password, clock, logger });
    const watcher = settings.push && settings.machineId !== null && settings.password !== null ? createCrowdSecWatcher({ client, clock, logger }) : null;
    const bouncer =
      settings.apiKey === null
        ? null
        : createCrowdSecBouncer({
            client,
            index,
            clock,
            logger,
            intervalMs: settings.pollIntervalMs,
            // Our own decisions come back in the stream when we also push: enforcing that copy
            // would outlive `portcullis bans delete` of the original.
            ignoreScenarioPrefix: watcher === null ? null : SCENARIO_PREFIX,
          });
    // Never rejects; listening does not wait for the LAPI.
    void bouncer?.start();
    logger.info({ lapi: client.url, bouncer: bouncer !== null, watcher: watcher !== null }, 'crowdsec: linked to the Local API');
    return { key: settingsKey(settings), client, bouncer, watcher };
  };

  return {
    async configure(settings) {
      if (running !== null && running.key === settingsKey(settings)) return;
      const previous = running;
      running = null;
      // The old bouncer's decisions leave the index before the new one's arrive (both use
      // the LAPI's ids).
      if (previous !== null) await stop(previous).catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'crowdsec: stopping the previous link failed'));
      running = start(settings);
    },
    push(decision) {
      running?.watcher?.push(decision);
    },
    resync() {
      const bouncer = running?.bouncer;
      if (!bouncer) return;
      void bouncer.stop().then(() => bouncer.start());
    },
    async close() {
      const r = running;
      running = null;
      if (r !== null) await stop(r);
    },
  };
}

/** What makes two loads' settings the same link (source locations aside). */
function settingsKey(s: CrowdSecConfig): string {
  return JSON.stringify([s.lapiUrl, s.apiKey, s.machineId, s.password, s.pollIntervalMs, s.push]);
}
