/**
 * CrowdSec's Local API for tests, two ways:
 *
 * - startCrowdSecLapi(): the real one, Debian's `crowdsec` (1.4.6 here) run as our child with
 *   `-no-cs` (the API only: no agent, no log acquisition), its config, SQLite database and
 *   credentials in a temp dir, on a free loopback port, no central API, no metrics port, and
 *   stopped by PID. cscli talks to it with that config. Two test processes can run it at once.
 *   `crowdsecMissing()` says why tests must skip.
 * - startFakeLapi(): a node:http server on 127.0.0.1:0 that answers what a test scripts —
 *   `null` replies, repeated deletions, garbage, 403, slow or huge answers — and records what
 *   it was asked.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../src/kernel/logger.ts';
import { launch } from './peers.ts';

export const CROWDSEC_BINARY = '/usr/bin/crowdsec';
export const CSCLI_BINARY = '/usr/bin/cscli';

/** Why tests against the real LAPI cannot run here, or null when they can. */
export function crowdsecMissing(): string | null {
  for (const binary of [CROWDSEC_BINARY, CSCLI_BINARY]) {
    if (!existsSync(binary)) return `${binary} is not installed (apt-get install crowdsec; scripts/install-peers.sh)`;
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      return `${binary} is not executable by this user`;
    }
  }
  return null;
}

export interface RealLapi {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The temp dir: config.yaml, the database, credentials. */
  dir: string;
  configFile: string;
  /** A bouncer key made for this LAPI (`cscli bouncers add`). */
  bouncerKey: string;
  /** A validated machine for a watcher (`cscli machines add`), not the one cscli itself uses. */
  machineId: string;
  password: string;
  /** Runs cscli with this LAPI's config; resolves with stdout, rejects with stderr on failure. */
  cscli(args: readonly string[]): Promise<string>;
  /** `cscli decisions list -o json`, flattened to its decisions (with the alert's scenario and source). */
  decisions(extraArgs?: readonly string[]): Promise<CscliDecision[]>;
  /** What crowdsec printed so far, its last `tailChars`. */
  log(tailChars?: number): string;
  stop(): Promise<void>;
}

/** One decision as `cscli decisions list -o json` shows it. */
export interface CscliDecision {
  id: number;
  origin: string;
  scenario: string;
  scope: string;
  type: string;
  value: string;
  duration: string;
  alertScenario: string;
  alertMessage: string;
}

/** A loopback port free a moment ago (crowdsec's config must name its port). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function configYaml(dir: string, port: number): string {
  // Everything under `dir`; no `online_client` (no central API), no agent section used
  // (-no-cs), prometheus off (it would take a fixed port), logs to stdout (ours to read).
  return `common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: ${dir}
config_paths:
  config_dir: ${dir}/
  data_dir: ${dir}/data/
  simulation_path: ${dir}/simulation.yaml
  hub_dir: ${dir}/hub/
  index_path: ${dir}/hub/.index.json
  notification_dir: ${dir}/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: ${dir}/acquis.yaml
  parser_routines: 1
cscli:
  output: human
  color: no
db_config:
  log_level: info
  type: sqlite
  db_path: ${dir}/data/crowdsec.db
  use_wal: true
  flush:
    max_items: 5000
    max_age: 7d
api:
  client:
    insecure_skip_verify: false
    credentials_path: ${dir}/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:${port}
    profiles_path: ${dir}/profiles.yaml
    console_path: ${dir}/console.yaml
    trusted_ips:
      - 127.0.0.1
      - ::1
prometheus:
  enabled: false
  level: full
  listen_addr: 127.0.0.1
  listen_port: 0
`;
}

/** Debian's default profile: alerts on an Ip without decisions get a 4h ban. */
const PROFILES = `name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
`;

const CSCLI_PASSWORD = 'cscli-password-0123456789';
const WATCHER_ID = 'portcullis-test';
const WATCHER_PASSWORD = 'watcher-password-0123456789';

const ENV_BASE = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

