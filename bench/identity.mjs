// The identity provider on one core: `npm run bench:identity` (see README.md, "Identity
// provider").
//
// One Portcullis process serving only `identity_provider`, pinned to the server core; a Node
// load generator (lib/identity-load.mjs, undici keep-alive pool) pinned to the other core
// measures complete password logins through the authorization code flow, refresh grants and
// client_credentials grants per second, each bounded in time and count, for N rounds whose
// scenario order rotates; the report gives medians beside the issue's targets and Keycloak's
// per-vCPU sizing figures. Idle RSS is read after one login; the raw signing and argon2 rates
// (lib/identity-crypto.mjs) are measured on the server core while the server idles.
import { execFileSync } from 'node:child_process';
import { argon2 } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus as cpuList, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProcessSet, logTail } from './lib/processes.mjs';
import { freePort, waitReady } from './lib/net.mjs';
import { groupRssKiB, samplePeakRss } from './lib/rss.mjs';
import { median } from './lib/stats.mjs';
import { CC_SCOPE, LOGIN_SCOPE, locateBuild, seedUsers, startIdentityServer, writeIdentityConfig } from './lib/identity-server.mjs';
import { renderIdentityReport } from './lib/identity-report.mjs';
import { summariseProfile } from './lib/identity-profile.mjs';
import { installCleanup, intOption, placeOnCores, sleep } from './lib/harness.mjs';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const LOAD = fileURLToPath(new URL('./lib/identity-load.mjs', import.meta.url));
const CRYPTO = fileURLToPath(new URL('./lib/identity-crypto.mjs', import.meta.url));

/**
 * The issue's targets per core, and Keycloak's published sizing figures (keycloak.org, "Concepts
 * for sizing CPU and memory resources"): one vCPU per 15 password logins/s, per 120 refresh
 * token requests/s, per 120 client credential grants/s; 1250 MB of RAM base memory per Pod
 * (with realm caches and 10,000 cached sessions).
 */
const SCENARIOS = [
  { name: 'login', label: 'password logins/s (authorization code flow)', target: 30, keycloak: 15, kind: 'login' },
  { name: 'refresh', label: 'refresh grants/s', target: 500, keycloak: 120, kind: 'grant' },
  { name: 'client_credentials', label: 'client_credentials grants/s', target: 800, keycloak: 120, kind: 'grant' },
];
const RSS_TARGET_MB = 100;
/**
 * Untimed seconds of load before each measured window: a closed loop whose workers all start
 * together needs about one round trip (a login under load: up to a second or two) to settle.
 */
const RAMP_S = 2;
const KEYCLOAK_MEMORY_MB = 1250;

const CRYPTO_ROWS = [
  ['jose_RS256', 'JWT sign RS256 (RSA 2048), jose CompactSign, 8 in flight'],
  ['raw_RS256', 'RS256 raw: node:crypto.sign, RSA 2048 PKCS#1 v1.5'],
  ['jose_ES256', 'JWT sign ES256 (P-256), jose'],
  ['raw_ES256', 'ES256 raw: node:crypto.sign'],
  ['jose_EdDSA', 'JWT sign EdDSA (Ed25519), jose'],
  ['raw_EdDSA', 'EdDSA raw: node:crypto.sign'],
  ['argon2_verify', 'argon2id verify (verifyPassword), 4 in flight'],
];

const USAGE = `usage: node bench/identity.mjs [options]

  --scenarios LIST        ${SCENARIOS.map((s) => s.name).join(',')},crypto (default: all)
  --rounds N              rounds, medians reported (env BENCH_ROUNDS, default 2)
  --duration S            seconds per scenario run (env BENCH_DURATION, default 10)
  --max-count N           at most N iterations per run, whatever the time (default 200000)
  --login-concurrency N   concurrent browsers in the login scenario (default 16)
  --grant-concurrency N   concurrent clients in the grant scenarios (default 32)
  --users N               accounts the logins spread over (default 8)
  --warmup S              untimed seconds per scenario before round 1 (env BENCH_WARMUP, default 2)
  --crypto-seconds S      seconds per raw crypto measurement (default 3)
  --build KIND            auto | dist | src: which Portcullis to run (default auto: dist when
                          built, noting when sources are newer; else src)
  --cpu-prof              profile the server (node --cpu-prof) and report its top self-time
                          functions per scenario; profiling slows it, so take the figures from
                          a run without it
  --keep                  keep the temp dir with the config, database and server log
  -h, --help
`;

