/**
 * The certificate manager: plans which issuer each site's hosts get, loads files, reuses
 * stored certificates or issues from the internal CA, serves them by SNI, and renews internal
 * ones in the background at two thirds of their life. ACME certificates are obtained and
 * renewed in the background by acme/acme-maintainer.ts; prepare never waits for a CA.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { SecureContext } from 'node:tls';
import type { GlobalTlsOptions, KeyType, TlsConfig } from '../config/types.ts';
import type { Clock } from '../kernel/clock.ts';
import { ConfigErrors, type PortcullisError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import type { CertificateProvider, ClientAuthPolicy } from '../proxy/ports.ts';
import { certificateCovers, loadCertificate, parseCertificateChain, remainingLifeFraction, type LoadedCertificate } from './certificate.ts';
import { loadCertificateFiles } from './certificate-files.ts';
import { buildIndex, contextWith, entryHeldFor, selectByAddress, serve, type CertificateIndex, type ServedCertificate } from './certificate-index.ts';
import { loadClientAuth, type SiteClientAuth } from './client-auth.ts';
import { withFileLock } from './file-lock.ts';
import { createAcmeIssuer, type AcmeIssuer, type OrderOptions } from './acme/acme-issuer.ts';
import { createAcmeMaintainer, type AcmeMaintainer, type AcmeWant } from './acme/acme-maintainer.ts';
import { caStorageKey } from './acme/ca-storage.ts';
import { createChallengeStore } from './acme/challenge-store.ts';
import type { ChallengeType } from './acme/order.ts';
import { INTERNAL_MAX_LIFETIME, openInternalCa, rootCertificatePathIn, type InternalCa } from './internal-ca.ts';
import { readTextIfExists, writeFileAtomic } from './private-files.ts';
import { planSites, siteError, type OnDemandRule, type SitePlan, type TlsSite } from './site-plan.ts';
import { createAskGate, type AskGate } from './ask.ts';
import { createOnDemand, type NameFailures, type OnDemand } from './on-demand.ts';
import { canonicalHost, canonicalIp, canonicalServername, isLocalHost, storageName, wildcardOf } from './host-names.ts';
import { tlsSettingsOf, type TlsSettings } from './tls-settings.ts';
import { keyTypeOf } from './key-type.ts';
import { checkPlans, directoryFor, keyTypeFor } from './plan-checks.ts';
import { defaultStorageDir } from '../kernel/data-dir.ts';
import { doublingDelay } from '../kernel/backoff.ts';

const HOUR = 60 * 60 * 1000;
/** Caddy's default lifetime for internal leaves (`cert_lifetime` sets another). */
const LEAF_LIFETIME = 12 * HOUR;
/** How often renewal is checked by default (Caddy/certmagic: 10 min; `renew_interval` sets another). */
const RENEW_CHECK_INTERVAL = 10 * 60 * 1000;
/** X.509 times have whole seconds, and the internal CA backdates a minute (internal-ca.ts). */
const LIFETIME_SLACK = 62 * 1000;
/** Renewal starts when this fraction of the life remains; a stored certificate with more is reused. */
const RENEW_WHEN_REMAINING = 1 / 3;
/** Spread renewals of certificates issued together over up to 2% of their life. */
const JITTER_FRACTION = 0.02;
const RETRY_FIRST = 60 * 1000;
const RETRY_MAX = HOUR;

export interface CertificateManager extends CertificateProvider {
  /**
   * Makes sure every host has a certificate: loads `tls cert key` files, reuses stored ones,
   * issues from the internal CA. Throws ConfigErrors naming each site (file:line) that cannot
   * get one, and then keeps serving what it served before. Idempotent; called on every reload.
   */
  prepare(sites: TlsSite[]): Promise<void>;
  /** Absolute path of the internal CA's root certificate (PEM); the file exists once a site used the CA. */
  rootCertificatePath(): string;
  /** Creates the internal CA if needed and returns its root certificate's path. */
  ensureRootCertificate(): Promise<string>;
  /**
   * HTTP-01 (RFC 8555 section 8.3): the key authorization to answer a request for
   * `/.well-known/acme-challenge/<token>` with (200, text/plain), or null to route it as usual.
   * `host` is the Host header as received (a port is ignored); `path` the request target's path.
   */
  httpChallenge(host: string, path: string): string | null;
  /**
   * TLS-ALPN-01 (RFC 8737): the challenge certificate's context for a handshake whose client
   * offered ALPN `acme-tls/1` for `servername`, or null (fail that handshake).
   */
  alpnChallengeContext(servername: string): SecureContext | null;
  /** Stops renewal timers, aborts ACME requests in flight and waits for them to end. */
  close(): Promise<void>;
}

