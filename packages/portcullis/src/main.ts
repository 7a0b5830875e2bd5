/**
 * Composition root: load config -> build modules -> wire them -> listen -> reload / stop.
 * The only file that knows every module.
 */
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { startAdminServer, type AdminServer } from './admin/index.ts';
import { CHALLENGE_DEFAULT_CLEARANCE_MS, CHALLENGE_DEFAULT_DIFFICULTY, identityIssuer, knownScopes, loadConfig, parseConfigJson, type ConfigAdapter } from './config/index.ts';
import type { Config, CrowdSecConfig } from './config/types.ts';
import { systemClock, type Clock } from './kernel/clock.ts';
import { EventBus } from './kernel/events.ts';
import { createLogger, type Logger } from './kernel/logger.ts';
import { loadMetricsKit, type MetricsKit } from './kernel/metrics.ts';
import {
  buildRuntime,
  configUsesIdentity,
  configUsesMetrics,
  createFrontDoor,
  httpsSites,
  type HttpsSite,
  type Authenticator,
  type IdentityEndpoint,
  type Runtime,
  type RuntimeDeps,
} from './proxy/index.ts';
import { defaultStorageDir } from './kernel/data-dir.ts';
import {
  createBlocklistFiles,
  createClientIpSetup,
  createDecisionAdmin,
  createDecisionIndex,
  createDecisionSync,
  onNewDecisions,
  createChallenges,
  loadChallengeSecret,
  createGate,
  createGateStats,
  createRateLimiter,
  compileRequestRules,
  createScenarioEngine,
  countingDecisionIndex,
  createDecisionCounts,
  registerGuardMetrics,
  type BlocklistFiles,
  type Challenges,
  type DecisionAdmin,
  type DecisionSync,
  type Gate,
  type GuardMetricsSource,
  type RequestRules,
} from './guard/index.ts';
import type { Identity, IdentityAdmin } from './identity/index.ts';
import type { Store } from './store/index.ts';
import type { CrowdSecLink } from './guard/crowdsec/crowdsec-link.ts';
import type { CertificateManager, ChallengeType, TlsSite } from './tls/index.ts';
import { ErrorCodes, PortcullisError } from './kernel/errors.ts';

export interface StartOptions {
  configFile: string;
  adapter?: ConfigAdapter;
  logger?: Logger;
  env?: Record<string, string | undefined>;
  /** The bus the instance emits its events on (`http.request_done`, `auth.*`); default a new one. Tests listen here. */
  events?: EventBus;
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
  /** The one-time link that creates the first administrator: set when the store had no users at start, null once used. */
  identitySetupLink(): string | null;
  /** Path of the internal CA's root certificate (created if needed); null without HTTPS sites. */
  certificateAuthority(): Promise<string | null>;
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
  const events = options.events ?? new EventBus();
  let metrics: MetricsKit | null = null;
  let certificates: CertificateManager | null = null;
  let certificatesFor = '';
  /** Certificates for every HTTPS site, before the runtime that serves them goes live. */
  const prepareTls = async (next: Config): Promise<void> => {
    const sites = httpsSites(next);
    if (sites.length === 0) return;
    const settings = JSON.stringify(next.tls);
    if (certificates === null || certificatesFor !== settings) {
      // Only a serving instance answers ACME challenges, so only it orders certificates;
      // without redirects' HTTP listener (auto_https off) HTTP-01 cannot be answered.
      const fresh = await openCertificates(next, logger, next.autoHttps === 'off' ? ['tls-alpn-01'] : ['http-01', 'tls-alpn-01']);
      await certificates?.close();
      certificates = fresh;
      certificatesFor = settings;
    }
    await certificates.prepare(tlsSitesOf(sites));
  };
  // One connection per database file, shared by identity and the guard (two connections in
  // one process would wait on each other's write lock with the event loop blocked).
  const stores = createStoreHolder(systemClock);
  const identity = createIdentityHolder({ logger, events, clock: systemClock, env: options.env ?? process.env, stores });
  const guard = createGuardHolder({ logger, events, clock: systemClock, env: options.env ?? process.env, stores });
  // Once per process: every runtime a reload builds counts on the same counters.
  const rateLimiter = createRateLimiter({ clock: systemClock });
  const depsFor = async (next: Config): Promise<RuntimeDeps> => {
    if (metrics === null && configUsesMetrics(next)) metrics = await loadMetricsKit();
    // Before TLS and identity: a trusted-proxy list that cannot be read fails the load early.
    const clientIp = createClientIpSetup(next.server);
    await prepareTls(next);
    const prepared = await identity.prepare(next);
    const guarded = await guard.prepare(next);
    if (metrics !== null && guarded !== null) registerGuardMetrics(metrics, guard.metrics);
    return {
      logger,
      events,
      clock: systemClock,
      metrics,
      identity: prepared?.http ?? null,
      authenticator: prepared?.authenticator ?? null,
      configFile,
      httpsAvailable: true,
      clientIp: clientIp.resolve,
      trustedProxies: clientIp.trustedProxies,
      rateLimiter,
      gate: guarded?.gate ?? null,
      challenge: guarded?.challenges.responder ?? null,
    };
  };
  const front = createFrontDoor({ logger, events, certificates: () => certificates });

