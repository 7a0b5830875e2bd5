import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from '../lib/template.mjs';

const TEMPLATE = fileURLToPath(new URL('../configs/Caddyfile.tmpl', import.meta.url));
const TLS_TEMPLATE = fileURLToPath(new URL('../configs/Caddyfile-tls.tmpl', import.meta.url));

/** @typedef {{ port: number, cert: string, key: string }} TlsSite */

/**
 * Writes the bench Caddyfile shared by Caddy and Portcullis.
 * @param {{ file: string, port: number, upstreamPort: number, staticDir: string,
 *   admin: string, globalExtra?: string, tls?: TlsSite }} opts
 *   `admin` is the whole global admin line (`admin off`, `admin 127.0.0.1:2019`); `tls` adds
 *   the HTTPS site (absent when openssl is missing or no TLS scenario runs).
 */
export function writeCaddyfile({ file, port, upstreamPort, staticDir, admin, globalExtra = '', tls }) {
  const extra = globalExtra.split('\n').filter((l) => l.trim()).map((l) => `\n\t${l.trim()}`).join('');
  const tlsSite = tls
    ? renderTemplate(TLS_TEMPLATE, { TLS_PORT: tls.port, CERT: tls.cert, KEY: tls.key, STATIC_DIR: staticDir })
    : '';
  writeFileSync(file, renderTemplate(TEMPLATE, {
    ADMIN: admin, PORT: port, UPSTREAM_PORT: upstreamPort, STATIC_DIR: staticDir, GLOBAL_EXTRA: extra,
    TLS_SITE: tlsSite,
  }));
}
