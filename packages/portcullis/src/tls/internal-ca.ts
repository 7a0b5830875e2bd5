/**
 * The internal certificate authority, laid out as Caddy's: a root (10 years) and an
 * intermediate (7 days, re-signed by the root when two thirds of its life are gone) under
 * <storage>/pki/authorities/local/. Leaves are signed by the intermediate and carry it in their
 * chain. Creation and renewal hold a lock so processes sharing the storage agree on one CA.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../kernel/clock.ts';
import type { KeyType } from '../config/types.ts';
import type { Logger } from '../kernel/logger.ts';
import { withFileLock } from './file-lock.ts';
import { DEFAULT_KEY_TYPE, generateCertificateKeyPair } from './key-type.ts';
import { readTextIfExists, writeFileAtomic } from './private-files.ts';
import {
  createIntermediateCertificate,
  createLeafCertificate,
  createRootCertificate,
  generateKeyPair,
  privateKeyToPem,
  signingKeyFromPem,
  type Signer,
} from './sign-certificates.ts';

const DAY = 24 * 60 * 60 * 1000;
const ROOT_LIFETIME = 3650 * DAY;
const INTERMEDIATE_LIFETIME = 7 * DAY;
/** The longest leaf this CA signs: a leaf never outlives the intermediate that signed it. */
export const INTERNAL_MAX_LIFETIME = INTERMEDIATE_LIFETIME;
/**
 * How far an intermediate may end before a leaf asked for would: certificate times are whole
 * seconds, so one made just now for the longest leaf lifetime ends a moment too soon, and
 * without slack every leaf of that lifetime got a fresh intermediate. The leaf is trimmed to it.
 */
const COVER_SLACK_MS = 60_000;
/** Backdating tolerates clients whose clocks run a little slow (smallstep backdates too). */
const BACKDATE = 60 * 1000;

export interface IssuedPair {
  /** Leaf then intermediate, PEM. */
  chainPem: string;
  keyPem: string;
}

export interface InternalCa {
  readonly rootCertificatePath: string;
  /** Root certificate as PEM. */
  readonly rootPem: string;
  /**
   * Signs a new leaf for `hosts` with a new key of `keyType` (default p256), valid `lifetimeMs`
   * from now (at most INTERNAL_MAX_LIFETIME); the intermediate is renewed first when it would
   * expire sooner, so the leaf gets the whole lifetime.
   */
  issue(hosts: string[], lifetimeMs: number, keyType?: KeyType): Promise<IssuedPair>;
  /** Whether a certificate chain (leaf first) was signed by this CA's root through an intermediate. */
  signedByRoot(intermediate: X509Certificate | undefined): boolean;
  /** Renews the intermediate when two thirds of its life are gone. */
  maintain(): Promise<void>;
}

export interface InternalCaOptions {
  storage: string;
  clock: Clock;
  logger: Logger;
}

interface KeyedCertificate {
  cert: X509Certificate;
  certPem: string;
  keyPem: string;
}

function paths(storage: string) {
  const dir = join(storage, 'pki', 'authorities', 'local');
  return {
    dir,
    rootCrt: join(dir, 'root.crt'),
    rootKey: join(dir, 'root.key'),
    intermediateCrt: join(dir, 'intermediate.crt'),
    intermediateKey: join(dir, 'intermediate.key'),
    locks: join(storage, 'locks'),
  };
}

async function readPair(certPath: string, keyPath: string): Promise<KeyedCertificate | null> {
  const [certPem, keyPem] = await Promise.all([readTextIfExists(certPath), readTextIfExists(keyPath)]);
  if (certPem === null || keyPem === null) return null;
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return null;
    return { cert, certPem, keyPem };
  } catch {
    // Unreadable or mismatched material is replaced, as if it were absent.
    return null;
  }
}

/** PEM ending in a newline, so concatenated blocks stay separate for every parser. */
function pemLines(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

function validity(now: number, lifetime: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now - BACKDATE), notAfter: new Date(now + lifetime) };
}

function dueForRenewal(cert: X509Certificate, now: number): boolean {
  const from = cert.validFromDate.getTime();
  const to = cert.validToDate.getTime();
  return now >= from + ((to - from) * 2) / 3;
}