/** Retry and polling limits for ACME; production uses the defaults, tests shorten them. */
export interface AcmeTuning {
  /** First retry after a failed order (default 60 s); doubles per failure up to retryMaxMs (default 1 h). */
  retryFirstMs?: number;
  retryMaxMs?: number;
  /** Timeout of each request to the CA (default 30 s). */
  requestTimeoutMs?: number;
  /** Polling of pending authorizations and orders: first and longest wait (default 1 s, 10 s). */
  pollMinMs?: number;
  pollMaxMs?: number;
}

export interface CertificateManagerOptions {
  /** Storage directory; null: the global `storage` option, else defaultStorageDir(). */
  storage: string | null;
  global: GlobalTlsOptions;
  logger: Logger;
  /** Lifetimes and renewal decisions read this clock; timers use wall time. */
  clock: Clock;
  /** How often renewal is checked; tests shorten it. Default: the global `renew_interval`, else 10 min. */
  renewCheckIntervalMs?: number;
  /**
   * The ACME challenge types this process's listeners answer, most preferred first: `http-01`
   * when the HTTP port calls httpChallenge, `tls-alpn-01` when the HTTPS port routes
   * `acme-tls/1` handshakes to alpnChallengeContext. Default none: ACME sites are accepted and
   * served from storage but nothing is ordered (`validate`, `trust`, tests never contact a CA).
   */
  acmeChallenges?: readonly ChallengeType[];
  acme?: AcmeTuning;
  onDemand?: OnDemandTuning;
}

/** On-demand TLS limits; production uses the defaults, tests shorten them. */
export interface OnDemandTuning {
  /** Ask endpoint request timeout (default 5 s) and decision cache (default 60 s). */
  askTimeoutMs?: number;
  askCacheMs?: number;
  /** How long a handshake waits for its certificate (default 45 s). */
  waitMs?: number;
  /** Issuances at once (default 4). */
  maxConcurrent?: number;
}

interface Managed {
  host: string;
  issuer: 'files' | 'internal';
  /** The key type an internal certificate was issued for (null for files). */
  keyType: KeyType | null;
  served: ServedCertificate;
  /** Clock time when background renewal is due (internal only). */
  renewAt: number;
  /** Clock time before which a failed renewal is not retried. */
  retryAt: number;
  failures: number;
}

interface State {
  managed: ReadonlyMap<string, Managed>;
  /** Canonical host -> its site's client_auth, for hosts of sites that have one. */
  clientAuth: ReadonlyMap<string, SiteClientAuth>;
  /** Every host a site names (exact names and `*.` patterns), with client_auth or not: see clientAuthForName. */
  hosts: ReadonlySet<string>;
  /** Canonical host -> its site's protocols / ciphers / curves, for hosts of sites that set them. */
  settings: ReadonlyMap<string, TlsSettings>;
  index: CertificateIndex;
  /** Handshake-time certificates for `tls { on_demand }` sites, or null when there are none. */
  onDemand: OnDemand | null;
}

function renewalTime(cert: LoadedCertificate): number {
  const life = cert.notAfter - cert.notBefore;
  return cert.notBefore + life * (1 - RENEW_WHEN_REMAINING) - Math.random() * life * JITTER_FRACTION;
}