  try {
    await front.apply(buildRuntime(config, await depsFor(config)));
  } catch (error) {
    // The guard's poller and the database must not outlive an instance that never started.
    await guard.close();
    await identity.close();
    throw error;
  }

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
    identitySetupLink: () => identity.setupLink(),
    certificateAuthority: async () => (certificates === null ? null : await certificates.ensureRootCertificate()),
    stop() {
      stopRequested = true;
      stopping ??= (async () => {
        logger.info('stopping');
        // A reload that is opening listeners finishes first, so close() sees all of them.
        await queue;
        await admin?.close();
        await front.close(config.server.gracePeriodMs);
        await certificates?.close();
        await guard.close();
        await identity.close();
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
    await guard.close();
    await identity.close();
    throw error;
  }
  logger.info({ config: configFile, listeners: [...front.addresses().keys()] }, 'serving');
  return instance;
}

/**
 * `portcullis validate`: everything `start` does short of listening: load, get certificates
 * for HTTPS sites (so bad certificate files are reported), compile every route.
 */
export async function checkConfig(options: StartOptions): Promise<Config> {
  const configFile = resolve(options.configFile);
  const config = loadConfig(configFile, { ...(options.adapter ? { adapter: options.adapter } : {}), env: options.env ?? process.env });
  const logger = options.logger ?? createLogger({ level: 'warn' });
  const sites = httpsSites(config);
  let certificates: CertificateManager | null = null;
  try {
    if (sites.length > 0) {
      // No challenges: validating must never order a certificate.
      certificates = await openCertificates(config, logger, []);
      await certificates.prepare(tlsSitesOf(sites));
    }
    const clientIp = createClientIpSetup(config.server);
    const metrics = configUsesMetrics(config) ? await loadMetricsKit() : null;
    // Validating checks the identity settings but opens no database: nothing is written.
    const identity = configUsesIdentity(config) ? await checkIdentity(config) : null;
    const gate = await checkGate(config, logger);
    const runtime = buildRuntime(config, {
      logger,
      events: new EventBus(),
      clock: systemClock,
      metrics,
      identity: identity?.http ?? null,
      authenticator: identity?.authenticator ?? null,
      configFile,
      httpsAvailable: true,
      clientIp: clientIp.resolve,
      trustedProxies: clientIp.trustedProxies,
      rateLimiter: createRateLimiter({ clock: systemClock }),
      gate,
    });
    await runtime.dispose();
    return config;
  } finally {
    await certificates?.close();
  }
}

/** The TLS module, loaded only when a site uses HTTPS: its X.509 library is not free in memory. */
async function openCertificates(config: Config, logger: Logger, acmeChallenges: ChallengeType[]): Promise<CertificateManager> {
  const tls = await import('./tls/index.ts');
  return tls.createCertificateManager({ storage: config.tls.storage, global: config.tls, logger, clock: systemClock, acmeChallenges });
}

function tlsSitesOf(sites: HttpsSite[]): TlsSite[] {
  return sites.map(({ site, hosts }) => ({ name: site.name, source: site.source, hosts, tls: site.tls }));
}

/** The issuer: the configured one, else the origin of the site serving identity_provider. */
function issuerOf(config: Config): string {
  const issuer = identityIssuer(config);
  if (issuer === null) {
    throw new PortcullisError(
      ErrorCodes.ERR_IDENTITY_CONFIG,
      'set `issuer` in the identity block: the site serving identity_provider has no single host and port to derive it from',
    );
  }
  return issuer;
}

function databasePath(config: Config, env: Record<string, string | undefined>): string {
  return config.database.path ?? resolve(defaultStorageDir(env as NodeJS.ProcessEnv), 'portcullis.db');
}

async function openStore(path: string, clock: Clock): Promise<Store> {
  const { openSqliteStore } = await import('./store/index.ts');
  return openSqliteStore({ path, clock });
}

/** `portcullis validate`: the identity settings that can be checked without the database. */
async function checkIdentity(config: Config): Promise<{ http: IdentityEndpoint; authenticator: Authenticator }> {
  issuerOf(config);
  const { checkIdentityConfig } = await import('./identity/index.ts');
  await checkIdentityConfig(config.identity!);
  const unused = () => Promise.reject(new PortcullisError(ErrorCodes.ERR_INTERNAL, 'a validated config does not serve requests'));
  return { http: { handle: unused }, authenticator: { cookiePrefix: '', identify: unused, signInUrl: () => '', assertion: unused } };
}

/** Opened stores by database file, shared by the modules of one process. */
interface StoreHolder {
  /** The store at `path`, opened on first use; each acquire is paired with one release. */
  acquire(path: string): Promise<Store>;
  /** Closes the store when its last user releases it. */
  release(store: Store): Promise<void>;
}

function createStoreHolder(clock: Clock): StoreHolder {
  const byPath = new Map<string, { opening: Promise<Store>; users: number }>();
  const pathOf = new Map<Store, string>();
  return {
    async acquire(path) {
      let entry = byPath.get(path);
      if (entry === undefined) {
        entry = { opening: openStore(path, clock), users: 0 };
        byPath.set(path, entry);
      }
      entry.users++;
      try {
        const store = await entry.opening;
        pathOf.set(store, path);
        return store;
      } catch (error) {
        if (--entry.users === 0) byPath.delete(path);
        throw error;
      }
    },
    async release(store) {
      const path = pathOf.get(store);
      const entry = path === undefined ? undefined : byPath.get(path);
      if (path === undefined || entry === undefined) return;
      if (--entry.users > 0) return;
      byPath.delete(path);
      pathOf.delete(store);
      await store.close();
    },
  };
}

interface IdentityHolder {
  /** Opens the store and builds the provider when the config serves identity_provider (on every load). */
  prepare(config: Config): Promise<{ http: IdentityEndpoint; authenticator: Authenticator } | null>;
  setupLink(): string | null;
  close(): Promise<void>;
}

/**
 * The identity module and its store across reloads: loaded only when a site serves
 * identity_provider (oidc-provider is not free in memory), rebuilt when its settings change.
 */
function createIdentityHolder(deps: { logger: Logger; events: EventBus; clock: Clock; env: Record<string, string | undefined>; stores: StoreHolder }): IdentityHolder {
  let store: Store | null = null;
  let storePath = '';
  let current: Identity | null = null;
  const closeAll = async () => {
    await current?.close();
    if (store !== null) await deps.stores.release(store);
    current = null;
    store = null;
  };
  return {
    // Rebuilt on every load, not only when its settings changed: a reload is also how keys
    // rotated with `portcullis keys rotate` and new templates take effect.
    async prepare(config) {
      if (!configUsesIdentity(config)) {
        await closeAll();
        return null;
      }
      const issuer = issuerOf(config);
      const path = databasePath(config, deps.env);
      // A config that fails here (a bad template directory, say) leaves the old one serving.
      const reuse = store !== null && storePath === path;
      const nextStore = reuse ? store! : await deps.stores.acquire(path);
      let next: Identity;
      try {
        const { createIdentity } = await import('./identity/index.ts');
        next = await createIdentity({
          config: config.identity!,
          issuer,
          servedHosts: config.sites.flatMap((site) => site.addresses.map((a) => a.host)).filter((h) => h !== ''),
          // The static ranges only: the proxies that call the forward-auth endpoint are your
          // own; Cloudflare's ranges (shared by all its customers) never need to.
          trustedProxies: config.server.trustedProxies,
          store: nextStore,
          clock: deps.clock,
          events: deps.events,
          logger: deps.logger,
        });
      } catch (error) {
        if (!reuse) await deps.stores.release(nextStore);
        throw error;
      }
      const [oldIdentity, oldStore] = [current, reuse ? null : store];
      current = next;
      store = nextStore;
      storePath = path;
      await oldIdentity?.close();
      if (oldStore !== null) await deps.stores.release(oldStore);
      return next;
    },
    setupLink: () => current?.setupLink() ?? null,
    close: closeAll,
  };
}

/** What the administration commands are given: the config file to find the database through. */
interface AdminOptions {
  configFile: string;
  adapter?: ConfigAdapter;
  env?: Record<string, string | undefined>;
}

/** The config at `options.configFile` and the database it names, opened (the admin commands' start). */
async function openConfiguredStore(options: AdminOptions): Promise<{ config: Config; store: Store }> {
  const env = options.env ?? process.env;
  const config = loadConfig(resolve(options.configFile), { ...(options.adapter ? { adapter: options.adapter } : {}), env });
  return { config, store: await openStore(databasePath(config, env), systemClock) };
}

/** For the `user`, `group` and `client` commands: the configured database, opened for administration. */
export async function openIdentityAdmin(options: AdminOptions): Promise<{
  admin: IdentityAdmin;
  store: Store;
  close(): Promise<void>;
}> {
  const { config, store } = await openConfiguredStore(options);
  const { createIdentityAdmin } = await import('./identity/index.ts');
  const admin = createIdentityAdmin({
    store,
    clock: systemClock,
    knownScopes: knownScopes(config.identity?.claims ?? []),
    // A stored client must not shadow one from the config file.
    configClientIds: config.identity?.clients.map((c) => c.id) ?? [],
  });
  return { admin, store, close: () => store.close() };
}

/** The request rules of a config's `guard` block, compiled for the gate; null without one. */
export function rulesFor(config: Config): RequestRules | null {
  return config.guard ? compileRequestRules(config.guard.rules) : null;
}

interface GuardHolder {
  /**
   * The gate for `config` and the challenge it answers with (on every load), or null when the
   * config neither guards nor keeps a store.
   */
  prepare(config: Config): Promise<{ gate: Gate; challenges: Challenges } | null>;
  /** What the guard's Prometheus metrics read (kept across reloads). */
  readonly metrics: GuardMetricsSource;
  close(): Promise<void>;
}

/**
 * The guard across reloads. Kept: the decision index, the poller that follows the store (so
 * `portcullis bans` from another process takes effect within seconds), the watched blocklist
 * files and the counters. Rebuilt per load: the gate with the config's allowlist, simulate
 * flag, blocklists and rules, and the challenge with the config's difficulty and clearance
 * lifetime, signing with the secret kept in the store (so clearances outlive a restart and hold
 * on every node sharing the store).
 *
 * The behaviour scenarios (guard/scenarios/) listen to the events while the config has a
 * `guard` block whose `scenarios` is not `off`; their buckets are kept across reloads, and
 * their decisions go through the DecisionSync (stored, in force at once, shared with other
 * processes). The gate's `simulate` makes them simulate too: a decision stored while
 * simulating would be enforced the moment `simulate` is taken out.
 *
 * The store is opened only when the config has a `guard` block or serves identity_provider
 * (which opens it anyway): a plain proxy config pays for no database. Decisions in the store
 * are enforced whenever it is open, guard block or not.
 */
function createGuardHolder(deps: { logger: Logger; events: EventBus; clock: Clock; env: Record<string, string | undefined>; stores: StoreHolder }): GuardHolder {
  const { logger, clock } = deps;
  const index = createDecisionIndex({ clock });
  const stats = createGateStats();
  // The sync fills the index through these wrappers: one counts decisions as they come into
  // force, the other sends new ones to CrowdSec when the config pushes there.
  const decided = createDecisionCounts();
  let crowdsec: CrowdSecLink | null = null;
  const synced = onNewDecisions(countingDecisionIndex(index, decided), (decision) => crowdsec?.push(decision));
  let files: BlocklistFiles | null = null;
  let store: Store | null = null;
  let sync: DecisionSync | null = null;
  const scenarios = createScenarioEngine({
    events: deps.events,
    clock,
    logger,
    batch: true,
    decide: (decision) => {
      if (sync === null) return Promise.reject(new PortcullisError(ErrorCodes.ERR_INTERNAL, 'the guard has no store open'));
      return sync.add(decision);
    },
  });

  const detach = async (): Promise<void> => {
    sync?.stop();
    sync = null;
    if (store !== null) await deps.stores.release(store);
    store = null;
  };
  /**
   * Follows the store at `path`, loading its decisions and the challenge secret first; the old
   * one is let go only once both worked, so a failed load leaves the guard on its old store.
   * `refilled`: it changed store (the index was refilled).
   */
  const follow = async (path: string): Promise<{ refilled: boolean; secret: Buffer }> => {
    const next = await deps.stores.acquire(path);
    if (next === store) {
      // Already followed (the holder shares one store per file): drop the extra reference.
      await deps.stores.release(next);
      return { refilled: false, secret: await loadChallengeSecret(next.keys, clock) };
    }
    const nextSync = createDecisionSync({ decisions: next.decisions, index: synced, logger });
    let secret: Buffer;
    try {
      await nextSync.start();
      // A store that cannot give the secret fails the load: a random one would forget every
      // clearance on restart and split the nodes sharing the store.
      secret = await loadChallengeSecret(next.keys, clock);
    } catch (error) {
      nextSync.stop();
      await deps.stores.release(next);
      throw error;
    }
    await detach();
    store = next;
    sync = nextSync;
    return { refilled: true, secret };
  };
  /** CrowdSec's bouncer and watcher for `settings` (module loaded on first use), or none. */
  const link = async (settings: CrowdSecConfig | null, refilled: boolean): Promise<void> => {
    if (settings === null) {
      await crowdsec?.close();
      crowdsec = null;
      return;
    }
    if (crowdsec === null) {
      const { createCrowdSecLink } = await import('./guard/crowdsec/crowdsec-link.ts');
      crowdsec = createCrowdSecLink({ index, clock, logger });
    } else if (refilled) {
      crowdsec.resync();
    }
    await crowdsec.configure(settings);
  };

  return {
    metrics: { stats, decisions: index, decided },
    async prepare(config) {
      const guard = config.guard ?? null;
      if (guard === null && !configUsesIdentity(config)) {
        scenarios.configure(null);
        await link(null, false);
        await detach();
        index.replaceAll([]);
        files?.close();
        files = null;
        return null;
      }
      // The lists first: one that cannot be read fails the load before anything else changes.
      const paths = guard?.blocklists ?? [];
      if (paths.length > 0) files ??= createBlocklistFiles({ logger });
      const blocklists = paths.length > 0 ? await files!.prepare(paths) : null;
      if (paths.length === 0) {
        files?.close();
        files = null;
      }
      const { refilled, secret } = await follow(databasePath(config, deps.env));
      const challenges = createChallenges({
        clock,
        logger,
        secret,
        // No `challenge { }` block: the config's defaults, as the block would have set them.
        difficulty: guard?.challenge?.difficulty ?? CHALLENGE_DEFAULT_DIFFICULTY,
        clearanceTtlMs: guard?.challenge?.clearanceMs ?? CHALLENGE_DEFAULT_CLEARANCE_MS,
      });
      await link(guard?.crowdsec ?? null, refilled);
      const gate = createGate({
        decisions: index,
        blocklists,
        neverBan: guard?.neverBan ?? [],
        simulate: guard?.simulate ?? false,
        logger,
        clock,
        rules: guard === null ? null : rulesFor(config),
        cleared: challenges.cleared,
        stats,
      });
      const mode = guard?.scenarios ?? 'on';
      scenarios.configure(guard === null || mode === 'off' ? null : { neverBan: guard.neverBan, simulate: guard.simulate || mode === 'simulate' });
      return { gate, challenges };
    },
    async close() {
      scenarios.configure(null);
      files?.close();
      files = null;
      await link(null, false);
      await detach();
    },
  };
}

/** `portcullis validate`: the gate a config would get, its blocklists read once; no database is opened. */
async function checkGate(config: Config, logger: Logger): Promise<Gate | null> {
  const guard = config.guard ?? null;
  if (guard === null) return null;
  const files = createBlocklistFiles({ logger, watch: false });
  try {
    const blocklists = guard.blocklists.length > 0 ? await files.prepare(guard.blocklists) : null;
    const decisions = createDecisionIndex({ clock: systemClock });
    return createGate({ decisions, blocklists, neverBan: guard.neverBan, simulate: guard.simulate, logger, clock: systemClock, rules: rulesFor(config) });
  } finally {
    files.close();
  }
}

/** For the `bans` and `decisions` commands: the configured database's decisions, opened for administration. */
export async function openGuardAdmin(options: AdminOptions): Promise<{
  admin: DecisionAdmin;
  store: Store;
  close(): Promise<void>;
}> {
  const { store } = await openConfiguredStore(options);
  const admin = createDecisionAdmin({ decisions: store.decisions, audit: store.audit, clock: systemClock });
  return { admin, store, close: () => store.close() };
}
