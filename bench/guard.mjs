// What the guard costs a proxied request: `npm run bench:guard` (see README.md, "Guard").
//
// Two Portcullis processes, both pinned to the server core, proxy the same 1 KB upstream: OFF
// has no `guard` block; ON has `guard { blocklist <100 000 addresses and ranges> }`, so the
// built-in request rules and the behaviour scenarios run too (their defaults). wrk, pinned with
// the upstream to the other core, sends a browser's request (User-Agent, Accept, a query) with
// each request claiming one of 20 000 client addresses in X-Forwarded-For (loopback is a
// trusted proxy in both configs), so every request costs the guard a real lookup, a rule pass
// and a scenario update, and no address behaves like a crawler. Rounds alternate the order;
// medians are reported with the ON/OFF ratio. Then bench/decision-lookups.mjs on the server
// core: lookups per second with 1k, 100k and 1M decisions held.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus as cpuList, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProcessSet, logTail } from './lib/processes.mjs';
import { freePort, waitReady } from './lib/net.mjs';
import { groupCpuSeconds } from './lib/cpu.mjs';
import { meanWithError, median } from './lib/stats.mjs';
import { findBinary } from './lib/which.mjs';
import { locateBuild, startIdentityServer } from './lib/identity-server.mjs';
import { LISTED_PROBE, RULE_PROBE, writeBlocklist, writeGuardConfig, writeWrkScript } from './lib/guard-setup.mjs';
import { startUpstream } from './upstream.mjs';
import { installCleanup, intOption, placeOnCores, safeExec, sleep } from './lib/harness.mjs';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const LOOKUPS = fileURLToPath(new URL('./decision-lookups.mjs', import.meta.url));
const TARGET_RATIO = 0.95;
const BODY_BYTES = 1024;
const CLIENTS = 20_000;
const BROWSER = [
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'Accept-Language: en-GB,en;q=0.5',
];

const USAGE = `usage: node bench/guard.mjs [options]

  --rounds N        rounds, medians reported; OFF/ON order alternates (env BENCH_ROUNDS, default 4)
  --duration S      seconds per wrk run (env BENCH_DURATION, default 10)
  --connections N   wrk connections, one thread (env BENCH_CONNECTIONS, default 50)
  --warmup S        untimed wrk seconds per config before round 1 (default 2)
  --entries N       blocklist entries in the ON config (default 100000)
  --no-lookups      skip bench/decision-lookups.mjs
  --build KIND      auto | dist | src (default auto)
  --keep            keep the temp dir (configs, blocklist, logs)
  -h, --help
`;

