/**
 * A site's `tls { protocols; ciphers }` as options for node:tls contexts. OpenSSL has chosen
 * the version and cipher by the time the SNI callback swaps in a name's context, so the
 * listener also checks them after the handshake (front-door.ts enforceTlsSettings).
 */
import type { SecureContextOptions } from 'node:tls';
import type { TlsConfig } from '../config/types.ts';
import { CIPHER_SUITES } from '../config/index.ts';

/** Context options for one site, and an id equal for sites with the same settings. */
export interface TlsSettings {
  id: string;
  options: Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'ecdhCurve'>;
}

const VERSIONS = { 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' } as const;
/**
 * `ciphers` sets TLS 1.2 suites only, as in Caddy (Go's TLS 1.3 suites are fixed); Node reads
 * TLS 1.3 suites from the same string and would turn TLS 1.3 off if none were listed.
 */
const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** The site's settings, or null when it sets none of them (the listener's defaults apply). */
export function tlsSettingsOf(tls: TlsConfig | null): TlsSettings | null {
  if (tls === null || (tls.protocols === undefined && tls.ciphers === undefined)) return null;
  const options: TlsSettings['options'] = {};
  if (tls.protocols !== undefined) {
    options.minVersion = VERSIONS[tls.protocols.min];
    options.maxVersion = VERSIONS[tls.protocols.max];
  }
  if (tls.ciphers !== undefined) options.ciphers = `${tls.ciphers.map((name) => CIPHER_SUITES[name]!).join(':')}:${TLS13_SUITES}`;
  return { id: JSON.stringify(options), options };
}
