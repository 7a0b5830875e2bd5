/**
 * `tls <cert_file> <key_file>`: read at every prepare and checked before use, so a bad file is
 * a config error with its file:line, not a crash or a handshake failure later.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { PortcullisError } from '../kernel/errors.ts';
import { certificateCovers, loadCertificate, type LoadedCertificate } from './certificate.ts';
import { siteError, type SitePlan } from './site-plan.ts';

/** PEM files are small; anything larger is a wrong path (a disk image, a log), not a certificate. */
const MAX_PEM_BYTES = 1024 * 1024;

/** A PEM file's text; throws an Error naming the file and what is wrong (missing, unreadable, too large). */
export async function readPem(path: string, what: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String(code ?? error);
    throw new Error(`cannot read the ${what} file ${path}: ${why}`);
  }
  if (data.length > MAX_PEM_BYTES) throw new Error(`the ${what} file ${path} is larger than 1 MiB; is it the right file?`);
  return data.toString('utf8');
}

/**
 * The certificate a `files` plan names, checked: both files readable, the key matching, valid
 * now (`now` from the injected clock), covering every host of the site. null after adding
 * the reasons to `errors`. Relative paths are relative to the working directory, as in Caddy.
 */
export async function loadCertificateFiles(plan: SitePlan, now: number, errors: PortcullisError[]): Promise<LoadedCertificate | null> {
  const { site } = plan;
  const tls = site.tls;
  const where = tls?.source ?? site.source;
  if (!tls?.certFile || !tls.keyFile) {
    errors.push(siteError(site, 'tls needs both a certificate file and a key file', where));
    return null;
  }
  const certPath = resolve(tls.certFile);
  const keyPath = resolve(tls.keyFile);
  let cert: LoadedCertificate;
  try {
    const [certPem, keyPem] = await Promise.all([readPem(certPath, 'certificate'), readPem(keyPath, 'key')]);
    cert = loadCertificate(certPem, keyPem);
  } catch (error) {
    errors.push(siteError(site, `${(error as Error).message} (tls ${tls.certFile} ${tls.keyFile})`, where));
    return null;
  }
  const before = errors.length;
  if (cert.notAfter <= now) {
    errors.push(siteError(site, `the certificate in ${tls.certFile} expired on ${new Date(cert.notAfter).toISOString()}`, where));
  } else if (cert.notBefore > now) {
    errors.push(siteError(site, `the certificate in ${tls.certFile} is not valid until ${new Date(cert.notBefore).toISOString()}`, where));
  }
  const uncovered = plan.hosts.filter((host) => !certificateCovers(cert.leaf, host));
  if (uncovered.length > 0) {
    errors.push(siteError(site, `the certificate in ${tls.certFile} does not cover ${uncovered.join(', ')}`, where));
  }
  return errors.length === before ? cert : null;
}
