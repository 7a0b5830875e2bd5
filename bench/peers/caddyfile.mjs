import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from '../lib/template.mjs';

const TEMPLATE = fileURLToPath(new URL('../configs/Caddyfile.tmpl', import.meta.url));

/**
 * Writes the bench Caddyfile shared by Caddy and Portcullis.
 * @param {{ file: string, port: number, upstreamPort: number, staticDir: string,
 *   admin: string, globalExtra?: string }} opts
 *   `admin` is the whole global admin line (`admin off`, `admin 127.0.0.1:2019`).
 */
export function writeCaddyfile({ file, port, upstreamPort, staticDir, admin, globalExtra = '' }) {
  const extra = globalExtra.split('\n').filter((l) => l.trim()).map((l) => `\n\t${l.trim()}`).join('');
  writeFileSync(file, renderTemplate(TEMPLATE, {
    ADMIN: admin, PORT: port, UPSTREAM_PORT: upstreamPort, STATIC_DIR: staticDir, GLOBAL_EXTRA: extra,
  }));
}
