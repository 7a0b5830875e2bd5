/**
 * Key generation and certificate signing for the internal CA. The CA's own keys come from
 * WebCrypto (ECDSA P-256, Caddy's default; leaf keys of the configured `key_type` come from
 * key-type.ts), certificates from @peculiar/x509: no ASN.1 is written here. The
 * library is imported on first use, so a process that never signs never loads it; it uses
 * Node's global WebCrypto (globalThis.crypto).
 */
import { createPrivateKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { isIpHost } from './host-names.ts';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** What signs: the issuer's certificate (PEM) and private key. */
export interface Signer {
  certPem: string;
  key: CryptoKey;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** A fresh ECDSA P-256 key pair; extractable so the private key can be stored. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM of a private key. */
export function privateKeyToPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A stored PEM private key as a signing key (throws on anything that is not a P-256 EC key). */
export function signingKeyFromPem(pem: string): CryptoKey {
  return createPrivateKey(pem).toCryptoKey(EC_KEY, false, ['sign']);
}

/** 128 random bits, positive (RFC 5280 section 4.1.2.2: serials are positive, at most 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function quoteDnValue(value: string): string {
  return value.replace(/[,+"\\<>;=#]/g, (c) => `\\${c}`);
}

/** A self-signed CA root (path length 1: it signs the intermediate, which signs leaves). */
export async function createRootCertificate(keys: CryptoKeyPair, commonName: string, validity: Validity): Promise<string> {
  const x509 = await import('@peculiar/x509');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: `CN=${quoteDnValue(commonName)}`,
      ...validity,
      signingAlgorithm: SIGNING,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
  });
  return cert.toString('pem');
}

/** An intermediate CA signed by `root` (path length 0: it signs only leaves). */
export async function createIntermediateCertificate(
  publicKey: CryptoKey,
  commonName: string,
  root: Signer,
  validity: Validity,
): Promise<string> {
  const x509 = await import('@peculiar/x509');
  const issuer = new x509.X509Certificate(root.certPem);
  const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: `CN=${quoteDnValue(commonName)}`,
      issuer: issuer.subject,
      ...validity,
      signingAlgorithm: SIGNING,
      publicKey,
      signingKey: root.key,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(issuer),
      ],
  });
  return cert.toString('pem');
}

/** A TLS server leaf for `hosts` (DNS names and IP literals), signed by the intermediate. */
export async function createLeafCertificate(
  publicKey: CryptoKey,
  hosts: string[],
  issuerSigner: Signer,
  validity: Validity,
): Promise<string> {
  const x509 = await import('@peculiar/x509');
  const issuer = new x509.X509Certificate(issuerSigner.certPem);
  const names = hosts.map((host) => ({ type: isIpHost(host) ? ('ip' as const) : ('dns' as const), value: host }));
  const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      // The subject stays empty and the SAN extension critical (RFC 5280 section 4.2.1.6), as
      // Caddy's leaves do: names live in the SAN only.
      subject: '',
      issuer: issuer.subject,
      ...validity,
      signingAlgorithm: SIGNING,
      publicKey,
      signingKey: issuerSigner.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(names, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(issuer),
      ],
  });
  return cert.toString('pem');
}
