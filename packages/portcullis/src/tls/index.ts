/**
 * The TLS module: certificates in, SecureContext out. Files named by `tls cert key`, an
 * internal CA for local names; ACME comes next behind the same manager.
 */
export { createCertificateManager } from './certificate-manager.ts';
export type { CertificateManager, CertificateManagerOptions } from './certificate-manager.ts';
export type { TlsSite } from './site-plan.ts';
export { defaultStorageDir } from './storage-dir.ts';