/** Loads the internal CA from storage, creating the root and intermediate on first use. */
export async function openInternalCa(options: InternalCaOptions): Promise<InternalCa> {
  const { clock, logger } = options;
  const p = paths(options.storage);

  const ensureRoot = async (): Promise<KeyedCertificate> => {
    const existing = await readPair(p.rootCrt, p.rootKey);
    if (existing && existing.cert.validToDate.getTime() > clock.now()) return existing;
    return withFileLock(p.locks, 'local_ca_root', async () => {
      const again = await readPair(p.rootCrt, p.rootKey);
      if (again && again.cert.validToDate.getTime() > clock.now()) return again;
      if ((await readTextIfExists(p.rootCrt)) !== null) {
        logger.warn({ path: p.rootCrt }, 'the stored internal CA root is expired or unreadable; creating a new one, which clients must trust again');
      }
      const now = clock.now();
      const keys = await generateKeyPair();
      const year = new Date(now).getUTCFullYear();
      const certPem = await createRootCertificate(keys, `Portcullis Local Authority - ${year} ECC Root`, validity(now, ROOT_LIFETIME));
      const keyPem = privateKeyToPem(keys.privateKey);
      await writeFileAtomic(p.rootKey, keyPem, 0o600);
      await writeFileAtomic(p.rootCrt, pemLines(certPem), 0o644);
      logger.info({ path: p.rootCrt }, 'created the internal CA root certificate; trust it on clients with `portcullis trust`');
      return { cert: new X509Certificate(certPem), certPem, keyPem };
    });
  };

  const root = await ensureRoot();
  const rootSigner: Signer = { certPem: root.certPem, key: signingKeyFromPem(root.keyPem) };

  /** Good to sign with: from our root, not due, and (for a leaf about to be signed) valid until `coverUntil`. */
  const usableIntermediate = (pair: KeyedCertificate | null, coverUntil: number): pair is KeyedCertificate =>
    pair !== null && pair.cert.verify(root.cert.publicKey) && !dueForRenewal(pair.cert, clock.now()) && pair.cert.validToDate.getTime() >= coverUntil - COVER_SLACK_MS;

  const ensureIntermediate = async (coverUntil = 0): Promise<KeyedCertificate> => {
    const existing = await readPair(p.intermediateCrt, p.intermediateKey);
    if (usableIntermediate(existing, coverUntil)) return existing;
    return withFileLock(p.locks, 'local_ca_intermediate', async () => {
      const again = await readPair(p.intermediateCrt, p.intermediateKey);
      if (usableIntermediate(again, coverUntil)) return again;
      const now = clock.now();
      const keys = await generateKeyPair();
      const certPem = await createIntermediateCertificate(
        keys.publicKey,
        'Portcullis Local Authority - ECC Intermediate',
        rootSigner,
        validity(now, INTERMEDIATE_LIFETIME),
      );
      const keyPem = privateKeyToPem(keys.privateKey);
      await writeFileAtomic(p.intermediateKey, keyPem, 0o600);
      await writeFileAtomic(p.intermediateCrt, pemLines(certPem), 0o644);
      logger.info({ notAfter: new Date(now + INTERMEDIATE_LIFETIME).toISOString() }, 'issued a new internal CA intermediate certificate');
      return { cert: new X509Certificate(certPem), certPem, keyPem };
    });
  };

  let intermediate = await ensureIntermediate();
  let intermediateSigner: Signer = { certPem: intermediate.certPem, key: signingKeyFromPem(intermediate.keyPem) };

  /** Renews the intermediate when it is due, or when it expires before `coverUntil`. */
  const maintain = async (coverUntil = 0): Promise<void> => {
    if (!dueForRenewal(intermediate.cert, clock.now()) && intermediate.cert.validToDate.getTime() >= coverUntil - COVER_SLACK_MS) return;
    intermediate = await ensureIntermediate(coverUntil);
    intermediateSigner = { certPem: intermediate.certPem, key: signingKeyFromPem(intermediate.keyPem) };
  };

  return {
    rootCertificatePath: p.rootCrt,
    rootPem: root.certPem,
    signedByRoot: (cert) => cert !== undefined && cert.checkIssued(root.cert) && cert.verify(root.cert.publicKey),
    maintain: () => maintain(),
    async issue(hosts, lifetimeMs, keyType = DEFAULT_KEY_TYPE) {
      if (lifetimeMs > INTERNAL_MAX_LIFETIME) throw new Error(`the internal CA signs certificates for at most ${INTERNAL_MAX_LIFETIME / DAY} days`);
      await maintain(clock.now() + lifetimeMs);
      const now = clock.now();
      // A leaf never outlives its issuer (Caddy clamps the same way); the intermediate was just
      // made to cover the lifetime, so this trims at most the moments since.
      const notAfter = Math.min(now + lifetimeMs, intermediate.cert.validToDate.getTime());
      const keys = await generateCertificateKeyPair(keyType);
      const leafPem = await createLeafCertificate(keys.publicKey, hosts, intermediateSigner, {
        notBefore: new Date(now - BACKDATE),
        notAfter: new Date(notAfter),
      });
      return { chainPem: pemLines(leafPem) + pemLines(intermediate.certPem), keyPem: privateKeyToPem(keys.privateKey) };
    },
  };
}

/** Where the root certificate lives under a storage directory (whether or not it exists yet). */
export function rootCertificatePathIn(storage: string): string {
  return paths(storage).rootCrt;
}
