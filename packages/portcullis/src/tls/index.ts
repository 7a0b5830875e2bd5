/**
 * The TLS module: certificates in, SecureContext out. Files named by `tls cert key`, an
 * internal CA for local names, and an ACME CA for public names, behind one manager.
 */
export { createCertificateManager } from './certificate-manager.ts';
export type { AcmeTuning, CertificateManager, CertificateManagerOptions } from './certificate-manager.ts';
export type { ChallengeType } from './acme/order.ts';
export type { TlsSite } from './site-plan.ts';
export { defaultStorageDir } from '../kernel/data-dir.ts';