main().catch((err) => {
  console.error(`bench:guard: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});

async function main() {
  const opts = readOptions();
  if (!opts) return;
  const wrk = findBinary('wrk');
  if (!wrk) throw new Error('wrk is not installed; install the peers with: sudo bash scripts/install-peers.sh');
  const build = locateBuild(opts.build);
  const notes = [];
  if (build.note) { console.error(`bench:guard: note: ${build.note}`); notes.push(build.note); }
  const { taskset, serverCpus, loadCpus } = placeOnCores('bench:guard', notes, 'the servers, wrk and the upstream');

  const procs = createProcessSet({ taskset });
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-guard-bench-'));
  execFileSync('chmod', ['711', dir]);
  const state = { keep: opts.keep, interrupted: false };
  installCleanup(procs, state, dir, 'bench:guard', 'configs, blocklist and logs');
  const budgetS = 300 + opts.rounds * 2 * (opts.duration + 20);
  const watchdog = setTimeout(() => { console.error(`bench:guard: still running after ${budgetS} s; giving up`); process.kill(process.pid, 'SIGTERM'); }, budgetS * 1000);
  watchdog.unref();

  try {
    const nginx = findBinary('nginx');
    const upstream = await startUpstream({ kind: nginx ? 'nginx' : 'node', port: await freePort(), dir, cpus: loadCpus, nginx, procs });
    // The Node upstream answers exact paths only; nginx ignores the query, as an app would read it.
    const path = upstream.kind === 'nginx' ? '/proxy/1k?page=2' : '/proxy/1k';
    const blocklist = join(dir, 'blocklist.txt');
    const listed = writeBlocklist(blocklist, opts.entries);
    const script = join(dir, 'guard.lua');
    writeWrkScript(script, CLIENTS);
    console.error(`bench:guard: upstream (${upstream.kind}) on ${upstream.port}; blocklist ${listed.entries} entries (${listed.ranges} ranges)`);

    /** @type {{ name: 'off' | 'on', label: string, url: string, server: any }[]} */
    const configs = [];
    for (const name of /** @type {const} */ (['off', 'on'])) {
      const port = await freePort();
      const configFile = writeGuardConfig({ dir, name, port, upstreamPort: upstream.port, blocklist: name === 'on' ? blocklist : undefined });
      // Each its own dir: its own log, its own data dir.
      mkdirSync(join(dir, name), { mode: 0o711 });
      const server = startIdentityServer({ procs, build, dir: join(dir, name), configFile, cpus: serverCpus });
      const url = `http://127.0.0.1:${port}${path}`;
      try {
        await waitReady(url, { exited: server.exited, timeoutMs: 60_000 });
      } catch (err) {
        state.keep = true;
        throw new Error(`Portcullis (${name}) did not start: ${err instanceof Error ? err.message : err}\n${logTail(server.logFile)}`);
      }
      configs.push({ name, label: name === 'on' ? `guard on (rules, scenarios, ${listed.entries} blocklist entries)` : 'guard off', url, server });
    }
    await probe(configs, { guardOn: false });

    if (opts.warmup > 0) {
      for (const c of configs) await runWrk({ procs, wrk, url: c.url, script, durationS: opts.warmup, connections: opts.connections, cpus: loadCpus });
    }
    /** @type {Record<string, any[]>} */
    const samples = { off: [], on: [] };
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? configs : [...configs].reverse();
      console.error(`bench:guard: round ${round + 1}/${opts.rounds}: ${order.map((c) => c.name).join(', ')}`);
      for (const c of order) {
        if (c.server.exited()) throw new Error(`Portcullis (${c.name}) exited:\n${logTail(c.server.logFile)}`);
        const cpu0 = groupCpuSeconds(c.server.pid);
        const t0 = performance.now();
        const r = await runWrk({ procs, wrk, url: c.url, script, durationS: opts.duration, connections: opts.connections, cpus: loadCpus });
        const wallS = (performance.now() - t0) / 1000;
        const serverCpuPct = (100 * (groupCpuSeconds(c.server.pid) - cpu0)) / wallS;
        const perCpuS = serverCpuPct > 0 ? r.rps / (serverCpuPct / 100) : Number.NaN;
        samples[c.name]?.push({ ...r, serverCpuPct, perCpuS });
        const bad = r.statusErrors + r.socketErrors > 0 ? `  ${r.statusErrors} non-2xx/3xx, ${r.socketErrors} socket errors` : '';
        console.error(`  ${c.name.padEnd(4)} ${num(r.rps).padStart(8)} rps  p99 ${r.p99Ms.toFixed(2)} ms  server CPU ${Math.round(serverCpuPct)} %  per CPU-s ${num(perCpuS)}${bad}`);
        await sleep(500);
      }
    }
    // After the load: still 200s (no scenario fired on the load's addresses), and the guard still refuses.
    await probe(configs, { guardOn: true });

    const rows = configs.map((c) => {
      const rs = samples[c.name] ?? [];
      return {
        name: c.name, label: c.label,
        rps: median(rs.map((r) => r.rps)), rpsMin: Math.min(...rs.map((r) => r.rps)), rpsMax: Math.max(...rs.map((r) => r.rps)),
        p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)),
        serverCpuPct: median(rs.map((r) => r.serverCpuPct)), perCpuS: median(rs.map((r) => r.perCpuS)),
        requests: rs.reduce((a, r) => a + r.requests, 0),
        statusErrors: rs.reduce((a, r) => a + r.statusErrors, 0), socketErrors: rs.reduce((a, r) => a + r.socketErrors, 0),
      };
    });
    const off = rows[0]; const on = rows[1];
    if (!off || !on) throw new Error('missing measurements');
    const valid = rows.every((r) => r.statusErrors === 0);
    const ratio = {
      rps: on.rps / off.rps, perCpuS: on.perCpuS / off.perCpuS, p99: on.p99Ms / off.p99Ms,
      perRound: (samples.on ?? []).map((s, i) => s.rps / (samples.off?.[i]?.rps ?? Number.NaN)),
    };
    if (!valid) { notes.push('Some answers under load were not 2xx/3xx: the run is INVALID (the guard refused load, or the upstream failed). Logs kept.'); state.keep = true; }
    if (rows.some((r) => r.socketErrors > 0)) notes.push('wrk reported socket errors: see the table.');
    if (rows.some((r) => r.serverCpuPct < 90)) notes.push('A server used less than 90 % of its core in some run: the load side was the limit there; compare per CPU-s.');
    await Promise.all(configs.map((c) => procs.stop(c.server, 15_000)));

    let lookups = null;
    if (opts.lookups) {
      console.error('bench:guard: decision lookups (bench/decision-lookups.mjs) on the server core');
      const res = await procs.run({ name: 'decision-lookups', command: process.execPath, args: ['--expose-gc', LOOKUPS], cpus: serverCpus, timeoutMs: 300_000 });
      if (res.code !== 0) throw new Error(`decision-lookups failed: ${res.stderr.slice(0, 2000)}`);
      lookups = parseLookups(res.stdout);
    }

    const targets = [
      { label: 'rps, guard on / off', measured: ratio.rps.toFixed(3), target: `≥ ${TARGET_RATIO}`, met: valid ? (ratio.rps >= TARGET_RATIO ? 'yes' : 'no') : 'invalid' },
      { label: 'per CPU-s, guard on / off', measured: ratio.perCpuS.toFixed(3), target: `≥ ${TARGET_RATIO}`, met: valid ? (ratio.perCpuS >= TARGET_RATIO ? 'yes' : 'no') : 'invalid' },
    ];
    if (lookups) {
      const miss = lookups.rows.map((r) => r.missPerS);
      const flat = Math.min(...miss) / Math.max(...miss);
      targets.push({ label: 'IPv4 miss lookups, slowest / fastest of 1k, 100k, 1M', measured: flat.toFixed(2), target: 'constant time (≈ 1; ≥ 0.5 allowing for caches)', met: flat >= 0.5 ? 'yes' : 'no' });
    }
    const header = describeRun({ opts, build, wrk, upstreamKind: upstream.kind, path, serverCpus, loadCpus, listed });
    const report = render({ header, rows, ratio, targets, lookups, notes });
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'guard-latest.md'), report);
    writeFileSync(join(RESULTS_DIR, 'guard-latest.json'), `${JSON.stringify({ header, rows, ratio, targets, lookups, notes, samples }, null, 2)}\n`);
    process.stdout.write(`\n${report}`);
    console.error(`bench:guard: written to ${join(RESULTS_DIR, 'guard-latest.md')} (and .json)`);
    if (!valid) process.exitCode = 1;
  } catch (err) {
    state.keep = true;
    throw err;
  } finally {
    clearTimeout(watchdog);
    await procs.stopAll();
    if (!state.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`bench:guard: configs, blocklist and logs kept in ${dir}`);
  }
}

