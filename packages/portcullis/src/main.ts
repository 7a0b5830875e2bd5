/**
 * Composition root: load config -> build modules -> wire them -> listen -> reload / stop.
 * The only file that knows every module.
 */
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { startAdminServer, type AdminServer } from './admin/index.ts';
import { loadConfig, parseConfigJson, type ConfigAdapter } from './config/index.ts';
import type { Config } from './config/types.ts';
import { systemClock } from './kernel/clock.ts';
import { EventBus } from './kernel/events.ts';
import { createLogger, type Logger } from './kernel/logger.ts';
import { loadMetricsKit, type MetricsKit } from './kernel/metrics.ts';
import { buildRuntime, configUsesMetrics, createFrontDoor, type Runtime, type RuntimeDeps } from './proxy/index.ts';
import { ErrorCodes, PortcullisError } from './kernel/errors.ts';

export interface StartOptions {
  configFile: string;
  adapter?: ConfigAdapter;
  logger?: Logger;
  env?: Record<string, string | undefined>;
}

export interface Instance {
  config(): Config;
  /** Re-reads the config file; the old config keeps serving when the new one is bad. */
  reload(): Promise<void>;
  /** Applies an adapted JSON config (admin `/load`). */
  load(config: Config): Promise<void>;
  /** Bound listener addresses by listener key. */
  addresses(): Map<string, { address: string; port: number }>;
  adminAddress(): { host: string; port: number } | null;
  /** Graceful: stops accepting, lets in-flight requests finish within the grace period. */
  stop(): Promise<void>;
  /** Resolves when the instance has stopped (admin `/stop`, a signal, or stop()). */
  stopped: Promise<void>;
}

export async function start(options: StartOptions): Promise<Instance> {
  // Regexps from config (path_regexp, header_regexp) meet hostile input; past a backtracking
  // budget V8 switches to its linear-time engine instead of hanging the event loop (ReDoS).
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  const configFile = resolve(options.configFile);
  const adapter = options.adapter ?? (configFile.endsWith('.json') ? 'json' : 'caddyfile');
  const read = () => loadConfig(configFile, { adapter, env: options.env ?? process.env });
  let config = read();
  const ownLogger = options.logger === undefined;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const events = new EventBus();
  let metrics: MetricsKit | null = null;
  const depsFor = async (next: Config): Promise<RuntimeDeps> => {
    if (metrics === null && configUsesMetrics(next)) metrics = await loadMetricsKit();
    return { logger, events, clock: systemClock, metrics, configFile };
  };
  const front = createFrontDoor({ logger, events });

  await front.apply(buildRuntime(config, await depsFor(config)));

  // Reloads run one at a time: two overlapping ones must not interleave their listener changes.
  let queue: Promise<void> = Promise.resolve();
  let admin: AdminServer | null = null;
  let stopRequested = false;

  /** All or nothing: a new admin address is bound before the runtime swaps, and both roll back together. */
  async function applyConfig(next: Config): Promise<void> {
    if (stopRequested) throw new PortcullisError(ErrorCodes.ERR_ADMIN, 'the instance is stopping; config not applied');
    const adminMoved = next.admin.listen !== config.admin.listen;
    const newAdmin = adminMoved && next.admin.listen !== null ? await startAdmin(next.admin.listen) : null;
    let runtime: Runtime | null = null;
    try {
      runtime = buildRuntime(next, await depsFor(next));
      await front.apply(runtime);
    } catch (error) {
      await runtime?.dispose();
      await newAdmin?.close();
      throw error;
    }
    config = next;
    if (ownLogger) logger.level = next.logLevel;
    if (adminMoved) {
      const old = admin;
      admin = newAdmin;
      // Not awaited: the `/load` request that asked for this move is still waiting for its answer.
      void old?.close();
    }
    events.emit('config.reloaded', { ok: true });
    logger.info({ sites: next.sites.length }, 'config applied');
  }

  function serialized(task: () => Promise<void>): Promise<void> {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;

  const instance: Instance = {
    config: () => config,
    reload: () =>
      serialized(async () => {
        try {
          await applyConfig(read());
        } catch (error) {
          events.emit('config.reloaded', { ok: false, error: (error as Error).message });
          throw error;
        }
      }),
    load: (next) => serialized(() => applyConfig(next)),
    addresses: () => front.addresses(),
    adminAddress: () => admin?.address() ?? null,
    stop() {
      stopRequested = true;
      stopping ??= (async () => {
        logger.info('stopping');
        // A reload that is opening listeners finishes first, so close() sees all of them.
        await queue;
        await admin?.close();
        await front.close(config.server.gracePeriodMs);
        resolveStopped();
      })();
      return stopping;
    },
    stopped,
  };

  function startAdmin(listen: string): Promise<AdminServer> {
    return startAdminServer(
      listen,
      {
        currentConfig: () => config,
        load: (value) => instance.load(parseConfigJson(value)),
        reload: () => instance.reload(),
        stop: () => void instance.stop(),
      },
      logger,
    );
  }

  try {
    if (config.admin.listen !== null) admin = await startAdmin(config.admin.listen);
  } catch (error) {
    await front.close(0);
    throw error;
  }
  logger.info({ config: configFile, listeners: [...front.addresses().keys()] }, 'serving');
  return instance;
}