main().catch((err) => {
  console.error(`bench:identity: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});

async function main() {
  const opts = readOptions();
  if (!opts) return;
  if (!existsSync('/proc/self/status')) throw new Error('needs Linux (/proc) to read RSS and CPU time');
  if (typeof argon2 !== 'function') throw new Error(`node ${process.version} has no crypto.argon2; run with Node 24 (export PATH=$PWD/node_modules/.bin:$PATH)`);
  const build = locateBuild(opts.build);
  const notes = [];
  if (build.note) {
    console.error(`bench:identity: note: ${build.note}`);
    notes.push(build.note);
  }
  if (opts.cpuProf) notes.push('The server ran under --cpu-prof, which slows it: take the figures from a run without it.');

  const { taskset, cpuCount, serverCpus, loadCpus } = placeOnCores('bench:identity', notes, 'the server and the load generator');

  const procs = createProcessSet({ taskset });
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-identity-bench-'));
  const state = { keep: opts.keep, interrupted: false };
  installCleanup(procs, state, dir, 'bench:identity', 'config, database and server log');
  const wanted = SCENARIOS.filter((s) => opts.scenarios.includes(s.name));
  const perRun = RAMP_S + opts.duration + 20;
  const budgetS = 180 + wanted.length * (opts.warmup + 20 + opts.rounds * perRun) + opts.rounds * (opts.cryptoSeconds * 8 + 30);
  const watchdog = setTimeout(() => {
    console.error(`bench:identity: still running after ${budgetS} s; giving up`);
    process.kill(process.pid, 'SIGTERM');
  }, budgetS * 1000);
  watchdog.unref();

  try {
    const port = await freePort();
    const identity = writeIdentityConfig({ dir, port, users: opts.users });
    await seedUsers(build, identity);
    const profDir = join(dir, 'cpu-prof');
    if (opts.cpuProf) mkdirSync(profDir);
    const server = startIdentityServer({ procs, build, dir, configFile: identity.configFile, cpus: serverCpus, cpuProfDir: opts.cpuProf ? profDir : undefined });
    try {
      await waitReady(`${identity.origin}/.well-known/openid-configuration`, { exited: server.exited, timeoutMs: 30_000 });
    } catch (err) {
      state.keep = true;
      throw new Error(`Portcullis did not start: ${err instanceof Error ? err.message : err}\n${logTail(server.logFile)}`);
    }
    console.error(`bench:identity: Portcullis (${build.kind}) on ${identity.origin}, pid ${server.pid}${serverCpus ? `, CPU ${serverCpus}` : ''}; ${identity.users.length} users`);

    let specN = 0;
    /**
     * One run of the load generator.
     * @param {string} scenario
     * @param {{ concurrency: number, durationS: number, maxCount: number, rampS?: number }} load
     */
    const runLoad = async (scenario, { concurrency, durationS, maxCount, rampS = RAMP_S }) => {
      if (server.exited()) throw new Error(`Portcullis exited:\n${logTail(server.logFile)}`);
      const specFile = join(dir, `load-${specN++}.json`);
      writeFileSync(specFile, JSON.stringify({
        scenario, origin: identity.origin, concurrency, durationS, rampS, maxCount, serverPid: server.pid,
        client: identity.client, service: identity.service, users: identity.users, scope: LOGIN_SCOPE, ccScope: CC_SCOPE,
      }), { mode: 0o600 });
      // Setup (the logins that start refresh chains) comes before the timed window.
      const res = await procs.run({ name: 'identity-load', command: process.execPath, args: [LOAD, specFile], cpus: loadCpus, timeoutMs: (rampS + durationS + 60) * 1000 });
      rmSync(specFile, { force: true });
      if (res.timedOut) throw new Error(`the ${scenario} load generator did not finish in time`);
      const line = res.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      if (res.code !== 0 || !line) throw new Error(`the ${scenario} load generator failed (exit ${res.code}): ${res.stderr || res.stdout}`);
      return JSON.parse(line.slice('BENCH_JSON '.length));
    };

    await sleep(1000);
    const startRssKiB = groupRssKiB(server.pid);
    // One complete login proves the setup works and touches every code path once.
    const first = await runLoad('login', { concurrency: 1, durationS: 30, maxCount: 1, rampS: 0 });
    if (first.successes !== 1) throw new Error(`the first login failed: ${JSON.stringify(first.failuresByStep)}\n${logTail(server.logFile)}`);
    await sleep(2000);
    const idleRssKiB = groupRssKiB(server.pid);
    console.error(`bench:identity: idle RSS after one login: ${(idleRssKiB / 1024).toFixed(1)} MiB`);

    const concurrencyOf = (/** @type {typeof SCENARIOS[number]} */ sc) => (sc.kind === 'login' ? opts.loginConcurrency : opts.grantConcurrency);
    if (opts.warmup > 0) {
      console.error(`bench:identity: warming up (${opts.warmup} s per scenario)`);
      for (const sc of wanted) await runLoad(sc.name, { concurrency: concurrencyOf(sc), durationS: opts.warmup, maxCount: opts.maxCount, rampS: 0 });
    }

    /** @type {Map<string, { results: any[], peak: number }>} */
    const samples = new Map(wanted.map((s) => [s.name, { results: [], peak: 0 }]));
    /** @type {Record<string, { rate: number, perCpuS: number }[]>} */
    const cryptoSamples = {};
    /** @type {{ m: number, t: number, p: number } | null} */
    let argon2Params = null;
    const cryptoModule = join(fileURLToPath(new URL('../packages/portcullis/', import.meta.url)), build.kind === 'dist' ? 'dist/identity/passwords.js' : 'src/identity/passwords.ts');
    for (let round = 0; round < opts.rounds; round++) {
      const order = wanted.map((_, i) => wanted[(i + round) % wanted.length]);
      console.error(`bench:identity: round ${round + 1}/${opts.rounds}: ${order.map((s) => s.name).join(', ')}${opts.crypto ? ', crypto' : ''}`);
      for (const sc of order) {
        if (!sc) continue;
        const sampler = samplePeakRss(server.pid, 100);
        const r = await runLoad(sc.name, { concurrency: concurrencyOf(sc), durationS: opts.duration, maxCount: opts.maxCount });
        const peak = sampler.stop();
        const s = samples.get(sc.name);
        if (!s) continue;
        s.results.push(r);
        s.peak = Math.max(s.peak, peak);
        const perCpuS = r.serverCpuPct > 0 ? r.rate / (r.serverCpuPct / 100) : Number.NaN;
        // JSON has no NaN: a run without a single success reports null percentiles.
        r.p50Ms ??= Number.NaN;
        r.p99Ms ??= Number.NaN;
        console.error(`  ${sc.name.padEnd(19)} ${r.rate.toFixed(1).padStart(8)}/s  server CPU ${Math.round(r.serverCpuPct)} %  per CPU-s ${perCpuS.toFixed(1)}  load CPU ${Math.round(r.loadCpuPct)} %  p99 ${r.p99Ms.toFixed(1)} ms${r.failures ? `  ${r.failures} failures ${JSON.stringify(r.failuresByStep)}` : ''}`);
        await sleep(500);
      }
      if (opts.crypto) {
        const res = await procs.run({
          name: 'identity-crypto', command: process.execPath, args: [CRYPTO, String(opts.cryptoSeconds), cryptoModule],
          cpus: serverCpus, timeoutMs: (opts.cryptoSeconds * 8 + 60) * 1000,
        });
        const line = res.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
        if (res.code !== 0 || !line) throw new Error(`the crypto measurement failed (exit ${res.code}): ${res.stderr || res.stdout}`);
        const c = JSON.parse(line.slice('BENCH_JSON '.length));
        argon2Params = c.argon2;
        for (const [key, value] of Object.entries(c.rates)) (cryptoSamples[key] ??= []).push(/** @type {any} */ (value));
        console.error(`  crypto             RS256 jose ${Math.round(c.rates.jose_RS256.perCpuS)}/CPU-s, raw ${Math.round(c.rates.raw_RS256.perCpuS)}/CPU-s; argon2id verify ${c.rates.argon2_verify.perCpuS.toFixed(1)}/CPU-s`);
      }
    }

    await sleep(2000);
    const afterRssKiB = groupRssKiB(server.pid);
    await procs.stop(server, 15_000);

    const grants = wanted.map((sc) => {
      const s = samples.get(sc.name) ?? { results: [], peak: 0 };
      const rs = s.results;
      const rates = rs.map((r) => r.rate);
      /** @type {Record<string, number>} */
      const byStep = {};
      for (const r of rs) for (const [k, v] of Object.entries(r.failuresByStep)) byStep[k] = (byStep[k] ?? 0) + Number(v);
      return {
        scenario: sc.name, label: sc.label, target: sc.target, keycloak: sc.keycloak, concurrency: concurrencyOf(sc),
        rate: median(rates), rateMin: Math.min(...rates), rateMax: Math.max(...rates),
        serverCpuPct: median(rs.map((r) => r.serverCpuPct)),
        perCpuS: median(rs.map((r) => (r.serverCpuPct > 0 ? r.rate / (r.serverCpuPct / 100) : Number.NaN))),
        loadCpuPct: median(rs.map((r) => r.loadCpuPct)),
        p50Ms: median(rs.map((r) => r.p50Ms).filter(Number.isFinite)), p99Ms: median(rs.map((r) => r.p99Ms).filter(Number.isFinite)),
        successes: rs.reduce((a, r) => a + r.successes, 0), failures: rs.reduce((a, r) => a + r.failures, 0),
        failuresByStep: byStep, peakRssKiB: s.peak,
      };
    });
    const crypto = CRYPTO_ROWS.filter(([key]) => cryptoSamples[key]).map(([key, label]) => ({
      key, label, rate: median(cryptoSamples[key].map((x) => x.rate)), perCpuS: median(cryptoSamples[key].map((x) => x.perCpuS)),
    }));
    if (grants.some((g) => g.loadCpuPct > 85)) {
      notes.push('The load generator used more than 85 % of its core in some scenario: it may have been the limit there (compare server CPU).');
    }
    if (grants.some((g) => g.failures > 0)) notes.push('Failures are iterations that did not end in the expected tokens, by the step that failed; a row with failures is not comparable.');

    const profiles = [];
    if (opts.cpuProf) {
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) {
        notes.push('--cpu-prof: the server wrote no profile (did it exit cleanly?).');
      } else {
        mkdirSync(RESULTS_DIR, { recursive: true });
        const kept = join(RESULTS_DIR, 'identity-latest.cpuprofile');
        copyFileSync(join(profDir, file), kept);
        notes.push(`The whole CPU profile is in ${kept} (open it in Chrome DevTools or VS Code).`);
        for (const sc of wanted) {
          const windows = (samples.get(sc.name)?.results ?? []).map((r) => r.window);
          profiles.push({ scenario: sc.label, ...summariseProfile(join(profDir, file), windows) });
        }
      }
    }

    const header = describeRun({ opts, build, cpuCount, serverCpus, loadCpus });
    const report = renderIdentityReport({
      header, grants, startRssKiB, idleRssKiB, afterRssKiB, rssTargetMB: RSS_TARGET_MB, keycloakMemoryMB: KEYCLOAK_MEMORY_MB,
      crypto, argon2: argon2Params ? `m=${argon2Params.m} KiB, t=${argon2Params.t}, p=${argon2Params.p}` : null, profiles, notes,
    });
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'identity-latest.md'), report);
    writeFileSync(join(RESULTS_DIR, 'identity-latest.json'), `${JSON.stringify({
      header, grants, startRssKiB, idleRssKiB, afterRssKiB, crypto, argon2: argon2Params, profiles, notes,
      samples: Object.fromEntries([...samples].map(([k, v]) => [k, v.results])), cryptoSamples,
    }, null, 2)}\n`);
    process.stdout.write(`\n${report}`);
    console.error(`bench:identity: written to ${join(RESULTS_DIR, 'identity-latest.md')}`);
  } catch (err) {
    if (state.interrupted) return;
    state.keep = true;
    throw err;
  } finally {
    clearTimeout(watchdog);
    if (!state.interrupted) {
      await procs.stopAll();
      if (!state.keep) rmSync(dir, { recursive: true, force: true });
      else console.error(`bench:identity: config, database and server log kept in ${dir}`);
    }
  }
}

/** Options from argv and env, validated; null after --help. */
function readOptions() {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'max-count': { type: 'string' },
      'login-concurrency': { type: 'string' },
      'grant-concurrency': { type: 'string' },
      users: { type: 'string' },
      warmup: { type: 'string' },
      'crypto-seconds': { type: 'string' },
      build: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return null;
  }
  const known = [...SCENARIOS.map((s) => s.name), 'crypto'];
  const scenarios = values.scenarios === undefined
    ? known
    : values.scenarios.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const s of scenarios) if (!known.includes(s)) throw new Error(`unknown scenario '${s}' (known: ${known.join(', ')})`);
  const build = values.build ?? 'auto';
  if (build !== 'auto' && build !== 'dist' && build !== 'src') throw new Error(`--build must be auto, dist or src, not '${build}'`);
  return {
    scenarios,
    crypto: scenarios.includes('crypto'),
    rounds: intOption(values.rounds ?? process.env.BENCH_ROUNDS, 2, 1, 50, 'rounds'),
    duration: intOption(values.duration ?? process.env.BENCH_DURATION, 10, 1, 600, 'duration'),
    maxCount: intOption(values['max-count'], 200_000, 1, 10_000_000, 'max-count'),
    loginConcurrency: intOption(values['login-concurrency'], 16, 1, 1000, 'login-concurrency'),
    grantConcurrency: intOption(values['grant-concurrency'], 32, 1, 1000, 'grant-concurrency'),
    users: intOption(values.users, 8, 1, 1000, 'users'),
    warmup: intOption(values.warmup ?? process.env.BENCH_WARMUP, 2, 0, 60, 'warmup'),
    cryptoSeconds: intOption(values['crypto-seconds'], 3, 1, 60, 'crypto-seconds'),
    build: /** @type {'auto' | 'dist' | 'src'} */ (build),
    cpuProf: values['cpu-prof'] === true,
    keep: values.keep === true || process.env.BENCH_KEEP === '1',
  };
}




/**
 * The report's header: when, what, on which machine, and how it was driven.
 * @param {{ opts: NonNullable<ReturnType<typeof readOptions>>, build: import('./lib/identity-server.mjs').Build,
 *   cpuCount: number, serverCpus: string | undefined, loadCpus: string | undefined }} run
 */
function describeRun({ opts, build, cpuCount, serverCpus, loadCpus }) {
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a checkout
  }
  const cpu = cpuList()[0]?.model ?? '?';
  const pinning = serverCpus !== undefined
    ? `Portcullis pinned to CPU ${serverCpus} (the raw crypto rates measured there too, with the server idle); the load generator and this harness to CPU ${loadCpus}`
    : 'no CPU pinning';
  return [
    `${new Date().toISOString()} · commit ${commit || '?'} · ${cpu}, ${cpuCount} CPUs · Linux ${release()} · Node ${process.versions.node}, OpenSSL ${process.versions.openssl}`,
    '',
    `Portcullis from ${build.kind === 'dist' ? 'dist/' : 'src/ (type stripping)'}, serving only \`identity_provider\` on 127.0.0.1 (SQLite in a temp dir, log level warn, no access log), ` +
      `${opts.users} users, RS256 signing keys. ${pinning}.`,
    '',
    `Load: bench/lib/identity-load.mjs (undici Pool, one keep-alive connection per worker), ${opts.duration} s per run after ${RAMP_S} s of untimed load (at most ${opts.maxCount} iterations), ` +
      `${opts.rounds} round(s) after a ${opts.warmup} s warm-up per scenario, scenario order rotated per round; medians over rounds. ` +
      `Login: ${opts.loginConcurrency} concurrent browsers, each iteration GET /auth (PKCE S256, state, nonce) -> login page -> POST credentials and csrf -> ` +
      'the provider\'s redirects (resume, first-party consent, resume) -> redirect_uri with code -> POST /token (client_secret_basic, code_verifier) -> ID token; only complete flows count. ' +
      `Refresh: ${opts.grantConcurrency} clients, each rotating its own refresh token (obtained by a login before the window). ` +
      `client_credentials: ${opts.grantConcurrency} clients, client_secret_basic, scope ${CC_SCOPE}, a JWT access token each.`,
  ];
}