function run(binary: string, args: readonly string[], env: Record<string, string>, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, [...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${binary} ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * Starts a LAPI of its own: a machine for cscli, a machine and a bouncer key for the test are
 * made in its fresh database first (cscli writes them straight into it), then `crowdsec -no-cs`
 * starts; resolves once the port answers (at most 15 s, else throws with crowdsec's output).
 */
export async function startCrowdSecLapi(): Promise<RealLapi> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-crowdsec-'));
  try {
    const configFile = join(dir, 'config.yaml');
    const env = { ...ENV_BASE, HOME: dir };
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'profiles.yaml'), PROFILES);
    writeFileSync(join(dir, 'simulation.yaml'), 'simulation: off\n');
    writeFileSync(join(dir, 'acquis.yaml'), '');
    const cscli = (args: readonly string[]) => run(CSCLI_BINARY, ['-c', configFile, ...args], env);
    // Straight into the fresh database, before the LAPI runs: quicker than through it.
    writeFileSync(configFile, configYaml(dir, 0));
    await cscli(['machines', 'add', 'cscli', '--password', CSCLI_PASSWORD, '-f', join(dir, 'unused_credentials.yaml'), '--force']);
    await cscli(['machines', 'add', WATCHER_ID, '--password', WATCHER_PASSWORD, '-f', join(dir, 'unused_credentials.yaml'), '--force']);
    const bouncerKey = (await cscli(['bouncers', 'add', 'portcullis-test', '-o', 'raw'])).trim();
    let lastError: Error | null = null;
    // A port free when asked may be taken before crowdsec binds it (tests run in parallel): try again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      writeFileSync(configFile, configYaml(dir, port));
      // cscli logs in to the LAPI with these for `decisions add` and `decisions list`.
      writeFileSync(join(dir, 'local_api_credentials.yaml'), `url: ${url}\nlogin: cscli\npassword: ${CSCLI_PASSWORD}\n`);
      try {
        const process = await launch({ name: 'crowdsec', dir, command: CROWDSEC_BINARY, args: ['-c', configFile, '-no-cs'], env, ports: [port], logFiles: [], timeoutMs: 15_000, keepDir: true });
        return {
          url,
          dir,
          configFile,
          bouncerKey,
          machineId: WATCHER_ID,
          password: WATCHER_PASSWORD,
          cscli,
          async decisions(extraArgs = []) {
            return flattenDecisions(await cscli(['decisions', 'list', '-o', 'json', ...extraArgs]));
          },
          log: process.log,
          async stop() {
            await process.stop();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      } catch (error) {
        lastError = error as Error;
        if (!/address already in use/.test(lastError.message)) break;
      }
    }
    throw lastError ?? new Error('crowdsec did not start');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** cscli lists alerts, each with its decisions; `null` when there are none. */
function flattenDecisions(json: string): CscliDecision[] {
  const alerts = JSON.parse(json) as { scenario?: string; message?: string; decisions?: Omit<CscliDecision, 'alertScenario' | 'alertMessage'>[] | null }[] | null;
  const out: CscliDecision[] = [];
  for (const alert of alerts ?? []) {
    for (const d of alert.decisions ?? []) out.push({ ...d, alertScenario: alert.scenario ?? '', alertMessage: alert.message ?? '' });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The fake LAPI.

/** A request the fake received. */
export interface FakeRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** What the fake answers. */
export interface FakeReply {
  status?: number;
  /** A string or JSON value (`null` is the body `null`); or chunks sent one by one. */
  body?: unknown;
  chunks?: (string | Buffer)[];
  /** Before the headers. */
  delayMs?: number;
  /** Between chunks. */
  chunkDelayMs?: number;
  /** Ends the connection after the chunks, without finishing the body. */
  abort?: boolean;
}

export type FakeHandler = (request: FakeRequest) => FakeReply | Promise<FakeReply>;

export interface FakeLapi {
  url: string;
  /** Every request so far (at most 10 000). */
  requests: FakeRequest[];
  /** Answers of the decision stream, login and alerts (defaults: empty stream, a token, created). */
  stream: FakeHandler;
  login: FakeHandler;
  alerts: FakeHandler;
  close(): Promise<void>;
}

/** A JWT-shaped token the fake hands out. */
export function fakeToken(n: number): string {
  return `eyJhbGciOiJIUzI1NiJ9.eyJpZCI6${n}fQ.c2lnbmF0dXJl${n}`;
}

/** A fake LAPI on 127.0.0.1:0. */
export async function startFakeLapi(): Promise<FakeLapi> {
  let logins = 0;
  const fake: FakeLapi = {
    url: '',
    requests: [],
    stream: () => ({ body: { deleted: null, new: null } }),
    login: () => ({ body: { code: 200, expire: new Date(Date.now() + 3600_000).toISOString(), token: fakeToken(++logins) } }),
    alerts: (req) => ({ status: 201, body: (JSON.parse(req.body) as unknown[]).map((_, i) => String(i + 1)) }),
    close: async () => undefined,
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 16 * 1024 * 1024) break;
      chunks.push(chunk as Buffer);
    }
    const recorded: FakeRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    if (fake.requests.length < 10_000) fake.requests.push(recorded);
    const path = recorded.url.split('?')[0];
    const notFound: FakeHandler = () => ({ status: 404, body: { message: 'page not found' } });
    const handler = path === '/v1/decisions/stream' ? fake.stream : path === '/v1/watchers/login' ? fake.login : path === '/v1/alerts' ? fake.alerts : notFound;
    const reply = await handler(recorded);
    if (reply.delayMs) await sleep(reply.delayMs);
    if (res.destroyed) return;
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json; charset=utf-8' });
    const parts = reply.chunks ?? [typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? null)];
    for (const part of parts) {
      if (res.destroyed) return;
      res.write(part);
      if (reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
    }
    if (reply.abort) res.destroy();
    else res.end();
  };
  const server = createHttpServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

/** A decision as the LAPI's stream shows it. */
export function lapiDecision(id: number, value: string, fields: Partial<Record<'type' | 'scope' | 'duration' | 'scenario' | 'origin', string>> = {}): Record<string, unknown> {
  return { duration: '3h59m58.123456789s', id, origin: 'cscli', scenario: `manual 'ban' from 'test'`, scope: 'Ip', type: 'ban', value, ...fields };
}

/** A debug-level logger whose lines a test can read: `{ level: 'warn', msg, ...fields }`. */
export function capturingLogger(): { logger: Logger; lines(level?: string): Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const names: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const logger = createLogger({
    level: 'debug',
    destination: {
      write(line: string) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (lines.length < 10_000) lines.push({ ...parsed, level: names[parsed.level as number] ?? parsed.level });
      },
    },
  });
  return { logger, lines: (level) => (level === undefined ? lines : lines.filter((l) => l.level === level)) };
}
