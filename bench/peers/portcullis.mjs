import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCaddyfile } from './caddyfile.mjs';

import { PORTCULLIS_BUNDLE as BIN, shimNodeFlags } from '../lib/portcullis-bin.mjs';
const PACKAGE_JSON = fileURLToPath(new URL('../../packages/portcullis/package.json', import.meta.url));

/**
 * Portcullis from this checkout's build, on the Node that runs the bench (Node 24 under
 * `npm run bench`). Env knobs:
 *   BENCH_PORTCULLIS_ADMIN   the global admin line's argument: `off` (default) or host:port
 *   BENCH_PORTCULLIS_GLOBAL  extra global-option lines (newline-separated)
 *   BENCH_PORTCULLIS_NODE_OPTIONS  NODE_OPTIONS for the server process
 */
export const portcullis = {
  name: 'portcullis',
  label: 'Portcullis',
  /** @returns {{ command: string } | { missing: string }} */
  locate() {
    return existsSync(BIN)
      ? { command: process.execPath }
      : { missing: `${BIN} does not exist (build it: npm run build)` };
  },
  /** @param {string} command */
  version(command) {
    const node = execFileSync(command, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim();
    const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8'));
    return `${pkg.version} (node ${node})`;
  },
  /**
   * @param {{ command: string, procs: any, dir: string, port: number, upstreamPort: number,
   *   staticDir: string, cpus?: string, tls?: { port: number, cert: string, key: string } }} opts
   */
  start({ command, procs, dir, port, upstreamPort, staticDir, cpus, tls }) {
    const file = join(dir, 'Portcullisfile');
    const admin = process.env.BENCH_PORTCULLIS_ADMIN?.trim() || 'off';
    writeCaddyfile({
      file, port, upstreamPort, staticDir, admin: `admin ${admin}`,
      globalExtra: process.env.BENCH_PORTCULLIS_GLOBAL ?? '', tls,
    });
    // Certificate state (the internal CA it creates at start) stays in the run dir.
    /** @type {NodeJS.ProcessEnv} */
    const env = { ...process.env, NODE_ENV: 'production', PORTCULLIS_DATA_DIR: join(dir, 'portcullis-data') };
    if (process.env.BENCH_PORTCULLIS_NODE_OPTIONS !== undefined) {
      env.NODE_OPTIONS = process.env.BENCH_PORTCULLIS_NODE_OPTIONS;
    }
    return procs.start({
      name: 'portcullis', command, args: [...shimNodeFlags(), BIN, 'run', '--config', file],
      cwd: dir, env, cpus, logFile: join(dir, 'portcullis.log'),
    });
  },
};
