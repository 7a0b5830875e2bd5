import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { findBinary } from '../lib/which.mjs';
import { writeCaddyfile } from './caddyfile.mjs';

/** Caddy 2 (Debian's package), run with the shared Caddyfile. */
export const caddy = {
  name: 'caddy',
  label: 'Caddy',
  /** @returns {{ command: string } | { missing: string }} */
  locate() {
    const command = findBinary('caddy');
    return command ? { command } : { missing: 'caddy is not installed' };
  },
  /** @param {string} command */
  version(command) {
    return execFileSync(command, ['version'], { encoding: 'utf8', timeout: 5000 }).trim().split(/\s/)[0];
  },
  /**
   * @param {{ command: string, procs: any, dir: string, port: number, upstreamPort: number,
   *   staticDir: string, cpus?: string, tls?: { port: number, cert: string, key: string } }} opts
   */
  start({ command, procs, dir, port, upstreamPort, staticDir, cpus, tls }) {
    const file = join(dir, 'caddy.Caddyfile');
    writeCaddyfile({ file, port, upstreamPort, staticDir, admin: 'admin off', tls });
    return procs.start({
      name: 'caddy', command, args: ['run', '--config', file, '--adapter', 'caddyfile'],
      cwd: dir,
      // Caddy keeps autosave and certificate state under $HOME/XDG dirs: keep it in the run dir.
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CONFIG_HOME: join(dir, 'xdg-config') },
      cpus, logFile: join(dir, 'caddy.log'),
    });
  },
};
