import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Generates the one self-signed certificate all servers use in a run: ECDSA P-256, SAN
 * localhost and 127.0.0.1, valid two days. The servers read the same two files, so the
 * handshake costs compared are the same signature algorithm and the same chain length.
 * @param {{ openssl: string, dir: string }} opts
 * @returns {{ cert: string, key: string }}
 */
export function generateCertificate({ openssl, dir }) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15000 });
  // The servers run as this user and read the key before dropping privileges (nginx master).
  chmodSync(key, 0o600);
  chmodSync(cert, 0o644);
  return { cert, key };
}
