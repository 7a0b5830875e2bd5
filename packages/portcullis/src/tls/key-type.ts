/**
 * Certificate key types (`key_type`): generating a key of a type, and reading the type of a
 * certificate's key, so a stored certificate whose key is not the configured type is replaced
 * instead of served on.
 */
import { KeyObject, webcrypto, type X509Certificate } from 'node:crypto';
import type { KeyType } from '../config/types.ts';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** Caddy's default, and the type every certificate had before `key_type` existed. */
export const DEFAULT_KEY_TYPE: KeyType = 'p256';

const F4 = new Uint8Array([1, 0, 1]);

/**
 * WebCrypto parameters per type. RSA keys are made as RSASSA-PKCS1-v1_5 only because WebCrypto
 * needs an algorithm; their SubjectPublicKeyInfo and PKCS#8 say rsaEncryption either way, so
 * TLS may use them for PSS signatures as TLS 1.3 requires (RFC 8446 section 4.2.3).
 */
const ALGORITHMS: Record<KeyType, webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams | webcrypto.Algorithm> = {
  ed25519: { name: 'Ed25519' },
  p256: { name: 'ECDSA', namedCurve: 'P-256' },
  p384: { name: 'ECDSA', namedCurve: 'P-384' },
  rsa2048: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: F4, hash: 'SHA-256' },
  rsa4096: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 4096, publicExponent: F4, hash: 'SHA-256' },
};

/** A fresh key pair of `type`, extractable so the private key can be stored. */
export async function generateCertificateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHMS[type], true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** A fresh private key of `type` as PKCS#8 PEM (the form ACME orders and storage use). */
export async function generatePrivateKeyPem(type: KeyType): Promise<string> {
  const pair = await generateCertificateKeyPair(type);
  return KeyObject.from(pair.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** The type of a certificate's public key, or null for one `key_type` cannot name (RSA 3072, P-521, ...). */
export function keyTypeOf(cert: X509Certificate): KeyType | null {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'ed25519';
    case 'ec':
      return details.namedCurve === 'prime256v1' ? 'p256' : details.namedCurve === 'secp384r1' ? 'p384' : null;
    case 'rsa':
      return details.modulusLength === 2048 ? 'rsa2048' : details.modulusLength === 4096 ? 'rsa4096' : null;
    default:
      return null;
  }
}