/**
 * Each config answers the load's request with 200 and the full body; the ON config also refuses
 * a listed address (403: the blocklist is loaded and X-Forwarded-For is read) and a probe for
 * `/.env` (403: the rules are on); OFF answers both unrefused (nothing is guarding it).
 * @param {{ name: string, url: string }[]} configs @param {{ guardOn: boolean }} _
 */
async function probe(configs, _) {
  const base = Object.fromEntries(BROWSER.map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1).trim()]));
  for (const c of configs) {
    const ok = await get(c.url, { ...base, 'X-Forwarded-For': '198.18.0.1' });
    if (ok.status !== 200 || ok.bytes !== BODY_BYTES) throw new Error(`${c.name}: ${ok.status} with ${ok.bytes} bytes, not 200 with ${BODY_BYTES}`);
    const listed = await get(c.url, { ...base, 'X-Forwarded-For': LISTED_PROBE });
    const origin = new URL(c.url).origin;
    const rule = await get(`${origin}/.env`, { ...base, 'X-Forwarded-For': RULE_PROBE });
    if (c.name === 'on' && (listed.status !== 403 || rule.status !== 403)) throw new Error(`guard on: a listed address got ${listed.status} and /.env got ${rule.status}, not 403 and 403: the guard is not doing its work`);
    if (c.name === 'off' && listed.status !== 200) throw new Error(`guard off: a listed address got ${listed.status}, not 200`);
  }
}

