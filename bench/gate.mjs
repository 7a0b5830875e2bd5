// What gating a route by identity costs: `npm run bench:gate` (see README.md, "Gated routes").
//
// One Portcullis process, pinned to the server core, serves the identity provider on one
// loopback port and, on another, one site with three routes to the same upstream (1 KB): open,
// behind `authenticate` (requests carry a signed-in session cookie, obtained through the real
// login page), and behind `jwt { require scope reports }` (requests carry one client_credentials
// access token, over and over). wrk, pinned with the upstream to the other core, measures each
// route for N rounds whose order alternates; the report gives median rps and p99, the ratios to
// the open route, and checks that every answer was a 200. Then @portcullis/verify's rates on the
// server core (lib/gate-verify.mjs): fresh and repeated tokens beside jose and crypto.verify.
import { argon2 } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus as cpuList, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProcessSet, logTail } from './lib/processes.mjs';
import { freePort, waitReady } from './lib/net.mjs';
import { groupCpuSeconds } from './lib/cpu.mjs';
import { median } from './lib/stats.mjs';
import { findBinary } from './lib/which.mjs';
import { locateBuild, startIdentityServer } from './lib/identity-server.mjs';
import { summariseProfile } from './lib/identity-profile.mjs';
import { GATE_SCOPE, ROUTES, UPSTREAM_PATH, addUserWithCli, writeGateConfig } from './lib/gate-server.mjs';
import { clientCredentialsToken, decodeJwt, send, signIn } from './lib/gate-signin.mjs';
import { runWrk } from './lib/wrk.mjs';
import { num, ratio, renderGateReport } from './lib/gate-report.mjs';
import { startUpstream } from './upstream.mjs';
import { installCleanup, intOption, placeOnCores, safeExec, sleep } from './lib/harness.mjs';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const VERIFY = fileURLToPath(new URL('./lib/gate-verify.mjs', import.meta.url));
const VERIFY_PACKAGE = fileURLToPath(new URL('../packages/verify/', import.meta.url));
const BODY_BYTES = 1024;

/** The issue's targets. */
const TARGET_ROUTE_RATIO = 0.85;
const TARGET_FRESH_VS_JOSE = 0.8;
const TARGET_REPEATED_PER_S = 100_000;

const VERIFY_ROWS = [
  ['fresh', '@portcullis/verify, fresh tokens (each new to the verifier: signature checked)'],
  ['jose', 'jose jwtVerify alone, same key and claim checks'],
  ['raw', 'node:crypto.verify, signature only (RS256)'],
  ['repeated', '@portcullis/verify, repeated token (cache hit)'],
];

/** Functions that are the gate's own work, for the profile's second table. */
const GATE_CODE = /proxy\/handlers\/(authenticate|jwt)\.|identity\/(edge-sessions|cookies|authenticator)\.|proxy\/identity-headers\.|kernel\/(auth-policy|header-value)\.|packages\/verify\//;

const USAGE = `usage: node bench/gate.mjs [options]

  --rounds N           rounds, medians reported; route order alternates (env BENCH_ROUNDS, default 2)
  --duration S         seconds per wrk run (env BENCH_DURATION, default 10)
  --connections N      wrk connections, one thread (env BENCH_CONNECTIONS, default 50)
  --warmup S           untimed wrk seconds per route before round 1 (env BENCH_WARMUP, default 2)
  --verify-seconds S   seconds per verification rate per round; 0 skips them (default 3)
  --verify-pool N      distinct tokens for the fresh-token rates (default 2000)
  --upstream KIND      nginx | node (env BENCH_UPSTREAM, default nginx when installed)
  --build KIND         auto | dist | src: which Portcullis to run (default auto: dist when
                       built, noting when sources are newer; else src)
  --cpu-prof           profile the server (node --cpu-prof) and report its top self-time
                       functions per route; profiling slows it, so take the figures from a
                       run without it
  --keep               keep the temp dir with the config, database and server log
  -h, --help
`;

