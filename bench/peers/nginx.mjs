import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary } from '../lib/which.mjs';
import { renderTemplate } from '../lib/template.mjs';

const TEMPLATE = fileURLToPath(new URL('../configs/nginx.conf.tmpl', import.meta.url));
const TLS_TEMPLATE = fileURLToPath(new URL('../configs/nginx-tls.conf.tmpl', import.meta.url));

/** nginx (Debian's package) with the equivalent of the shared Caddyfile. */
export const nginx = {
  name: 'nginx',
  label: 'nginx',
  /** @returns {{ command: string } | { missing: string }} */
  locate() {
    const command = findBinary('nginx');
    return command ? { command } : { missing: 'nginx is not installed' };
  },
  /** @param {string} command */
  version(command) {
    // nginx prints "nginx version: nginx/1.22.1" on stderr.
    const res = spawnSync(command, ['-v'], { encoding: 'utf8', timeout: 5000 });
    return `${res.stderr}`.trim().replace(/^nginx version: nginx\//, '');
  },
  /**
   * @param {{ command: string, procs: any, dir: string, port: number, upstreamPort: number,
   *   staticDir: string, cpus?: string, tls?: { port: number, cert: string, key: string } }} opts
   */
  start({ command, procs, dir, port, upstreamPort, staticDir, cpus, tls }) {
    mkdirSync(join(dir, 'nginx-tmp'), { recursive: true });
    const file = join(dir, 'nginx.conf');
    const tlsServer = tls
      ? renderTemplate(TLS_TEMPLATE, { TLS_PORT: tls.port, CERT: tls.cert, KEY: tls.key, STATIC_DIR: staticDir })
      : '';
    writeFileSync(file, renderTemplate(TEMPLATE, {
      DIR: dir, PORT: port, UPSTREAM_PORT: upstreamPort, STATIC_DIR: staticDir, TLS_SERVER: tlsServer,
    }));
    return procs.start({
      name: 'nginx', command, args: ['-c', file, '-g', 'daemon off;'],
      cwd: dir, cpus, logFile: join(dir, 'nginx.log'),
    });
  },
};
