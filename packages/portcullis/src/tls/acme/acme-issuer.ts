/**
 * Certificates from one ACME CA, kept in storage: a stored certificate is reused while it is
 * good, and a new one is ordered under a lock shared by every process using the storage, so
 * two never order the same name at once (the second finds the first one's certificate).
 */
import { join } from 'node:path';
import type { Client } from 'acme-client';
import type { KeyType } from '../../config/types.ts';
import type { Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/logger.ts';
import { certificateCovers, loadCertificate, remainingLifeFraction, type LoadedCertificate } from '../certificate.ts';
import { withFileLock } from '../file-lock.ts';
import { DEFAULT_KEY_TYPE, generatePrivateKeyPem, keyTypeOf } from '../key-type.ts';
import { readTextIfExists, writeFileAtomic } from '../private-files.ts';
import { accountKey } from './account.ts';
import { createAcmeClient, loadAcmeLibrary, type AcmeConnection, type AcmeEab } from './acme-client.ts';
import { acmePaths } from './ca-storage.ts';
import type { ChallengeStore } from './challenge-store.ts';
import { createDns01Solver, type Dns01Settings } from './dns-01.ts';
import { orderCertificate, type ChallengeType } from './order.ts';

/** Renewal starts when this fraction of the life remains (Caddy: two thirds gone). */
export const ACME_RENEW_WHEN_REMAINING = 1 / 3;
/** An order holds the lock while the CA validates; its holder refreshes it, so this is only for dead holders. */
const LOCK_STALE_MS = 2 * 60 * 1000;
const LOCK_WAIT_MS = 10 * 60 * 1000;

export interface AcmeIssuerOptions {
  storage: string;
  connection: AcmeConnection;
  clock: Clock;
  log: Logger;
  store: ChallengeStore;
  /** External account binding for new accounts (global `acme_eab`); a site's own is given to `obtain`. */
  eab?: AcmeEab | null;
}

/** What a new certificate is ordered with. */
export interface OrderOptions {
  /** The certificate key's type (`key_type`); default p256. A stored certificate of another type is not reused. */
  keyType?: KeyType;
  /** The lifetime asked of the CA (`cert_lifetime`, RFC 8555 `notAfter`); absent: the CA's choice. */
  lifetimeMs?: number;
  /** The site's DNS challenge (`tls { dns }`, `acme_dns`): publishes the dns-01 answers. */
  dns?: Dns01Settings;
}

export interface AcmeIssuer {
  /** A stored certificate for `host` valid now, or null (damaged files count as none). */
  stored(host: string): Promise<LoadedCertificate | null>;
  /**
   * A certificate for `host` that is not `replacing` and not yet due for renewal: one another
   * process stored meanwhile, else a new order answered with `challenges` in that order.
   */
  obtain(
    host: string,
    email: string | undefined,
    challenges: readonly ChallengeType[],
    replacing: LoadedCertificate | null,
    eab?: AcmeEab | null,
    order?: OrderOptions,
  ): Promise<LoadedCertificate>;
}

/**
 * Why the CA would not create (or return) the account, for the retry log: the CA's problem
 * detail, and whether a binding was sent, since "account required"-style refusals are what a
 * CA that needs EAB answers when none (or a wrong one) is configured.
 */
function accountRefusal(directoryUrl: string, eab: AcmeEab | null, error: Error): string {
  const detail = error.message;
  const binding = eab === null ? 'without external account binding' : `with external account binding key id ${JSON.stringify(eab.keyId)}`;
  return `the ACME CA ${directoryUrl} refused the account registration (${binding}): ${detail}`;
}

/** An issuer for `options.connection.directoryUrl` (validated by the caller). */
export function createAcmeIssuer(options: AcmeIssuerOptions): AcmeIssuer {
  const { storage, connection, clock, log, store } = options;
  const locks = join(storage, 'locks');
  const certPaths = acmePaths(storage, connection.directoryUrl, undefined);
  const defaultEab = options.eab ?? null;
  /** Registered clients by account email and EAB key id; a failed registration is retried next time. */
  const clients = new Map<string, Promise<Client>>();

  const register = async (email: string | undefined, eab: AcmeEab | null): Promise<Client> => {
    const acme = await loadAcmeLibrary();
    // Per CA and email as in certmagic, and per binding: a CA binds only a key it has not seen.
    const paths = acmePaths(storage, connection.directoryUrl, email, eab?.keyId);
    const key = await accountKey(acme, paths, locks);
    if (key.created) log.info({ path: paths.accountKey }, 'created an ACME account key');
    const client = await createAcmeClient(connection, key.pem, eab);
    try {
      // With a known key the CA returns the existing account (RFC 8555 section 7.3.1), so this is safe on every start.
      await client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) });
    } catch (error) {
      // Transport failures (axios errors carry a `code`) are not the CA's answer; say so only for an answer.
      if (!(error instanceof Error) || 'code' in error) throw error;
      throw new Error(accountRefusal(connection.directoryUrl, eab, error), { cause: error });
    }
    return client;
  };

  const clientFor = (email: string | undefined, eab: AcmeEab | null): Promise<Client> => {
    // NUL cannot occur in an email or a key id from the config, so the parts cannot run together.
    const id = `${email ?? ''}\0${eab?.keyId ?? ''}\0${eab?.macKey ?? ''}`;
    let client = clients.get(id);
    if (client === undefined) {
      client = register(email, eab);
      clients.set(id, client);
      client.catch(() => clients.delete(id));
    }
    return client;
  };

  const read = async (host: string): Promise<LoadedCertificate | null> => {
    const paths = certPaths.certificate(host);
    const [certPem, keyPem] = await Promise.all([readTextIfExists(paths.cert), readTextIfExists(paths.key)]);
    if (certPem === null || keyPem === null) return null;
    try {
      const cert = loadCertificate(certPem, keyPem);
      return certificateCovers(cert.leaf, host) ? cert : null;
    } catch {
      return null; // half-written by a crashed process or damaged: order again
    }
  };

  const fresh = (cert: LoadedCertificate | null, replacing: LoadedCertificate | null, keyType: KeyType): cert is LoadedCertificate =>
    cert !== null &&
    cert.fingerprint !== replacing?.fingerprint &&
    cert.notBefore <= clock.now() &&
    remainingLifeFraction(cert, clock.now()) > ACME_RENEW_WHEN_REMAINING &&
    keyTypeOf(cert.leaf) === keyType;

  /** Orders `host`'s certificate with a new key of the wanted type and the wanted lifetime. */
  const order = async (client: Client, host: string, challenges: readonly ChallengeType[], keyType: KeyType, lifetimeMs: number | undefined, dns?: Dns01Settings): Promise<LoadedCertificate> => {
    const acme = await loadAcmeLibrary();
    // RFC 3339 without fractional seconds: every CA parses that.
    const notAfter = lifetimeMs === undefined ? undefined : new Date(clock.now() + lifetimeMs).toISOString().replace(/\.\d+Z$/, 'Z');
    const keyPem = await generatePrivateKeyPem(keyType);
    const solver = dns === undefined ? {} : { dns: createDns01Solver(dns, { log, signal: connection.signal }) };
    const ordered = await orderCertificate({ acme, client, host, challenges, store, log, keyPem, ...(notAfter === undefined ? {} : { notAfter }), ...solver });
    const cert = loadCertificate(ordered.chainPem, ordered.keyPem);
    if (!certificateCovers(cert.leaf, host)) throw new Error(`the ACME server issued a certificate that does not cover ${host}`);
    if (notAfter !== undefined && Math.abs(cert.notAfter - Date.parse(notAfter)) > Math.max(5 * 60 * 1000, lifetimeMs! / 100)) {
      // RFC 8555 lets a CA ignore the request; say so rather than let cert_lifetime look applied.
      log.warn({ host, requested: notAfter, notAfter: new Date(cert.notAfter).toISOString() }, 'the ACME CA did not issue the lifetime cert_lifetime asks for');
    }
    return cert;
  };

  return {
    async stored(host) {
      const cert = await read(host);
      const now = clock.now();
      return cert !== null && cert.notAfter > now ? cert : null;
    },
    async obtain(host, email, challenges, replacing, eab, options = {}) {
      const keyType = options.keyType ?? DEFAULT_KEY_TYPE;
      const before = await read(host);
      if (fresh(before, replacing, keyType)) return before;
      const paths = certPaths.certificate(host);
      return withFileLock(
        locks,
        certPaths.lockName(host),
        async () => {
          const again = await read(host);
          if (fresh(again, replacing, keyType)) return again;
          const client = await clientFor(email, eab === undefined ? defaultEab : eab);
          const cert = await order(client, host, challenges, keyType, options.lifetimeMs, options.dns);
          await writeFileAtomic(paths.key, cert.keyPem, 0o600);
          await writeFileAtomic(paths.cert, cert.chainPem, 0o644);
          log.info({ host, notAfter: new Date(cert.notAfter).toISOString() }, 'obtained a certificate from the ACME CA');
          return cert;
        },
        { staleMs: LOCK_STALE_MS, timeoutMs: LOCK_WAIT_MS },
      );
    },
  };
}