/** @param {string} url @param {Record<string, string>} headers */
async function get(url, headers) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000), redirect: 'manual' });
  const body = await res.arrayBuffer();
  return { status: res.status, bytes: body.byteLength };
}

/**
 * One closed-loop wrk run with `script` (per-request client address, JSON report).
 * @param {{ procs: any, wrk: string, url: string, script: string, durationS: number, connections: number, cpus?: string }} o
 */
async function runWrk({ procs, wrk, url, script, durationS, connections, cpus }) {
  const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--timeout', '5s', '--latency', ...BROWSER.flatMap((h) => ['-H', h]), '-s', script, url];
  const res = await procs.run({ name: 'wrk', command: wrk, args, cpus, timeoutMs: (durationS + 15) * 1000 });
  if (res.timedOut) throw new Error(`wrk against ${url} did not finish in time`);
  const line = res.stdout.split('\n').find((/** @type {string} */ l) => l.startsWith('BENCH_JSON '));
  if (res.code !== 0 || !line) throw new Error(`wrk against ${url} failed (exit ${res.code}): ${(res.stderr || res.stdout).slice(0, 800)}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length));
  const seconds = r.duration_us / 1e6;
  return {
    rps: seconds > 0 ? r.requests / seconds : 0, p50Ms: r.p50_us / 1000, p99Ms: r.p99_us / 1000, requests: r.requests,
    statusErrors: r.status_errors, socketErrors: r.connect_errors + r.read_errors + r.write_errors + r.timeouts,
  };
}

/** The table decision-lookups.mjs prints, as numbers ("12.3M" → 12 300 000). */
function parseLookups(stdout) {
  const lines = stdout.trim().split('\n');
  const unit = (/** @type {string} */ s) => Number.parseFloat(s) * (s.endsWith('M') ? 1e6 : s.endsWith('k') ? 1e3 : 1);
  const rows = lines.slice(2).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 7).map((f) => ({
    decisions: f[0], held: Number(f[1]), loadMs: Number(f[2]), heapMb: Number(f[3]),
    missPerS: unit(f[4] ?? ''), hitPerS: unit((f[5] ?? '').replace('?', '')), v6MissPerS: unit(f[6] ?? ''),
  }));
  return { printed: stdout.trim(), rows };
}

function describeRun({ opts, build, wrk, upstreamKind, path, serverCpus, loadCpus, listed }) {
  const commit = safeExec('git', ['rev-parse', '--short', 'HEAD']).trim();
  const wrkVersion = safeExec(wrk, ['--version']).split('\n')[0]?.split(' ')[1] ?? '?';
  return [
    `${new Date().toISOString()} · commit ${commit || '?'} · ${cpuList()[0]?.model ?? '?'}, ${cpuList().length} CPUs · Linux ${release()} · Node ${process.versions.node}`,
    '',
    `Two Portcullis processes from ${build.kind === 'dist' ? 'dist/' : 'src/'} (admin off, log level warn, no access log, loopback a trusted proxy), each one site \`reverse_proxy\` to the same ${upstreamKind} upstream answering 1 KB. ` +
      `OFF: no \`guard\`. ON: \`guard { blocklist <file> }\` with ${listed.entries} entries (${listed.ranges} IPv4 ranges /16–/24, the rest single IPv4 addresses), built-in rules and behaviour scenarios at their defaults (on), SQLite for bans. ` +
      (serverCpus !== undefined ? `Both servers pinned to CPU ${serverCpus}; wrk, the upstream and this harness to CPU ${loadCpus}.` : 'No CPU pinning.'),
    '',
    `Load: wrk ${wrkVersion} -t1 -c${opts.connections} -d${opts.duration}s GET \`${path}\` with a Firefox User-Agent, Accept and Accept-Language; each request claims the next of ${CLIENTS} client addresses (198.18.0.0/15) in X-Forwarded-For. ` +
      `${opts.rounds} round(s) after a ${opts.warmup} s warm-up per config, order alternating (off, on; then on, off); medians over rounds.`,
  ];
}

