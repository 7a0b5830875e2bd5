import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shimNodeFlags } from '../lib/portcullis-bin.mjs';

const SERVER = fileURLToPath(new URL('../node-bare-server.mjs', import.meta.url));
const requireFromPortcullis = createRequire(new URL('../../packages/portcullis/package.json', import.meta.url));

/**
 * The reference "bare Node" server (../node-bare-server.mjs): the shared Caddyfile's jobs in
 * the least code Node allows, static files from memory. Run on the same Node binary with the
 * same Node flags as Portcullis, so the gap between the two is Portcullis's own cost.
 */
export const nodeBare = {
  name: 'node-bare',
  label: 'bare Node',
  /** @returns {{ command: string } | { missing: string }} */
  locate() {
    // The server loads undici's Pool the way Portcullis does, resolved from its package.
    try {
      requireFromPortcullis.resolve('undici/lib/dispatcher/pool.js');
    } catch {
      return { missing: 'undici is not installed for packages/portcullis (install the dependencies: npm ci)' };
    }
    return { command: process.execPath };
  },
  /** The Node version: `command` is the Node running the bench. */
  version() {
    return process.version;
  },
  /**
   * @param {{ command: string, procs: any, dir: string, port: number, upstreamPort: number,
   *   staticDir: string, cpus?: string, tls?: { port: number, cert: string, key: string } }} opts
   */
  start({ command, procs, dir, port, upstreamPort, staticDir, cpus, tls }) {
    const args = [...shimNodeFlags(), SERVER, '--port', String(port), '--upstream-port', String(upstreamPort), '--static-dir', staticDir];
    if (tls) args.push('--tls-port', String(tls.port), '--cert', tls.cert, '--key', tls.key);
    /** @type {NodeJS.ProcessEnv} */
    const env = { ...process.env, NODE_ENV: 'production' };
    // The same NODE_OPTIONS as Portcullis when the bench sets them, so both run one Node setup.
    if (process.env.BENCH_PORTCULLIS_NODE_OPTIONS !== undefined) {
      env.NODE_OPTIONS = process.env.BENCH_PORTCULLIS_NODE_OPTIONS;
    }
    return procs.start({ name: 'node-bare', command, args, cwd: dir, env, cpus, logFile: join(dir, 'node-bare.log') });
  },
};
