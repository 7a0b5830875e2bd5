/**
 * A real Apache httpd for tests: Debian's `apache2` run in the foreground as our child process,
 * with its own ServerRoot, PidFile, ErrorLog and Mutex directory in a temp dir, listening on one
 * loopback port, modules loaded from /usr/lib/apache2/modules, stopped by PID.
 * `apacheMissing()` says why tests must skip.
 */
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stopProcess, waitForPort } from './child-process.ts';

export const APACHE_BINARY = '/usr/sbin/apache2';
export const APACHE_MODULES = '/usr/lib/apache2/modules';

/** Modules every config started here loads (the MPM, and what User/Group and Require need). */
const BASE_MODULES = ['mpm_prefork', 'authz_core'];

export interface Apache {
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The ServerRoot (a temp dir, world-readable so the `nobody` workers can read it). */
  dir: string;
  /** Apache's error log so far, or its last `tailChars` characters (for assertion messages). */
  errorLog(tailChars?: number): string;
  stop(): Promise<void>;
}

export interface ApacheOptions {
  /** The loopback port to listen on (it must be known before start: redirect URIs name it). */
  port: number;
  /** Module names as in `LoadModule <name>_module`, e.g. `auth_openidc`, `cgi`, `alias`. */
  modules: string[];
  /** Config appended after the core directives; `$DIR` stands for the ServerRoot. */
  config: string;
  /** Files to create under the ServerRoot (relative path -> content, and mode; default 0644). */
  files?: Record<string, { content: string; mode?: number }>;
}

/** Why Apache-based tests cannot run here with these modules, or null when they can. */
export function apacheMissing(modules: string[]): string | null {
  if (!existsSync(APACHE_BINARY)) return `${APACHE_BINARY} is not installed (apt-get install apache2; scripts/install-peers.sh)`;
  for (const name of [...BASE_MODULES, ...modules]) {
    const file = moduleFile(name);
    if (!existsSync(file)) return `${file} is not installed (scripts/install-peers.sh installs apache2 and libapache2-mod-auth-openidc)`;
  }
  try {
    accessSync(APACHE_BINARY, constants.X_OK);
  } catch {
    return `${APACHE_BINARY} is not executable by this user`;
  }
  return null;
}

function moduleFile(name: string): string {
  return join(APACHE_MODULES, `mod_${name}.so`);
}



/**
 * Writes the config and files to a fresh ServerRoot, starts `apache2 -f CONF -DFOREGROUND` and
 * resolves once the port accepts connections (at most 10 s; otherwise it stops Apache and
 * throws with the error log).
 */
export async function startApache(options: ApacheOptions): Promise<Apache> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-apache-'));
  // The workers run as nobody (when we are root): they must reach the files they serve.
  chmodSync(dir, 0o755);
  const logs = join(dir, 'logs');
  const run = join(dir, 'run');
  mkdirSync(logs, { mode: 0o755 });
  mkdirSync(run, { mode: 0o755 });
  for (const [path, file] of Object.entries(options.files ?? {})) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, file.content, { mode: file.mode ?? 0o644 });
    chmodSync(target, file.mode ?? 0o644);
  }
  const errorLogFile = join(logs, 'error.log');
  const modules = [...new Set([...BASE_MODULES, ...options.modules])];
  const isRoot = process.getuid?.() === 0;
  const conf = `ServerRoot ${dir}
ServerName 127.0.0.1
Listen 127.0.0.1:${options.port}
PidFile ${join(run, 'apache2.pid')}
ErrorLog ${errorLogFile}
LogLevel warn
Mutex file:${run} default
${modules.map((name) => `LoadModule ${name}_module ${moduleFile(name)}`).join('\n')}
${isRoot ? 'User nobody\nGroup nogroup' : ''}
StartServers 1
MinSpareServers 1
MaxSpareServers 2
MaxRequestWorkers 8
Timeout 15
KeepAlive Off
DocumentRoot ${dir}/htdocs
<Directory />
	AllowOverride None
	Require all denied
</Directory>
${options.config.replaceAll('$DIR', dir)}
`;
  mkdirSync(join(dir, 'htdocs'), { recursive: true, mode: 0o755 });
  const confFile = join(dir, 'apache2.conf');
  writeFileSync(confFile, conf);

  // A clean environment: libcurl inside mod_auth_openidc honours http_proxy and friends, and
  // the tests must only ever talk to loopback.
  // detached: on SIGTERM Apache's parent signals its whole process group (prefork's killpg),
  // which must not be ours.
  const child = spawn(APACHE_BINARY, ['-f', confFile, '-DFOREGROUND'], {
    cwd: dir,
    detached: true,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  let exited = false;
  // Detached, Apache would outlive a test process that ends without running after(): ask it to
  // stop then (its own process group, by its PID).
  const stopOnExit = () => {
    if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
  };
  process.once('exit', stopOnExit);
  child.once('exit', () => {
    exited = true;
    process.removeListener('exit', stopOnExit);
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const errorLog = (tailChars?: number) => {
    const log = existsSync(errorLogFile) ? readFileSync(errorLogFile, 'utf8') : '';
    return tailChars === undefined ? log : log.slice(-tailChars);
  };
  const cleanup = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const up = await Promise.race([waitForPort(options.port, 10_000, () => exited), spawnError.then(() => false)]);
  if (!up || exited) {
    const log = errorLog();
    await cleanup();
    throw new Error(`apache2 did not come up on 127.0.0.1:${options.port}:\n${output}\n${log}`);
  }
  return { port: options.port, url: `http://127.0.0.1:${options.port}`, dir, errorLog, stop: cleanup };
}