/** Creates the manager and opens (on first start: creates) the internal CA in storage. */
export async function createCertificateManager(options: CertificateManagerOptions): Promise<CertificateManager> {
  const { global, logger, clock } = options;
  const storage = resolve(options.storage ?? global.storage ?? defaultStorageDir());
  const locks = join(storage, 'locks');
  const log = logger.child({ module: 'tls' });
  const fallbackSni = global.fallbackSni?.name;
  let state: State = { managed: new Map(), clientAuth: new Map(), hosts: new Set(), settings: new Map(), index: buildIndex([], global.defaultSni, undefined, undefined, fallbackSni), onDemand: null };
  const leafLifetime = global.certLifetimeMs ?? LEAF_LIFETIME;
  const renewIntervalMs = options.renewCheckIntervalMs ?? global.renewIntervalMs ?? RENEW_CHECK_INTERVAL;
  /** What ACME orders ask for, per site. */
  const orderOptions = (tls: TlsConfig | null): OrderOptions => ({
    keyType: keyTypeFor(tls, global),
    ...(global.certLifetimeMs === undefined ? {} : { lifetimeMs: global.certLifetimeMs }),
  });
  let caPromise: Promise<InternalCa> | null = null;
  let closed = false;
  const challengeStore = createChallengeStore();
  const acmeChallenges = options.acmeChallenges ?? [];
  const tuning = options.acme ?? {};
  const shutdown = new AbortController();
  /** Created at the first prepare with an ACME site, when the CA settings are known good. */
  let acme: AcmeMaintainer | null = null;
  /** One issuer per ACME directory and set of trusted roots, created on first use and kept across reloads. */
  const acmeIssuers = new Map<string, AcmeIssuer>();
  const onDemandTuning = options.onDemand ?? {};
  /** One gate per manager (the manager is rebuilt when global options change), so decisions outlive reloads. */
  const askGate: AskGate | null =
    global.onDemand === undefined
      ? null
      : createAskGate({ url: global.onDemand.ask, clock, log, timeoutMs: onDemandTuning.askTimeoutMs ?? 5000, cacheMs: onDemandTuning.askCacheMs ?? 60_000 });

  /** The SNI index over files/internal certificates plus ACME ones for hosts no other site claimed. */
  const indexOf = (managed: ReadonlyMap<string, Managed>, clientAuth: ReadonlyMap<string, SiteClientAuth>, settings: ReadonlyMap<string, TlsSettings>): CertificateIndex => {
    const entries: [string, ServedCertificate][] = [...managed].map(([host, m]) => [host, m.served]);
    if (acme !== null) for (const [host, served] of acme.served()) if (!managed.has(host)) entries.push([host, served]);
    return buildIndex(entries, global.defaultSni, clientAuth, settings, fallbackSni);
  };

  // prepare and renewal never interleave: each sees the state the previous one left.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  const internalCa = (): Promise<InternalCa> => {
    caPromise ??= openInternalCa({ storage, clock, logger: log });
    // A failure (unwritable storage) is retried next time rather than remembered.
    caPromise.catch(() => (caPromise = null));
    return caPromise;
  };

  /** A stored or new internal certificate for `host` with a `keyType` key; `replacing` is the one renewal replaces. */
  const obtainInternal = async (host: string, replacing: LoadedCertificate | null, keyType: KeyType): Promise<LoadedCertificate> => {
    const ca = await internalCa();
    const name = storageName(host);
    const dir = join(storage, 'certificates', 'local', name);
    const certPath = join(dir, `${name}.crt`);
    const keyPath = join(dir, `${name}.key`);
    const usable = (cert: LoadedCertificate | null): cert is LoadedCertificate =>
      cert !== null &&
      cert.fingerprint !== replacing?.fingerprint &&
      remainingLifeFraction(cert, clock.now()) > RENEW_WHEN_REMAINING &&
      certificateCovers(cert.leaf, host) &&
      // A changed key_type or a shorter cert_lifetime replaces what is stored rather than wait for renewal.
      keyTypeOf(cert.leaf) === keyType &&
      cert.notAfter - cert.notBefore <= leafLifetime + LIFETIME_SLACK &&
      ca.signedByRoot(cert.issuers[0]) &&
      cert.issuers[0] !== undefined &&
      cert.leaf.verify(cert.issuers[0].publicKey);
    const readStored = async (): Promise<LoadedCertificate | null> => {
      const [certPem, keyPem] = await Promise.all([readTextIfExists(certPath), readTextIfExists(keyPath)]);
      if (certPem === null || keyPem === null) return null;
      try {
        return loadCertificate(certPem, keyPem);
      } catch {
        // Half-written by another process, or damaged: issue under the lock instead.
        return null;
      }
    };
    const stored = await readStored();
    if (usable(stored)) return stored;
    return withFileLock(locks, `issue_cert_local_${name}`, async () => {
      const again = await readStored();
      if (usable(again)) return again;
      const pair = await ca.issue([host], leafLifetime, keyType);
      const cert = loadCertificate(pair.chainPem, pair.keyPem);
      await writeFileAtomic(keyPath, pair.keyPem, 0o600);
      await writeFileAtomic(certPath, cert.chainPem, 0o644);
      log.info({ host, notAfter: new Date(cert.notAfter).toISOString() }, 'issued a certificate from the internal CA');
      return cert;
    });
  };

  /** Reuses a served context for the same certificate, so unchanged names keep their object. */
  const served = (cert: LoadedCertificate, previous: Managed | undefined): ServedCertificate =>
    previous && previous.served.cert.fingerprint === cert.fingerprint && previous.served.cert.keyPem === cert.keyPem
      ? previous.served
      : serve(cert);

  const managedInternal = (host: string, cert: LoadedCertificate, previous: Managed | undefined, keyType: KeyType): Managed => ({
    host,
    issuer: 'internal',
    keyType,
    served: served(cert, previous),
    renewAt: previous?.served.cert.fingerprint === cert.fingerprint ? previous.renewAt : renewalTime(cert),
    retryAt: 0,
    failures: 0,
  });

  const planFiles = async (plan: SitePlan, next: Map<string, Managed>, errors: PortcullisError[]): Promise<void> => {
    const cert = await loadCertificateFiles(plan, clock.now(), errors);
    if (cert === null) return;
    const previous = plan.hosts.map((h) => state.managed.get(h)).find((m) => m?.served.cert.fingerprint === cert.fingerprint);
    let shared: ServedCertificate;
    try {
      shared = served(cert, previous);
    } catch (error) {
      // OpenSSL refuses some pairs only here, when it builds the context (an RSA key under
      // 2048 bits: "ee key too small"): a config error at the tls line, like a missing file.
      errors.push(siteError(plan.site, `OpenSSL refuses the certificate and key: ${(error as Error).message}`, plan.site.tls?.source ?? plan.site.source));
      return;
    }
    for (const host of plan.hosts) {
      if (!next.has(host)) next.set(host, { host, issuer: 'files', keyType: null, served: shared, renewAt: Infinity, retryAt: 0, failures: 0 });
    }
  };

  const planInternal = async (plan: SitePlan, next: Map<string, Managed>, errors: PortcullisError[]): Promise<void> => {
    // Longer than the CA signs for: checkPlans has reported it, once.
    if (leafLifetime > INTERNAL_MAX_LIFETIME) return;
    const keyType = keyTypeFor(plan.site.tls, global);
    for (const host of plan.hosts) {
      if (next.has(host)) continue; // an earlier site already holds a certificate for it
      const previous = state.managed.get(host);
      if (previous?.issuer === 'internal' && previous.keyType === keyType && clock.now() < previous.renewAt) {
        next.set(host, previous);
        continue;
      }
      try {
        const cert = await obtainInternal(host, null, keyType);
        next.set(host, managedInternal(host, cert, previous, keyType));
      } catch (error) {
        errors.push(siteError(plan.site, `cannot get a certificate for ${host} from the internal CA: ${(error as Error).message}`));
      }
    }
  };

  /**
   * Hosts of ACME plans that no files or internal plan holds, each with its site's CA, email,
   * binding, key type and lifetime (the first site's, checkAgreement makes sure they agree).
   */
  const acmeWants = async (plans: SitePlan[], next: ReadonlyMap<string, Managed>, errors: PortcullisError[]): Promise<AcmeWant[]> => {
    const wants = new Map<string, AcmeWant>();
    for (const plan of plans) {
      if (plan.issuer !== 'acme') continue;
      const hosts = plan.hosts.filter((host) => !next.has(host) && !wants.has(host));
      if (hosts.length === 0) continue;
      const issuer = await acmeIssuerFor(plan.site, errors);
      if (issuer === null) continue;
      // The binding is resolved per load (the issuer is kept across reloads): the site's, else the global one.
      const eab = plan.site.tls?.eab ?? global.acmeEab ?? null;
      const order = orderOptions(plan.site.tls);
      for (const host of hosts) wants.set(host, { host, email: plan.email, eab, issuer, ...order, dns: plan.dns ?? null });
    }
    return [...wants.values()];
  };

  let warnedNoChallenge = false;

  /**
   * The issuer for a site's ACME CA: its `tls { ca }` else `acme_ca`, trusting `acme_ca_root`
   * and its `tls { ca_root }` besides the bundled roots (both, as Caddy does). Created on first
   * use and kept; bad CA settings become errors on `site`, at the line that set them.
   */
  const acmeIssuerFor = async (site: TlsSite, errors: PortcullisError[]): Promise<AcmeIssuer | null> => {
    const tls = site.tls;
    const directoryUrl = directoryFor(tls, global);
    const rootFiles: [label: string, file: string | undefined][] = [['acme_ca_root', global.acmeCaRoot], ['ca_root', tls?.caRoot]];
    const key = JSON.stringify([directoryUrl, ...rootFiles.map(([, file]) => (file === undefined ? null : resolve(file)))]);
    const known = acmeIssuers.get(key);
    if (known !== undefined) return known;
    try {
      caStorageKey(directoryUrl);
    } catch (error) {
      errors.push(siteError(site, `${tls?.ca === undefined ? 'acme_ca' : 'ca'}: ${(error as Error).message}`, tls?.ca === undefined ? site.source : tls.source));
      return null;
    }
    const roots: string[] = [];
    for (const [label, file] of rootFiles) {
      if (file === undefined) continue;
      try {
        const pem = await readFile(resolve(file), 'utf8');
        parseCertificateChain(pem);
        roots.push(pem.endsWith('\n') ? pem : `${pem}\n`);
      } catch (error) {
        const message = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
        errors.push(siteError(site, `${label} ${file}: ${message}`, label === 'ca_root' ? tls!.source : site.source));
        return null;
      }
    }
    if (acmeChallenges.length === 0 && !warnedNoChallenge) {
      warnedNoChallenge = true;
      log.warn('no ACME challenge is answered by this process; ACME certificates are served from storage only');
    }
    const issuer = createAcmeIssuer({
      storage,
      clock,
      log,
      store: challengeStore,
      connection: {
        directoryUrl,
        caRootPem: roots.length === 0 ? null : roots.join(''),
        requestTimeoutMs: tuning.requestTimeoutMs ?? 30_000,
        pollMinMs: tuning.pollMinMs ?? 1000,
        pollMaxMs: tuning.pollMaxMs ?? 10_000,
        signal: shutdown.signal,
      },
    });
    acmeIssuers.set(key, issuer);
    return issuer;
  };

  /** The ACME maintainer, created on first use (each want names its issuer). */
  const acmeMaintainer = (): AcmeMaintainer => {
    acme ??= createAcmeMaintainer({
      clock,
      log,
      challenges: acmeChallenges,
      renewalTime,
      retryFirstMs: tuning.retryFirstMs ?? RETRY_FIRST,
      retryMaxMs: tuning.retryMaxMs ?? RETRY_MAX,
      // Called between prepares and renewals too: JavaScript runs it to completion, so the swap is whole.
      onChange: () => (state = { ...state, index: indexOf(state.managed, state.clientAuth, state.settings) }),
    });
    return acme;
  };

  /**
   * Each host's client_auth. Certificates, and so client authentication, are chosen per name,
   * not per port: a host that two sites serve (on two ports) with different client_auth
   * settings cannot be told apart in the handshake, so it is an error rather than a guess.
   */
  const clientAuthByHost = async (plans: SitePlan[], errors: PortcullisError[]): Promise<Map<string, SiteClientAuth>> => {
    const bySite = new Map<TlsSite, SiteClientAuth | null>();
    const owner = new Map<string, TlsSite>();
    const out = new Map<string, SiteClientAuth>();
    for (const plan of plans) {
      if (!bySite.has(plan.site)) bySite.set(plan.site, await loadClientAuth(plan.site, clock.now(), errors));
      const auth = bySite.get(plan.site) ?? null;
      for (const host of plan.hosts) {
        const first = owner.get(host);
        if (first === undefined) {
          owner.set(host, plan.site);
          if (auth !== null) out.set(host, auth);
        } else if (first !== plan.site && (out.get(host)?.policy.id ?? null) !== (auth?.policy.id ?? null)) {
          const where = plan.site.tls?.clientAuth?.source ?? first.tls?.clientAuth?.source ?? plan.site.source;
          errors.push(siteError(plan.site, `${host} is also served by site ${first.name} with different client_auth settings; client authentication is chosen per name, so give both sites the same client_auth`, where));
        }
      }
    }
    return out;
  };

  /** Each host's protocols / ciphers / curves; like client_auth, a name served by two sites must agree. */
  const settingsByHost = (plans: SitePlan[], errors: PortcullisError[]): Map<string, TlsSettings> => {
    const owner = new Map<string, SitePlan>();
    const out = new Map<string, TlsSettings>();
    for (const plan of plans) {
      const settings = tlsSettingsOf(plan.site.tls);
      for (const host of plan.hosts) {
        const first = owner.get(host);
        if (first === undefined) {
          owner.set(host, plan);
          if (settings !== null) out.set(host, settings);
        } else if (first.site !== plan.site && (out.get(host)?.id ?? null) !== (settings?.id ?? null)) {
          errors.push(siteError(plan.site, `${host} is also served by site ${first.site.name} with different protocols, ciphers or curves; they are chosen per name, so give both sites the same settings`, plan.site.tls?.source ?? plan.site.source));
        }
      }
    }
    return out;
  };

  /** A certificate for an on-demand name from the rule's issuer: the internal CA, or `acmeIssuer` (the rule's CA) for public names. */
  const obtainOnDemand = async (name: string, rule: OnDemandRule, replacing: LoadedCertificate | null, acmeIssuer: AcmeIssuer | null): Promise<LoadedCertificate> => {
    const internal = rule.issuer === 'internal' || (rule.issuer === 'default' && isLocalHost(name));
    if (internal) return obtainInternal(name, replacing, keyTypeFor(rule.site.tls, global));
    if (acmeIssuer === null || acmeChallenges.length === 0) throw new Error('no ACME challenge is answered by this process');
    // With a DNS provider, as in the maintainer, DNS-01 is the only challenge.
    const order = { ...orderOptions(rule.site.tls), ...(rule.dns === undefined ? {} : { dns: rule.dns }) };
    return acmeIssuer.obtain(name, rule.email, rule.dns === undefined ? acmeChallenges : ['dns-01'], replacing, rule.site.tls?.eab ?? global.acmeEab ?? null, order);
  };

  /** The on-demand issuer for this prepare's rules (their ACME issuers are set up here, so CA errors are config errors). */
  /** On-demand failures by name, kept across reloads (each prepare builds a new issuer). */
  const onDemandFailures = new Map<string, NameFailures>();
  const onDemandFor = async (rules: OnDemandRule[], errors: PortcullisError[]): Promise<OnDemand | null> => {
    if (rules.length === 0 || askGate === null) return null;
    const issuers = new Map<OnDemandRule, AcmeIssuer>();
    for (const rule of rules) {
      const issuer = rule.issuer === 'internal' ? null : await acmeIssuerFor(rule.site, errors);
      if (issuer !== null) issuers.set(rule, issuer);
    }
    const settings = new Map(rules.map((r) => [r, tlsSettingsOf(r.site.tls) ?? undefined]));
    return createOnDemand({
      rules,
      permits: askGate,
      obtain: (name, rule, replacing) => obtainOnDemand(name, rule, replacing, issuers.get(rule) ?? null),
      contextFor: (cert, rule) => contextWith(serve(cert), settings.get(rule)),
      renewalTime,
      clock,
      log,
      failures: onDemandFailures,
      ...(onDemandTuning.waitMs !== undefined ? { waitMs: onDemandTuning.waitMs } : {}),
      ...(onDemandTuning.maxConcurrent !== undefined ? { maxConcurrent: onDemandTuning.maxConcurrent } : {}),
    });
  };

  /** clientAuthOfSite's answers for the state they were computed in. */
  let siteAuthState: State | null = null;
  let siteAuth = new WeakMap<readonly string[], ClientAuthPolicy | null>();

  const prepare = (sites: TlsSite[]): Promise<void> =>
    exclusive(async () => {
      const errors: PortcullisError[] = [];
      const rules: OnDemandRule[] = [];
      const plans = planSites(sites, global, errors, rules);
      checkPlans(plans, rules, { global, internalLifetimeMs: leafLifetime, renewIntervalMs }, errors);
      const clientAuth = await clientAuthByHost(plans, errors);
      const settings = settingsByHost(plans, errors);
      const next = new Map<string, Managed>();
      for (const plan of plans) if (plan.issuer === 'files') await planFiles(plan, next, errors);
      for (const plan of plans) if (plan.issuer === 'internal') await planInternal(plan, next, errors);
      const wants = await acmeWants(plans, next, errors);
      const maintainer = wants.length > 0 ? acmeMaintainer() : acme;
      const onDemand = await onDemandFor(rules, errors);
      // A config that cannot be served leaves the previous certificates in place.
      if (errors.length > 0) {
        onDemand?.close();
        throw new ConfigErrors(errors);
      }
      await maintainer?.want(wants);
      const index = indexOf(next, clientAuth, settings);
      if (global.defaultSni !== undefined && index.fallback === null) {
        log.warn({ defaultSni: global.defaultSni }, 'default_sni names no site with a certificate; unknown names will fail the handshake');
      }
      state.onDemand?.close();
      const hosts = new Set([...plans.flatMap((p) => p.hosts), ...rules.flatMap((r) => r.hosts)]);
      state = { managed: next, clientAuth, hosts, settings, index, onDemand };
    });

  const renewOne = async (m: Managed, now: number): Promise<Managed> => {
    try {
      const keyType = m.keyType ?? keyTypeFor(null, global);
      const cert = await obtainInternal(m.host, m.served.cert, keyType);
      log.info({ host: m.host }, 'renewed a certificate from the internal CA');
      return managedInternal(m.host, cert, m, keyType);
    } catch (error) {
      const delay = doublingDelay(RETRY_FIRST, RETRY_MAX, m.failures);
      log.warn({ host: m.host, err: error, retryInMs: delay }, 'certificate renewal failed; will retry');
      return { ...m, failures: m.failures + 1, retryAt: now + delay };
    }
  };

  const renewDue = (): Promise<void> =>
    exclusive(async () => {
      const now = clock.now();
      if (caPromise !== null) {
        try {
          await (await caPromise).maintain();
        } catch (error) {
          log.warn({ err: error }, 'renewing the internal CA intermediate certificate failed; will retry');
        }
      }
      const due = [...state.managed.values()].filter((m) => m.issuer === 'internal' && now >= m.renewAt && now >= m.retryAt);
      if (due.length === 0) return;
      const managed = new Map(state.managed);
      for (const m of due) managed.set(m.host, await renewOne(m, now));
      state = { ...state, managed, index: indexOf(managed, state.clientAuth, state.settings) };
    });

  // The CA is created only when a site needs it (or `portcullis trust` asks): creating it loads
  // the X.509 library, ~14 MB a files-only or ACME-only config should not carry.

  let ticking = false;
  const timer = setInterval(() => {
    if (ticking || closed) return;
    acme?.check();
    ticking = true;
    renewDue()
      .catch((error: unknown) => log.warn({ err: error }, 'certificate maintenance failed'))
      .finally(() => (ticking = false));
  }, renewIntervalMs);
  timer.unref();

  return {
    prepare,
    contextFor: (servername: string): SecureContext | null | Promise<SecureContext | null> => {
      const entry = entryHeldFor(state.index, servername);
      if (entry !== null) return entry.context;
      // A name an on_demand site covers gets its own certificate (or a refusal), never fallback_sni's or default_sni's.
      const onDemand = state.onDemand?.lookup(servername) ?? null;
      return onDemand ?? state.index.unmatched?.context ?? null;
    },
    clientAuthFor: (name: string): ClientAuthPolicy | null => clientAuthForName(state, name),
    clientAuthOfSite: (hosts: readonly string[]): ClientAuthPolicy | null => {
      // On every request routed to a client_auth site: canonicalised once per site and load
      // (the hosts array is the compiled site's own), not per request.
      if (siteAuthState !== state) {
        siteAuthState = state;
        siteAuth = new WeakMap();
      }
      const cached = siteAuth.get(hosts);
      if (cached !== undefined) return cached;
      let found: ClientAuthPolicy | null = null;
      for (const host of hosts) {
        const key = canonicalHost(host);
        const policy = key === null ? undefined : state.clientAuth.get(key)?.policy;
        if (policy !== undefined) {
          found = policy;
          break;
        }
      }
      siteAuth.set(hosts, found);
      return found;
    },
    tlsSettingsFor: (raw: string) => {
      // Canonical as contextFor and clientAuthFor read it: `modern.example.` (trailing dot) or
      // upper case must not dodge a tls1.3-only site's settings.
      const servername = canonicalServername(raw);
      if (servername === null) return null;
      const dot = servername.indexOf('.');
      const settings = state.settings.get(servername) ?? (dot > 0 ? state.settings.get(`*${servername.slice(dot)}`) : undefined);
      return settings?.options ?? null;
    },
    contextForAddress: (localAddress: string): SecureContext | null => selectByAddress(state.index, localAddress),
    rootCertificatePath: () => rootCertificatePathIn(storage),
    ensureRootCertificate: async () => (await internalCa()).rootCertificatePath,
    httpChallenge: (host: string, path: string): string | null => challengeStore.httpAnswer(host, path),
    alpnChallengeContext: (servername: string): SecureContext | null => challengeStore.alpnContext(servername),
    async close() {
      closed = true;
      clearInterval(timer);
      state.onDemand?.close();
      shutdown.abort();
      await Promise.all([queue, acme?.close()]);
    },
  };
}

/**
 * The client_auth policy for a name a handshake (SNI) or a request (Host, :authority) names,
 * chosen the way requests are routed to sites: the site naming it exactly, else the site of its
 * one-label wildcard. Never by certificate: a name whose own certificate is missing (pending,
 * failed) is served by a wildcard, default_sni or fallback_sni certificate, and the policy of
 * that certificate's site is not this name's.
 */
function clientAuthForName(state: State, raw: string): ClientAuthPolicy | null {
  if (state.clientAuth.size === 0) return null;
  // IPv6 literals arrive bracketed in Host; a trailing dot or upper case must not dodge the lookup.
  const name = canonicalIp(raw) ?? canonicalServername(raw);
  // Not a name a site can be routed by: only a catch-all site can answer it, and those have no client_auth.
  if (name === null) return null;
  const exact = state.clientAuth.get(name);
  if (exact !== undefined) return exact.policy;
  // Its own site has no client_auth; a wildcard site with one does not serve it.
  if (state.hosts.has(name)) return null;
  const wildcard = wildcardOf(name);
  return wildcard === null ? null : (state.clientAuth.get(wildcard)?.policy ?? null);
}