main().catch((err) => {
  console.error(`bench:gate: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});

async function main() {
  const opts = readOptions();
  if (!opts) return;
  if (!existsSync('/proc/self/status')) throw new Error('needs Linux (/proc) to read CPU time');
  if (typeof argon2 !== 'function') throw new Error(`node ${process.version} has no crypto.argon2; run with Node 24 (export PATH=$PWD/node_modules/.bin:$PATH)`);
  const wrk = findBinary('wrk');
  if (!wrk) throw new Error('wrk is not installed; install the peers with: sudo bash scripts/install-peers.sh');
  const build = locateBuild(opts.build);
  const notes = [];
  if (build.note) {
    console.error(`bench:gate: note: ${build.note}`);
    notes.push(build.note);
  }
  const verifyModule = join(VERIFY_PACKAGE, 'dist/index.js');
  if (!existsSync(verifyModule)) throw new Error(`${verifyModule} does not exist (build it: npm run build)`);
  const verifyNote = staleVerifyBuild();
  if (verifyNote) {
    console.error(`bench:gate: note: ${verifyNote}`);
    notes.push(verifyNote);
  }
  if (opts.cpuProf) notes.push('The server ran under --cpu-prof, which slows it: take the figures from a run without it.');

  const { taskset, cpuCount, serverCpus, loadCpus } = placeOnCores('bench:gate', notes, 'the server, wrk and the upstream');

  const procs = createProcessSet({ taskset });
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-gate-bench-'));
  // nginx's worker runs as nobody and must reach upstream-root/ inside: traverse, not list.
  chmodSync(dir, 0o711);
  const state = { keep: opts.keep, interrupted: false };
  installCleanup(procs, state, dir, 'bench:gate', 'config, database and server log');
  const perRun = opts.duration + 17;
  const budgetS = 240 + ROUTES.length * (opts.warmup + 17) + opts.rounds * (ROUTES.length * perRun + opts.verifySeconds * 5 + 60);
  const watchdog = setTimeout(() => {
    console.error(`bench:gate: still running after ${budgetS} s; giving up`);
    process.kill(process.pid, 'SIGTERM');
  }, budgetS * 1000);
  watchdog.unref();

  try {
    const nginx = findBinary('nginx');
    const upstreamKind = opts.upstream ?? (nginx ? 'nginx' : 'node');
    if (upstreamKind === 'node') notes.push('The upstream is the Node server, which shares the load generator\'s core: it may cap every route alike (see "Why the upstream is nginx").');
    const upstream = await startUpstream({ kind: upstreamKind, port: await freePort(), dir, cpus: loadCpus, nginx, procs });
    console.error(`bench:gate: upstream (${upstream.kind}) on 127.0.0.1:${upstream.port}`);

    const setup = writeGateConfig({ dir, issuerPort: await freePort(), sitePort: await freePort(), upstreamPort: upstream.port });
    addUserWithCli({ build, dir, setup });
    const profDir = join(dir, 'cpu-prof');
    if (opts.cpuProf) mkdirSync(profDir);
    const server = startIdentityServer({ procs, build, dir, configFile: setup.configFile, cpus: serverCpus, cpuProfDir: opts.cpuProf ? profDir : undefined });
    try {
      await waitReady(`${setup.issuer}/.well-known/openid-configuration`, { exited: server.exited, timeoutMs: 30_000 });
      await waitReady(`${setup.site}/open${UPSTREAM_PATH}`, { exited: server.exited, timeoutMs: 10_000 });
    } catch (err) {
      state.keep = true;
      throw new Error(`Portcullis did not start: ${err instanceof Error ? err.message : err}\n${logTail(server.logFile)}`);
    }
    console.error(`bench:gate: Portcullis (${build.kind}) pid ${server.pid}${serverCpus ? ` on CPU ${serverCpus}` : ''}: provider ${setup.issuer}, routes ${setup.site}`);

    const url = (/** @type {typeof ROUTES[number]} */ route) => `${setup.site}${route.prefix}${UPSTREAM_PATH}`;
    const session = await signIn({ issuer: setup.issuer, returnTo: url(/** @type {typeof ROUTES[number]} */ (ROUTES.find((r) => r.name === 'gated'))), login: setup.user.login, password: setup.user.password });
    const newToken = () => clientCredentialsToken({ issuer: setup.issuer, client: setup.service, scope: GATE_SCOPE });
    let token = await newToken();
    console.error(`bench:gate: signed in (${session.name} cookie) and got a client_credentials token (${token.length} bytes)`);
    /** The header that admits a request to `route`, or none. */
    const credential = (/** @type {string} */ name) => (name === 'gated' ? [`Cookie: ${session.cookie}`] : name === 'jwt' ? [`Authorization: Bearer ${token}`] : []);

    await probeRoutes({ url, credential, withoutCredential: true });

    if (opts.warmup > 0) {
      console.error(`bench:gate: warming up (${opts.warmup} s per route)`);
      for (const route of ROUTES) {
        await runWrk({ procs, wrk, url: url(route), headers: credential(route.name), durationS: opts.warmup, connections: opts.connections, threads: 1, cpus: loadCpus });
      }
    }

    /** @type {Map<string, { rps: number, p50Ms: number, p99Ms: number, requests: number, statusErrors: number, socketErrors: number, serverCpuPct: number, perCpuS: number, window: { startUs: number, endUs: number } }[]>} */
    const samples = new Map(ROUTES.map((r) => [r.name, []]));
    /** @type {Record<string, { rate: number, perCpuS: number }[]>} */
    const verifySamples = {};
    let tokenBytes = 0;
    const template = decodeJwt(token);
    for (let round = 0; round < opts.rounds; round++) {
      // Alternating order (ABC, CBA, ...): over an even number of rounds every route sits at
      // the same mean time, so a drift in the machine's speed favours none.
      const order = round % 2 === 0 ? ROUTES : [...ROUTES].reverse();
      console.error(`bench:gate: round ${round + 1}/${opts.rounds}: ${order.map((r) => r.name).join(', ')}${opts.verifySeconds > 0 ? ', verify' : ''}`);
      for (const route of order) {
        if (server.exited()) throw new Error(`Portcullis exited:\n${logTail(server.logFile)}`);
        if (route.name === 'jwt') token = await newToken();
        const cpu0 = groupCpuSeconds(server.pid);
        const t0 = performance.now();
        const startUs = monotonicUs();
        const r = await runWrk({ procs, wrk, url: url(route), headers: credential(route.name), durationS: opts.duration, connections: opts.connections, threads: 1, cpus: loadCpus });
        const endUs = monotonicUs();
        const wallS = (performance.now() - t0) / 1000;
        const serverCpuPct = (100 * (groupCpuSeconds(server.pid) - cpu0)) / wallS;
        const perCpuS = serverCpuPct > 0 ? r.rps / (serverCpuPct / 100) : Number.NaN;
        samples.get(route.name)?.push({ ...r, serverCpuPct, perCpuS, window: { startUs, endUs } });
        const bad = r.statusErrors + r.socketErrors > 0 ? `  ${r.statusErrors} non-2xx/3xx, ${r.socketErrors} socket errors` : '';
        console.error(`  ${route.name.padEnd(6)} ${num(r.rps).padStart(8)} rps  p99 ${r.p99Ms.toFixed(2)} ms  server CPU ${Math.round(serverCpuPct)} %  per CPU-s ${num(perCpuS)}${bad}`);
        await sleep(500);
      }
      if (opts.verifySeconds > 0) {
        const spec = JSON.stringify({ seconds: opts.verifySeconds, pool: opts.verifyPool, verifyModule, template });
        const res = await procs.run({ name: 'gate-verify', command: process.execPath, args: [VERIFY, spec], cpus: serverCpus, timeoutMs: (opts.verifySeconds * 4 + 60) * 1000 });
        const line = res.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
        if (res.code !== 0 || !line) throw new Error(`the verification measurement failed (exit ${res.code}${res.timedOut ? ', timed out' : ''}): ${res.stderr || res.stdout}`);
        const v = JSON.parse(line.slice('BENCH_JSON '.length));
        tokenBytes = v.tokenBytes;
        for (const [key, value] of Object.entries(v.rates)) (verifySamples[key] ??= []).push(/** @type {any} */ (value));
        console.error(`  verify fresh ${num(v.rates.fresh.perCpuS)}/CPU-s, jose ${num(v.rates.jose.perCpuS)}/CPU-s, crypto.verify ${num(v.rates.raw.perCpuS)}/CPU-s, repeated ${num(v.rates.repeated.perCpuS)}/CPU-s`);
      }
    }

    // After the load: still a 200 with the full body on every route (the session and the token
    // were good to the end, so no run could have turned into a stream of refusals unnoticed).
    await probeRoutes({ url, credential, withoutCredential: false });
    await procs.stop(server, 15_000);

    const routes = ROUTES.map((route) => {
      const rs = samples.get(route.name) ?? [];
      const rps = rs.map((r) => r.rps);
      return {
        name: route.name, label: route.label,
        rps: median(rps), rpsMin: Math.min(...rps), rpsMax: Math.max(...rps),
        p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)),
        serverCpuPct: median(rs.map((r) => r.serverCpuPct)), perCpuS: median(rs.map((r) => r.perCpuS)),
        requests: rs.reduce((a, r) => a + r.requests, 0),
        statusErrors: rs.reduce((a, r) => a + r.statusErrors, 0),
        socketErrors: rs.reduce((a, r) => a + r.socketErrors, 0),
      };
    });
    const open = routes.find((r) => r.name === 'open');
    if (!open) throw new Error('no open route measured');
    const ratios = routes.filter((r) => r.name !== 'open').map((r) => ({
      route: r.label, name: r.name,
      rps: r.rps / open.rps, perCpuS: r.perCpuS / open.perCpuS, p99: r.p99Ms / open.p99Ms,
      perRound: (samples.get(r.name) ?? []).map((s, i) => s.rps / (samples.get('open')?.[i]?.rps ?? Number.NaN)),
    }));
    const verify = VERIFY_ROWS.filter(([key]) => verifySamples[key]).map(([key, label]) => ({
      key, label, rate: median(verifySamples[key].map((x) => x.rate)), perCpuS: median(verifySamples[key].map((x) => x.perCpuS)),
    }));

    const targets = [];
    // Judged on per CPU-s, as the identity bench judges its targets: another job on a 2-core
    // machine can take a share of CPU 0 away during one route's run and not another's, which
    // moves the rps ratio but not what a request costs. On a quiet machine the two agree.
    for (const q of ratios) {
      const row = routes.find((r) => r.name === q.name);
      const invalid = open.statusErrors > 0 || (row?.statusErrors ?? 0) > 0;
      targets.push({
        label: `${q.name === 'gated' ? '`authenticate`' : '`jwt`'} route / open route, per CPU-s (rps ratio beside it)`,
        measured: `${ratio(q.perCpuS)} (${num(row?.perCpuS ?? Number.NaN)} / ${num(open.perCpuS)}); rps ${ratio(q.rps)} (${num(row?.rps ?? Number.NaN)} / ${num(open.rps)})`,
        target: `≥ ${TARGET_ROUTE_RATIO.toFixed(2)}×`,
        met: /** @type {'yes' | 'no' | 'invalid'} */ (invalid ? 'invalid' : q.perCpuS >= TARGET_ROUTE_RATIO ? 'yes' : 'no'),
      });
      if (!invalid && (q.perCpuS >= TARGET_ROUTE_RATIO) !== (q.rps >= TARGET_ROUTE_RATIO)) {
        notes.push(`The ${q.name} route's rps ratio (${ratio(q.rps)}) and per CPU-s ratio (${ratio(q.perCpuS)}) disagree about the ${TARGET_ROUTE_RATIO}× target: the server did not get the same share of its core in every run (see server CPU). Run again on a quiet machine.`);
      }
    }
    const vOf = (/** @type {string} */ key) => verify.find((v) => v.key === key);
    const fresh = vOf('fresh');
    const jose = vOf('jose');
    const repeated = vOf('repeated');
    if (fresh && jose) {
      const q = fresh.perCpuS / jose.perCpuS;
      targets.push({ label: 'fresh-token verification / jose alone (per CPU-s)', measured: `${ratio(q)} (${num(fresh.perCpuS)} / ${num(jose.perCpuS)})`, target: `≥ ${TARGET_FRESH_VS_JOSE.toFixed(2)}×`, met: /** @type {'yes' | 'no'} */ (q >= TARGET_FRESH_VS_JOSE ? 'yes' : 'no') });
    }
    if (repeated) {
      targets.push({ label: 'repeated-token verifications per CPU-s', measured: `${num(repeated.perCpuS)}/s`, target: `≥ ${num(TARGET_REPEATED_PER_S)}/s`, met: /** @type {'yes' | 'no'} */ (repeated.perCpuS >= TARGET_REPEATED_PER_S ? 'yes' : 'no') });
    }
    if (routes.some((r) => r.statusErrors > 0)) notes.push('Some route had answers above 399 under load: its figures measured refusals, not the route, and its ratio is marked invalid. The server log is kept.');
    if (routes.some((r) => r.socketErrors > 0)) notes.push('wrk reported socket errors (connect/read/write/timeouts) on some route: see the errors columns.');
    if (routes.some((r) => r.serverCpuPct < 90)) notes.push('The server used less than 90 % of its core in some run: the load side (wrk and the upstream on one core) or another job was the limit there; compare per CPU-s.');
    if (routes.some((r) => r.statusErrors > 0)) state.keep = true;

    const profiles = [];
    if (opts.cpuProf) {
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) {
        notes.push('--cpu-prof: the server wrote no profile (did it exit cleanly?).');
      } else {
        mkdirSync(RESULTS_DIR, { recursive: true });
        const kept = join(RESULTS_DIR, 'gate-latest.cpuprofile');
        copyFileSync(join(profDir, file), kept);
        notes.push(`The whole CPU profile is in ${kept} (open it in Chrome DevTools or VS Code).`);
        for (const route of ROUTES) {
          const windows = (samples.get(route.name) ?? []).map((r) => r.window);
          const all = summariseProfile(join(profDir, file), windows, 100_000);
          profiles.push({ ...all, route: route.label, functions: all.functions.slice(0, 20), ours: all.functions.filter((f) => GATE_CODE.test(f.where)).slice(0, 20) });
        }
      }
    }

    const header = describeRun({ opts, build, cpuCount, serverCpus, loadCpus, wrk, upstreamKind: upstream.kind, tokenBytes });
    const report = renderGateReport({ header, routes, ratios, verify, targets, profiles, notes });
    mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = new Date().toISOString().slice(0, 16).replace(':', '');
    const json = `${JSON.stringify({
      header, routes, ratios, verify, targets, profiles, notes,
      samples: Object.fromEntries(samples), verifySamples,
    }, null, 2)}\n`;
    for (const name of [`gate-${stamp}`, 'gate-latest']) {
      writeFileSync(join(RESULTS_DIR, `${name}.md`), report);
      writeFileSync(join(RESULTS_DIR, `${name}.json`), json);
    }
    process.stdout.write(`\n${report}`);
    console.error(`bench:gate: written to ${join(RESULTS_DIR, `gate-${stamp}.md`)} (and gate-latest.md)`);
  } catch (err) {
    if (state.interrupted) return;
    state.keep = true;
    throw err;
  } finally {
    clearTimeout(watchdog);
    if (!state.interrupted) {
      await procs.stopAll();
      if (!state.keep) rmSync(dir, { recursive: true, force: true });
      else console.error(`bench:gate: config, database and server log kept in ${dir}`);
    }
  }
}

