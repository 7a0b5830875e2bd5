/**
 * Real Caddy and nginx for tests (Debian's packages), as the other proxies in front of
 * Portcullis: each runs in the foreground as our child process with its config, logs and
 * state in a temp dir, listens only where its config says (loopback), and is stopped by PID.
 * `caddyMissing()` / `nginxMissing()` say why tests must skip.
 */
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopProcess, waitForPort } from './child-process.ts';

export const CADDY_BINARY = '/usr/bin/caddy';
export const NGINX_BINARY = '/usr/sbin/nginx';

export interface Peer {
  /** The temp dir holding the config, logs and state. */
  dir: string;
  /** What the peer printed and logged so far (for assertion messages), its last `tailChars`. */
  log(tailChars?: number): string;
  stop(): Promise<void>;
}

function missing(binary: string, pkg: string): string | null {
  if (!existsSync(binary)) return `${binary} is not installed (apt-get install ${pkg}; scripts/install-peers.sh)`;
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    return `${binary} is not executable by this user`;
  }
  return null;
}

/** Why Caddy-based tests cannot run here, or null when they can. */
export function caddyMissing(): string | null {
  return missing(CADDY_BINARY, 'caddy');
}

/** Why nginx-based tests cannot run here, or null when they can. */
export function nginxMissing(): string | null {
  return missing(NGINX_BINARY, 'nginx');
}



export interface Launch {
  name: string;
  dir: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The ports the config listens on: the peer is up when all accept connections. */
  ports: number[];
  logFiles: string[];
  /** How long the ports may take; default 10 s. */
  timeoutMs?: number;
  /** Leave `dir` in place on stop (its owner removes it, or starts the peer again in it). */
  keepDir?: boolean;
}

/**
 * Starts a peer as a child process and resolves once all its ports accept connections, else
 * stops it and throws with its output. Killed with the test process if after() never runs.
 */
export async function launch(options: Launch): Promise<Peer> {
  const { name, dir } = options;
  const child = spawn(options.command, options.args, { cwd: dir, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-200_000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-200_000)));
  let exited = false;
  // A test process that ends without running after() must not leave the peer running
  // (SIGTERM, so that nginx's master takes its workers down with it).
  const stopOnExit = () => {
    if (!exited) child.kill('SIGTERM');
  };
  process.once('exit', stopOnExit);
  child.once('exit', () => {
    exited = true;
    process.removeListener('exit', stopOnExit);
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const log = (tailChars?: number) => {
    const files = options.logFiles.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('\n');
    const all = `${output}\n${files}`;
    return tailChars === undefined ? all : all.slice(-tailChars);
  };
  const stop = async () => {
    await stopProcess(child);
    if (options.keepDir !== true) rmSync(dir, { recursive: true, force: true });
  };
  const waits = options.ports.map((port) => waitForPort(port, options.timeoutMs ?? 10_000, () => exited));
  const up = await Promise.race([Promise.all(waits).then((all) => all.every(Boolean)), spawnError.then(() => false)]);
  if (!up || exited) {
    const text = log();
    await stop();
    throw new Error(`${name} did not come up on 127.0.0.1:${options.ports.join(',')}:\n${text}`);
  }
  return { dir, log, stop };
}

/**
 * Starts `caddy run` with a Caddyfile (it should say `admin off` and `auto_https off`, and bind
 * only loopback addresses); resolves once every port in `ports` accepts connections (at most
 * 10 s, else it stops Caddy and throws with its output).
 */
export async function startCaddy(caddyfile: string, ports: number[]): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-caddy-'));
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, caddyfile);
  return launch({
    name: 'caddy',
    dir,
    command: CADDY_BINARY,
    args: ['run', '--config', file, '--adapter', 'caddyfile'],
    // Caddy keeps autosaved config and certificate state under $HOME / XDG dirs: keep them here.
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    ports,
    logFiles: [],
  });
}

/**
 * Starts `nginx -g 'daemon off;'` with the `http { ... }` body given (server blocks, maps):
 * pid, error log and temp paths go to a temp dir readable by the `nobody` workers. Resolves
 * once every port in `ports` accepts connections (at most 10 s).
 */
export async function startNginx(httpBody: string, ports: number[]): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-nginx-'));
  // Workers run as nobody when we are root: they must reach the temp paths.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'tmp'), { mode: 0o755 });
  const errorLog = join(dir, 'error.log');
  const conf = `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${errorLog} info;
events {
	worker_connections 256;
}
http {
	access_log off;
	client_body_temp_path ${join(dir, 'tmp', 'client_body')};
	proxy_temp_path ${join(dir, 'tmp', 'proxy')};
	fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
	uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
	scgi_temp_path ${join(dir, 'tmp', 'scgi')};
${httpBody}
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return launch({
    name: 'nginx',
    dir,
    command: NGINX_BINARY,
    // -e: the error log before the config is read (the default one is /var/log/nginx).
    args: ['-p', dir, '-e', errorLog, '-c', file, '-g', 'daemon off;'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    ports,
    logFiles: [errorLog],
  });
}