function render({ header, rows, ratio, targets, lookups, notes }) {
  const out = ['# Guard: proxy with the guard on against off', '', ...header, '', '| config | rps (median) | min–max | p50 ms | p99 ms | server CPU | per CPU-s | requests | non-2xx/3xx | socket errors |', '|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) out.push(`| ${r.label} | ${num(r.rps)} | ${num(r.rpsMin)}–${num(r.rpsMax)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${Math.round(r.serverCpuPct)} % | ${num(r.perCpuS)} | ${r.requests} | ${r.statusErrors} | ${r.socketErrors} |`);
  out.push('', `ON / OFF: rps ${ratio.rps.toFixed(3)} (per round ${ratio.perRound.map((x) => x.toFixed(3)).join(', ')}), per CPU-s ${ratio.perCpuS.toFixed(3)}, p99 ${ratio.p99.toFixed(2)}×`, '');
  // One round's ratio moves by a few percent with the machine's state: the mean of rounds and
  // its standard error say how far from the target the measurement really is.
  const spread = meanWithError(ratio.perRound);
  if (Number.isFinite(spread.standardError)) out.push(`Per-round ON / OFF: mean ${spread.mean.toFixed(3)} ± ${spread.standardError.toFixed(3)} (standard error over ${ratio.perRound.length} rounds).`, '');
  out.push('| target | measured | wanted | met |', '|---|---|---|---|');
  for (const t of targets) out.push(`| ${t.label} | ${t.measured} | ${t.target} | ${t.met} |`);
  if (lookups) {
    out.push('', '## Decision index lookups (bench/decision-lookups.mjs, on the server core)', '', '| decisions | held | load ms | heap MB | IPv4 miss/s | IPv4 hit/s | IPv6 miss/s |', '|---|---|---|---|---|---|---|');
    for (const r of lookups.rows) out.push(`| ${r.decisions} | ${r.held} | ${r.loadMs} | ${r.heapMb} | ${num(r.missPerS)} | ${num(r.hitPerS)} | ${num(r.v6MissPerS)} |`);
    out.push('', '```', lookups.printed, '```');
  }
  if (notes.length > 0) out.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** @param {number} n */
function num(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}



function readOptions() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' }, warmup: { type: 'string' },
      entries: { type: 'string' }, 'no-lookups': { type: 'boolean' }, build: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { process.stdout.write(USAGE); return null; }
  const build = values.build ?? 'auto';
  if (build !== 'auto' && build !== 'dist' && build !== 'src') throw new Error(`--build must be auto, dist or src, not '${build}'`);
  return {
    // 4: one round's ON/OFF ratio moves by up to ±6 % with the machine's state (0.87-0.99 seen in
    // one run); the median of two was as likely to miss the target by noise as to meet it by noise.
    rounds: intOption(values.rounds ?? process.env.BENCH_ROUNDS, 4, 1, 50, 'rounds'),
    duration: intOption(values.duration ?? process.env.BENCH_DURATION, 10, 1, 600, 'duration'),
    connections: intOption(values.connections ?? process.env.BENCH_CONNECTIONS, 50, 1, 10_000, 'connections'),
    warmup: intOption(values.warmup, 2, 0, 60, 'warmup'),
    entries: intOption(values.entries, 100_000, 1, 2_000_000, 'entries'),
    lookups: values['no-lookups'] !== true,
    build: /** @type {'auto' | 'dist' | 'src'} */ (build),
    keep: values.keep === true || process.env.BENCH_KEEP === '1',
  };
}

