// The Portcullis process the gate bench measures: its config (the provider on one port, the
// three routes on another), the one user it signs in as, created through the real CLI.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The scope the `svc` client may ask for and the `jwt` route requires. */
export const GATE_SCOPE = 'reports';

/**
 * The three routes, in report order. Each strips its prefix (`handle_path`), so `/<prefix>/proxy/1k`
 * reaches the upstream as `/proxy/1k`: the same upstream request, the same 1 KB answer, for all three.
 * @type {{ name: 'open' | 'gated' | 'jwt', label: string, prefix: string }[]}
 */
export const ROUTES = [
  { name: 'open', label: 'open (no gate)', prefix: '/open' },
  { name: 'gated', label: '`authenticate`, signed-in session cookie', prefix: '/gated' },
  { name: 'jwt', label: '`jwt { require scope reports }`, repeated bearer token', prefix: '/api' },
];

/** The upstream path every route forwards to (bench/upstream.mjs serves it, 1 KB). */
export const UPSTREAM_PATH = '/proxy/1k';

/**
 * @typedef {object} GateSetup
 * @property {string} configFile
 * @property {string} issuer      the provider's origin, also the issuer
 * @property {string} site        the origin of the site with the three routes
 * @property {{ id: string, secret: string }} service   the client_credentials client
 * @property {{ login: string, password: string }} user
 */

/**
 * Writes the config: admin off, log level warn, no access log (no `log` in any site), SQLite in
 * the run's temp dir, the provider alone on `issuerPort`, and on `sitePort` one site with an
 * open, an `authenticate`d and a `jwt` route to the same upstream. Secrets are fresh per run.
 * `access_token_ttl 1h`: a token fetched before a run cannot expire during it, whatever
 * --duration says (the default 10m would be cut close by long runs).
 * @param {{ dir: string, issuerPort: number, sitePort: number, upstreamPort: number }} opts
 * @returns {GateSetup}
 */
export function writeGateConfig({ dir, issuerPort, sitePort, upstreamPort }) {
  const issuer = `http://127.0.0.1:${issuerPort}`;
  const site = `http://127.0.0.1:${sitePort}`;
  const service = { id: 'svc', secret: randomBytes(24).toString('base64url') };
  const user = { login: 'gate-bench', password: `gate-${randomBytes(18).toString('base64url')}` };
  const upstream = `127.0.0.1:${upstreamPort}`;
  const configFile = join(dir, 'Portcullisfile');
  writeFileSync(configFile, `{
	admin off
	default_bind 127.0.0.1
	log {
		level warn
	}
	database sqlite ${join(dir, 'gate.db')}
	identity {
		issuer ${issuer}
		access_token_ttl 1h
		client ${service.id} {
			secret ${service.secret}
			grant_types client_credentials
			scopes ${GATE_SCOPE}
		}
	}
}

${issuer} {
	identity_provider
}

${site} {
	handle_path /open/* {
		reverse_proxy ${upstream}
	}
	handle_path /gated/* {
		authenticate
		reverse_proxy ${upstream}
	}
	handle_path /api/* {
		jwt {
			require scope ${GATE_SCOPE}
		}
		reverse_proxy ${upstream}
	}
}
`, { mode: 0o600 });
  return { configFile, issuer, site, service, user };
}

/**
 * Creates the user with the CLI (`portcullis user add --password-stdin`), as an operator would.
 * Bounded: the command is killed after 60 s.
 * @param {{ build: import('./identity-server.mjs').Build, dir: string, setup: GateSetup }} opts
 */
export function addUserWithCli({ build, dir, setup }) {
  const env = { ...process.env, NODE_ENV: 'production', PORTCULLIS_DATA_DIR: join(dir, 'portcullis-data') };
  try {
    execFileSync(process.execPath, [build.bin, 'user', 'add', setup.user.login, '--password-stdin', '--email', `${setup.user.login}@example.com`, '-c', setup.configFile], {
      cwd: dir, env, input: `${setup.user.password}\n`, timeout: 60_000, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8',
    });
  } catch (err) {
    const e = /** @type {{ stderr?: string, stdout?: string, message: string }} */ (err);
    throw new Error(`portcullis user add failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}
