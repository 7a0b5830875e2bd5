/**
 * `tls { client_auth { ... } }`: the trusted CAs read and checked at every prepare (a missing,
 * unreadable or non-CA file is a config error with the `client_auth` line's file:line), and the
 * policy the listener applies to the site's names during the handshake.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import type { TlsConfig } from '../config/types.ts';
import type { PortcullisError } from '../kernel/errors.ts';
import type { ClientAuthPolicy } from '../proxy/ports.ts';
import { parseCertificateChain } from './certificate.ts';
import { readPem } from './certificate-files.ts';
import { siteError, type TlsSite } from './site-plan.ts';

/** One site's client authentication: the policy and the PEM of the CAs to trust. */
export interface SiteClientAuth {
  policy: ClientAuthPolicy;
  caPem: string;
}

type ClientAuthConfig = NonNullable<TlsConfig['clientAuth']>;

function checkCa(cert: X509Certificate, label: string, now: number): string | null {
  // A leaf as a trust anchor is refused by OpenSSL's chain building (no partial chains), so
  // it would lock everyone out; say so now instead.
  if (!cert.ca) return `${label} is not a CA certificate (basicConstraints CA:TRUE)`;
  if (cert.validToDate.getTime() <= now) return `${label} expired on ${cert.validToDate.toISOString()}`;
  return null;
}

async function caCertificates(config: ClientAuthConfig, now: number, fail: (message: string) => void): Promise<X509Certificate[]> {
  const out: X509Certificate[] = [];
  for (const file of config.trustedCaFiles) {
    let text: string;
    try {
      text = await readPem(resolve(file), 'trusted CA certificate');
    } catch (error) {
      fail((error as Error).message);
      continue;
    }
    let certs: X509Certificate[];
    try {
      certs = parseCertificateChain(text);
    } catch (error) {
      fail(`trusted_ca_cert_file ${file}: ${(error as Error).message}`);
      continue;
    }
    certs.forEach((cert, i) => {
      const problem = checkCa(cert, certs.length === 1 ? 'the certificate' : `certificate ${i + 1}`, now);
      if (problem === null) out.push(cert);
      else fail(`trusted_ca_cert_file ${file}: ${problem}`);
    });
  }
  for (const [i, der] of (config.trustedCaCerts ?? []).entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(der, 'base64'));
    } catch {
      fail(`trusted_ca_cert ${i + 1} is not a base64 DER certificate`);
      continue;
    }
    const problem = checkCa(cert, `trusted_ca_cert ${i + 1}`, now);
    if (problem === null) out.push(cert);
    else fail(problem);
  }
  return out;
}

/** The site's client authentication, or null when it has none or (after adding to `errors`) it is unusable. */
export async function loadClientAuth(site: TlsSite, now: number, errors: PortcullisError[]): Promise<SiteClientAuth | null> {
  const config = site.tls?.clientAuth;
  if (config === undefined) return null;
  const before = errors.length;
  const certs = await caCertificates(config, now, (message) => errors.push(siteError(site, `client_auth: ${message}`, config.source)));
  if (errors.length !== before) return null;
  const requireCertificate = config.mode === 'require' || config.mode === 'require_and_verify';
  const verifyCertificate = config.mode === 'verify_if_given' || config.mode === 'require_and_verify';
  if (verifyCertificate && certs.length === 0) {
    errors.push(siteError(site, `client_auth: mode ${config.mode} needs at least one trusted CA`, config.source));
    return null;
  }
  const fingerprints = certs.map((c) => c.fingerprint256).sort();
  const id = createHash('sha256').update(`${config.mode}\n${fingerprints.join('\n')}`).digest('base64url');
  return { policy: { requireCertificate, verifyCertificate, id }, caPem: certs.map((c) => c.toString()).join('') };
}
