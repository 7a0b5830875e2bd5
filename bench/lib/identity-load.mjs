// Load generator of the identity bench: `node bench/lib/identity-load.mjs SPEC.json`, pinned by
// the harness to the load core. SPEC (written by bench/identity.mjs) names the scenario:
//   login               complete password logins through the authorization code flow
//   refresh             refresh grants, each worker rotating its own refresh token
//   client_credentials  client_credentials grants
// `concurrency` workers loop; after `rampS` seconds the window opens and lasts `durationS`
// seconds, or until `maxCount` iterations have started, whichever comes first. Only
// iterations that complete inside the window count; those still in flight at the deadline
// are neither successes nor failures. Prints one
// `BENCH_JSON {...}` line with the rate, latencies, failures by step, and the CPU that the
// server and this process used during the window (so a saturated load generator shows).
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { groupCpuSeconds } from './cpu.mjs';
import { clientCredentialsGrant, passwordLogin, refreshGrant } from './identity-flow.mjs';

/**
 * @typedef {object} LoadSpec
 * @property {'login' | 'refresh' | 'client_credentials'} scenario
 * @property {string} origin
 * @property {number} concurrency
 * @property {number} durationS  the measured window
 * @property {number} rampS      untimed load before the window opens
 * @property {number} maxCount
 * @property {number} serverPid   process group of the server, for its CPU time
 * @property {{ id: string, secret: string, redirectUri: string }} client
 * @property {{ id: string, secret: string }} service
 * @property {{ login: string, password: string }[]} users
 * @property {string} scope
 * @property {string} ccScope
 */

const specFile = process.argv[2];
if (!specFile) {
  console.error('usage: node bench/lib/identity-load.mjs SPEC.json');
  process.exit(2);
}
/** @type {LoadSpec} */
const spec = JSON.parse(readFileSync(specFile, 'utf8'));
const target = { origin: spec.origin, client: spec.client, scope: spec.scope };
// One keep-alive connection per worker: a worker never has two requests in flight.
const pool = new Pool(spec.origin, { connections: spec.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });

/** @type {Map<string, number>} */
const failures = new Map();
/** @param {unknown} error */
function fail(error) {
  const step = /** @type {{ step?: string, code?: string, message?: string }} */ (error);
  const key = step?.step ?? step?.code ?? String(step?.message ?? error).slice(0, 80);
  failures.set(key, (failures.get(key) ?? 0) + 1);
}

/**
 * The work of one iteration for a worker; workers keep their own state (the refresh chain).
 * @type {Record<LoadSpec['scenario'], (worker: number) => Promise<() => Promise<void>>>}
 */
const SCENARIOS = {
  async login(worker) {
    const user = userFor(worker);
    return async () => { await passwordLogin(pool, target, user); };
  },
  async refresh(worker) {
    // Untimed setup: a login gives this worker the head of its own rotation chain.
    let token = await firstRefreshToken(worker);
    return async () => {
      try {
        const next = await refreshGrant(pool, spec.client, /** @type {string} */ (token));
        token = /** @type {string} */ (next.refreshToken); // refreshGrant checked it is there
      } catch (error) {
        // A failed rotation may have consumed the token: start a new chain (untimed work
        // inside the window, but it only happens after a failure, which is reported).
        token = await firstRefreshToken(worker).catch(() => token);
        throw error;
      }
    };
  },
  async client_credentials() {
    return async () => { await clientCredentialsGrant(pool, spec.service, spec.ccScope); };
  },
};

/** @param {number} worker */
function userFor(worker) {
  const user = spec.users[worker % spec.users.length];
  if (!user) throw new Error('no users');
  return user;
}

/** @param {number} worker */
async function firstRefreshToken(worker) {
  const tokens = await passwordLogin(pool, target, userFor(worker));
  if (!tokens.refreshToken) throw new Error('the login gave no refresh token');
  return tokens.refreshToken;
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The monotonic clock in microseconds: the clock V8 stamps CPU profile samples with. */
function monotonicUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

async function main() {
  const setupStart = performance.now();
  const iterations = await Promise.all(Array.from({ length: spec.concurrency }, (_, i) => SCENARIOS[spec.scenario](i)));
  const setupS = (performance.now() - setupStart) / 1000;

  /** @type {number[]} milliseconds per successful iteration, completed inside the window */
  const latencies = [];
  let started = 0;
  let counting = false;
  let stopped = false;
  const worker = async (/** @type {() => Promise<void>} */ iterate) => {
    while (!stopped && started < spec.maxCount) {
      started++;
      const start = performance.now();
      try {
        await iterate();
        if (counting) latencies.push(performance.now() - start);
      } catch (error) {
        if (counting) fail(error);
      }
    }
  };
  const all = Promise.all(iterations.map(worker));
  // The window opens after the ramp, once every worker is in its loop (a closed loop that
  // starts all at once would otherwise under-count its first round trip), and closes at the
  // deadline or when the count is used up, whichever is first.
  await Promise.race([all, sleep(spec.rampS * 1000)]);
  counting = true;
  const cpu0 = process.cpuUsage();
  const server0 = groupCpuSeconds(spec.serverPid);
  const t0 = performance.now();
  const startUs = monotonicUs();
  await Promise.race([all, sleep(spec.durationS * 1000)]);
  counting = false;
  stopped = true;
  const windowS = (performance.now() - t0) / 1000;
  const endUs = monotonicUs();
  const serverCpuS = groupCpuSeconds(spec.serverPid) - server0;
  const cpu = process.cpuUsage(cpu0);

  const sorted = Float64Array.from(latencies).sort();
  const pct = (/** @type {number} */ p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : Number.NaN);
  const failed = [...failures.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`BENCH_JSON ${JSON.stringify({
    scenario: spec.scenario,
    successes: latencies.length,
    failures: failed,
    failuresByStep: Object.fromEntries(failures),
    started,
    windowS,
    rate: latencies.length / windowS,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    serverCpuPct: (100 * serverCpuS) / windowS,
    loadCpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / windowS,
    setupS,
    window: { startUs, endUs },
  })}\n`);
  // Requests still in flight are abandoned: the harness starts the next run on a clean pool.
  process.exit(0);
}

main().catch((error) => {
  console.error(`identity-load: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
