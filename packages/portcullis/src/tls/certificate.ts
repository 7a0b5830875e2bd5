/**
 * A certificate chain and its key as loaded from PEM, checked once (the key matches the leaf,
 * the chain parses) and described by what renewal and SNI selection need.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isIpHost } from './host-names.ts';

export interface LoadedCertificate {
  /** The chain as PEM, leaf first, normalised (one block per certificate). */
  chainPem: string;
  keyPem: string;
  leaf: X509Certificate;
  /** The chain's other certificates (intermediates), in order. */
  issuers: X509Certificate[];
  notBefore: number;
  notAfter: number;
  /** SHA-256 of the leaf, colon-separated hex as Node prints it. */
  fingerprint: string;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** Every CERTIFICATE block of a PEM text, parsed; throws when there is none or one is malformed. */
export function parseCertificateChain(pem: string): X509Certificate[] {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new Error(`certificate ${i + 1} in the chain is not a valid X.509 certificate`);
    }
  });
}

function parsePrivateKey(pem: string): KeyObject {
  // PKCS#8 and legacy OpenSSL encryption; a server cannot prompt for the passphrase.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new Error('the private key is encrypted; give an unencrypted key');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('no valid PEM private key found');
  }
}

/** Parses and cross-checks a chain and its key; throws an Error whose message says what is wrong. */
export function loadCertificate(chainPem: string, keyPem: string): LoadedCertificate {
  const chain = parseCertificateChain(chainPem);
  const key = parsePrivateKey(keyPem);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) throw new Error('the private key does not belong to the certificate');
  return {
    chainPem: chain.map((c) => c.toString()).join(''),
    keyPem,
    leaf,
    issuers: chain.slice(1),
    notBefore: leaf.validFromDate.getTime(),
    notAfter: leaf.validToDate.getTime(),
    fingerprint: leaf.fingerprint256,
  };
}

/**
 * Whether the certificate's subjectAltName covers `host` (a canonical host from host-names.ts).
 * The subject CN is never consulted (RFC 6125 section 6.4.4; browsers ignore it too).
 */
export function certificateCovers(cert: X509Certificate, host: string): boolean {
  if (isIpHost(host)) return cert.checkIP(host) !== undefined;
  if (host.startsWith('*.')) {
    // A wildcard site needs the same wildcard in the certificate, not one name under it.
    return (cert.subjectAltName ?? '').split(', ').includes(`DNS:${host}`);
  }
  return cert.checkHost(host, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined;
}

/** Fraction of the certificate's lifetime still ahead at `now` (0 once expired). */
export function remainingLifeFraction(cert: LoadedCertificate, now: number): number {
  const life = cert.notAfter - cert.notBefore;
  if (life <= 0) return 0;
  return Math.max(0, (cert.notAfter - now) / life);
}