/**
 * Each route answers 200 with the whole 1 KB body when given its credential; with
 * `withoutCredential`, the gated routes also answer 401 without one (the gate is on: a route
 * that let anyone through would make its figure meaningless).
 * @param {{ url: (route: typeof ROUTES[number]) => string, credential: (name: string) => string[], withoutCredential: boolean }} opts
 */
async function probeRoutes({ url, credential, withoutCredential }) {
  for (const route of ROUTES) {
    const headers = Object.fromEntries(credential(route.name).map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1).trim()]));
    const ok = await send(url(route), { headers });
    if (ok.status !== 200 || ok.body.length !== BODY_BYTES) throw new Error(`${route.name} route: ${ok.status} with ${ok.body.length} bytes, not 200 with ${BODY_BYTES}`);
    if (!withoutCredential || route.name === 'open') continue;
    const refused = await send(url(route));
    if (refused.status !== 401) throw new Error(`${route.name} route without its credential answered ${refused.status}, not 401: the gate is not on`);
  }
}

/** Microseconds on the monotonic clock that V8 stamps --cpu-prof samples with. */
function monotonicUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

/** A note when a source file of packages/verify is newer than its build (the server runs the build). */
function staleVerifyBuild() {
  const info = join(VERIFY_PACKAGE, 'dist/.tsbuildinfo');
  if (!existsSync(info)) return null;
  const built = statSync(info).mtimeMs;
  const src = join(VERIFY_PACKAGE, 'src');
  const newer = readdirSync(src).find((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && statSync(join(src, f)).mtimeMs > built);
  return newer ? `packages/verify/dist is older than src/${newer}: the \`jwt\` route and the verification rates ran the last build (\`npm run build\`).` : null;
}

/** Options from argv and env, validated; null after --help. */
function readOptions() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      'verify-seconds': { type: 'string' },
      'verify-pool': { type: 'string' },
      upstream: { type: 'string' },
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
  const build = values.build ?? 'auto';
  if (build !== 'auto' && build !== 'dist' && build !== 'src') throw new Error(`--build must be auto, dist or src, not '${build}'`);
  const upstream = values.upstream ?? process.env.BENCH_UPSTREAM;
  if (upstream !== undefined && upstream !== 'nginx' && upstream !== 'node') throw new Error(`--upstream must be nginx or node, not '${upstream}'`);
  return {
    rounds: intOption(values.rounds ?? process.env.BENCH_ROUNDS, 2, 1, 50, 'rounds'),
    duration: intOption(values.duration ?? process.env.BENCH_DURATION, 10, 1, 600, 'duration'),
    connections: intOption(values.connections ?? process.env.BENCH_CONNECTIONS, 50, 1, 10_000, 'connections'),
    warmup: intOption(values.warmup ?? process.env.BENCH_WARMUP, 2, 0, 60, 'warmup'),
    verifySeconds: intOption(values['verify-seconds'], 3, 0, 120, 'verify-seconds'),
    verifyPool: intOption(values['verify-pool'], 2000, 10, 100_000, 'verify-pool'),
    upstream: /** @type {'nginx' | 'node' | undefined} */ (upstream),
    build: /** @type {'auto' | 'dist' | 'src'} */ (build),
    cpuProf: values['cpu-prof'] === true,
    keep: values.keep === true || process.env.BENCH_KEEP === '1',
  };
}




