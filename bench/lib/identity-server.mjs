// The Portcullis process the identity bench measures: its config, its users, how it is started.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PORTCULLIS_BUNDLE, shimNodeFlags } from './portcullis-bin.mjs';

const PACKAGE = fileURLToPath(new URL('../../packages/portcullis/', import.meta.url));
const DIST_BIN = PORTCULLIS_BUNDLE;
const SRC_BIN = join(PACKAGE, 'src/cli/bin.ts');

/** Where the load generator is sent back after signing in; never contacted (port 9 is discard). */
export const REDIRECT_URI = 'http://127.0.0.1:9/cb';
/** What each login asks for: what Grafana and friends ask for. */
export const LOGIN_SCOPE = 'openid profile email groups';
export const CC_SCOPE = 'reports';

/**
 * @typedef {object} Build
 * @property {'dist' | 'src'} kind
 * @property {string} bin       the CLI entry point
 * @property {string} main      the module exporting openIdentityAdmin
 * @property {string} [note]    what the report should say about the choice
 */

/**
 * The build to run: `dist` (what `npm run build` makes and what is deployed) when asked, or
 * under `auto` whenever it exists, with a note when a source file is newer than the last
 * build; else the TypeScript sources through Node's type stripping (same code and steady-state
 * speed, but the stripper costs about 35 MB of RSS).
 * @param {'auto' | 'dist' | 'src'} wanted
 * @returns {Build}
 */
export function locateBuild(wanted) {
  const dist = { kind: /** @type {const} */ ('dist'), bin: DIST_BIN, main: join(PACKAGE, 'dist/main.js') };
  const src = { kind: /** @type {const} */ ('src'), bin: SRC_BIN, main: join(PACKAGE, 'src/main.ts') };
  const srcNote = 'Ran the TypeScript sources through Node\'s type stripping, which adds about 35 MB of RSS: memory figures are not comparable with a build (`npm run build`).';
  if (wanted === 'src') return { ...src, note: srcNote };
  if (!existsSync(DIST_BIN)) {
    if (wanted === 'dist') throw new Error(`${DIST_BIN} does not exist (build it: npm run build)`);
    return { ...src, note: `No build in dist/. ${srcNote}` };
  }
  const newer = newestSource(join(PACKAGE, 'src'), statSync(DIST_BIN).mtimeMs);
  return newer === null
    ? dist
    : { ...dist, note: `dist/ is older than ${newer.slice(PACKAGE.length)}: this measured the last build, not the working tree (\`npm run build\`, or --build src).` };
}

/**
 * The first non-test .ts file under `dir` modified after `since`, or null.
 * @param {string} dir @param {number} since @returns {string | null}
 */
function newestSource(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = newestSource(path, since);
      if (found !== null) return found;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && statSync(path).mtimeMs > since) {
      return path;
    }
  }
  return null;
}

/**
 * @typedef {object} BenchIdentity
 * @property {string} configFile
 * @property {string} origin     also the issuer
 * @property {{ id: string, secret: string, redirectUri: string }} client   code flow, first party
 * @property {{ id: string, secret: string }} service                        client_credentials
 * @property {{ login: string, password: string }[]} users
 */

/**
 * Writes the config: the provider alone on loopback, log level warn, no access log, the
 * database in the run's temp dir. Secrets and passwords are fresh per run.
 * @param {{ dir: string, port: number, users: number }} opts
 * @returns {BenchIdentity}
 */
export function writeIdentityConfig({ dir, port, users }) {
  const origin = `http://127.0.0.1:${port}`;
  const client = { id: 'bench', secret: randomBytes(24).toString('base64url'), redirectUri: REDIRECT_URI };
  const service = { id: 'svc', secret: randomBytes(24).toString('base64url') };
  const configFile = join(dir, 'Portcullisfile');
  writeFileSync(configFile, `{
	admin off
	default_bind 127.0.0.1
	log {
		level warn
	}
	database sqlite ${join(dir, 'bench.db')}
	identity {
		issuer ${origin}
		client ${client.id} {
			secret ${client.secret}
			redirect_uri ${client.redirectUri}
			first_party
		}
		client ${service.id} {
			secret ${service.secret}
			grant_types client_credentials
			scopes ${CC_SCOPE}
		}
	}
}

${origin} {
	identity_provider
}
`);
  const list = Array.from({ length: users }, (_, i) => ({ login: `bench${i}`, password: `bench-${i}-${randomBytes(9).toString('base64url')}` }));
  return { configFile, origin, client, service, users: list };
}

/**
 * Creates the users (and a group, so the `groups` claim has something to say) through the same
 * admin facade the CLI uses, in this process: one import instead of one CLI start per user.
 * @param {Build} build @param {BenchIdentity} identity
 */
export async function seedUsers(build, identity) {
  const { openIdentityAdmin } = await import(pathToFileURL(build.main).href);
  const { admin, close } = await openIdentityAdmin({ configFile: identity.configFile });
  try {
    await admin.addGroup('bench');
    for (const user of identity.users) {
      await admin.addUser({ username: user.login, email: `${user.login}@example.com`, displayName: `Bench ${user.login}`, password: user.password });
      await admin.addMember('bench', user.login);
    }
  } finally {
    await close();
  }
}

/**
 * Starts `portcullis run` pinned to `cpus`, in its own process group, logging to the run dir.
 * `cpuProfDir` adds Node's --cpu-prof (the profile is written when the server exits).
 * @param {{ procs: ReturnType<typeof import('./processes.mjs').createProcessSet>, build: Build,
 *   dir: string, configFile: string, cpus?: string, cpuProfDir?: string }} opts
 */
export function startIdentityServer({ procs, build, dir, configFile, cpus, cpuProfDir }) {
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, NODE_ENV: 'production', PORTCULLIS_DATA_DIR: join(dir, 'portcullis-data') };
  if (process.env.BENCH_PORTCULLIS_NODE_OPTIONS !== undefined) env.NODE_OPTIONS = process.env.BENCH_PORTCULLIS_NODE_OPTIONS;
  return procs.start({
    name: 'portcullis', command: process.execPath, args: [...shimNodeFlags(), ...nodeArgs, build.bin, 'run', '--config', configFile],
    cwd: dir, env, cpus, logFile: join(dir, 'portcullis.log'),
  });
}