/**
 * The report's header: when, what, on which machine, and how it was driven.
 * @param {{ opts: NonNullable<ReturnType<typeof readOptions>>, build: import('./lib/identity-server.mjs').Build,
 *   cpuCount: number, serverCpus: string | undefined, loadCpus: string | undefined, wrk: string,
 *   upstreamKind: string, tokenBytes: number }} run
 */
function describeRun({ opts, build, cpuCount, serverCpus, loadCpus, wrk, upstreamKind, tokenBytes }) {
  const commit = safeExec('git', ['rev-parse', '--short', 'HEAD']).trim();
  const wrkVersion = safeExec(wrk, ['--version']).split('\n')[0]?.split(' ')[1] ?? '?';
  const cpu = cpuList()[0]?.model ?? '?';
  const pinning = serverCpus !== undefined
    ? `Portcullis pinned to CPU ${serverCpus} (the verification rates measured there too, with the server idle); wrk, the upstream and this harness to CPU ${loadCpus}`
    : 'no CPU pinning';
  return [
    `${new Date().toISOString()} · commit ${commit || '?'} · ${cpu}, ${cpuCount} CPUs · Linux ${release()} · Node ${process.versions.node}, OpenSSL ${process.versions.openssl}`,
    '',
    `One Portcullis process from ${build.kind === 'dist' ? 'dist/' : 'src/ (type stripping)'} on 127.0.0.1 (admin off, log level warn, no access log, SQLite in a temp dir): ` +
      '`identity_provider` on one port; on another, one site with `handle_path /open/*`, `/gated/*` (`authenticate`) and `/api/*` (`jwt { require scope reports }`), ' +
      `each \`reverse_proxy\` to the same ${upstreamKind} upstream answering 1 KB. ${pinning}.`,
    '',
    `Credentials: one user created with \`portcullis user add --password-stdin\`, signed in through \`<issuer>/login?rd=...\` (form, csrf, nonce cookie) for the session cookie; ` +
      `one client_credentials access token (RS256 JWT, \`at+jwt\`) per \`jwt\` run, the same token on every request of the run (the verifier's cache).`,
    '',
    `Load: wrk ${wrkVersion} -t1 -c${opts.connections} -d${opts.duration}s, HTTP/1.1 keep-alive, ${opts.rounds} round(s) after a ${opts.warmup} s warm-up per route, ` +
      'route order alternating per round (open, gated, jwt; then the reverse); medians over rounds. ' +
      (opts.verifySeconds > 0
        ? `Verification: bench/lib/gate-verify.mjs, ${opts.verifySeconds} s per rate per round in 3 interleaved slices, ${opts.verifyPool} fresh tokens shaped like the server's access token${tokenBytes ? ` (${tokenBytes} bytes)` : ''}.`
        : 'Verification rates skipped (--verify-seconds 0).'),
  ];
}


