// Side-by-side benchmark of Portcullis, Caddy and nginx, with a bare Node server as the
// reference for what Node itself reaches: `npm run bench` (see README.md).
//
// Every server gets the same job on loopback: reverse-proxy to one shared upstream, and serve
// static files, over HTTP and over HTTPS with one shared certificate. wrk (HTTP/1.1), h2load
// (h2) and handshake-client.mjs (new TLS connections) measure each in turn, the server pinned to one core and wrk (with the
// upstream) to the other, for N rounds whose server order rotates; the report gives medians.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus as cpuList, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProcessSet, logTail } from './lib/processes.mjs';
import { freePort, probe, probeTls, waitReady } from './lib/net.mjs';
import { groupCpuSeconds } from './lib/cpu.mjs';
import { runH2load } from './lib/h2load.mjs';
import { runHandshakes } from './lib/handshake.mjs';
import { generateCertificate } from './lib/tls-cert.mjs';
import { groupMemoryKiB, samplePeakRss } from './lib/rss.mjs';
import { findBinary } from './lib/which.mjs';
import { median } from './lib/stats.mjs';
import { runWrk } from './lib/wrk.mjs';
import { renderReport } from './lib/report.mjs';
import { makeBody, startUpstream } from './upstream.mjs';
import { portcullis } from './peers/portcullis.mjs';
import { nodeBare } from './peers/node-bare.mjs';
import { caddy } from './peers/caddy.mjs';
import { nginx } from './peers/nginx.mjs';
import { installCleanup, intOption, placeOnCores, safeExec, sleep } from './lib/harness.mjs';

const INSTALL_HINT = 'install the peers with: sudo bash scripts/install-peers.sh';
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/**
 * In report order: the first one present is the subject of the ratios. bare Node comes right
 * after Portcullis: the reference for what any Node.js server can reach here, not a product.
 */
const PEERS = [portcullis, nodeBare, caddy, nginx];

/**
 * kind: `http` wrk over keep-alive HTTP/1.1; `https-h1` wrk over keep-alive HTTPS; `https-h2`
 * h2load over HTTP/2 (TLS, ALPN h2); `handshake` a new TLS 1.3 connection per request (full
 * handshake, one GET, close), rate = handshakes per second, the client offering `groups` for
 * the key exchange. `tls-handshake` offers X25519 alone, which every server here has, so each
 * does the same work; `tls-handshake-default` offers what Node does by default (the hybrid
 * X25519MLKEM768 first), and each server picks what its TLS stack prefers (see
 * handshake-client.mjs).
 * @type {{ name: string, label: string, path: string, size: number, kind: 'http' | 'https-h1' | 'https-h2' | 'handshake', groups?: string }[]}
 */
const SCENARIOS = [
  { name: 'proxy-1k', label: 'proxy 1 KB', path: '/proxy/1k', size: 1024, kind: 'http' },
  { name: 'proxy-100k', label: 'proxy 100 KB', path: '/proxy/100k', size: 100 * 1024, kind: 'http' },
  { name: 'static-1k', label: 'static 1 KB', path: '/1k.bin', size: 1024, kind: 'http' },
  { name: 'static-1m', label: 'static 1 MB', path: '/1m.bin', size: 1024 * 1024, kind: 'http' },
  { name: 'tls-handshake', label: 'TLS handshake + 1 KB', path: '/1k.bin', size: 1024, kind: 'handshake', groups: 'X25519' },
  { name: 'tls-handshake-default', label: 'TLS handshake, default groups', path: '/1k.bin', size: 1024, kind: 'handshake', groups: 'default' },
  { name: 'https-1k-h1', label: 'HTTPS 1 KB h1', path: '/1k.bin', size: 1024, kind: 'https-h1' },
  { name: 'https-1k-h2', label: 'HTTPS 1 KB h2', path: '/1k.bin', size: 1024, kind: 'https-h2' },
];

const USAGE = `usage: node bench/run.mjs [options]

  --only LIST        servers to run, comma-separated: ${PEERS.map((p) => p.name).join(',')} (default: all;
                     node-bare is the bare Node reference server, bench/node-bare-server.mjs)
  --scenarios LIST   ${SCENARIOS.map((s) => s.name).join(',')} (default: all)
  --rounds N         rounds per measurement, medians reported (env BENCH_ROUNDS, default 3)
  --duration S       seconds per wrk run (env BENCH_DURATION, default 10)
  --connections N    wrk and h2load connections (env BENCH_CONNECTIONS, default 50)
  --streams N        h2load concurrent streams per connection (env BENCH_H2_STREAMS, default 10)
  --handshake-clients N  concurrent new-connection loops in tls-handshake and tls-handshake-default (env BENCH_HANDSHAKE_CLIENTS, default 16)
  --warmup S         warm-up seconds per server and scenario before round 1 (env BENCH_WARMUP, default 2)
  --upstream KIND    nginx | node (env BENCH_UPSTREAM, default nginx when installed)
  --keep             keep the temp dir with generated configs and server logs
  -h, --help
`;

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});

async function main() {
  const opts = readOptions();
  if (!opts) return;
  if (!existsSync('/proc/self/status')) throw new Error('needs Linux (/proc) to read RSS');

  const wrk = findBinary('wrk');
  if (!wrk) {
    console.error(`bench: wrk is not installed; ${INSTALL_HINT}`);
    process.exitCode = 1;
    return;
  }
  const notes = [];
  const selected = [];
  const wanted = SCENARIOS.filter((s) => opts.scenarios.includes(s.name));
  const tlsWanted = wanted.some((s) => s.kind !== 'http');
  const openssl = tlsWanted ? findBinary('openssl') : null;
  const h2load = wanted.some((s) => s.kind === 'https-h2') ? findBinary('h2load') : null;
  /** Scenarios that cannot run for want of a tool, with the reason. */
  const unavailable = new Map();
  for (const sc of wanted) {
    if (sc.kind !== 'http' && !openssl) unavailable.set(sc.name, 'openssl (to generate the certificate) is not installed');
    else if (sc.kind === 'https-h2' && !h2load) unavailable.set(sc.name, `h2load is not installed (Debian package nghttp2-client); ${INSTALL_HINT}`);
  }
  for (const [name, why] of unavailable) {
    console.error(`bench: skipping ${name}: ${why}`);
    notes.push(`${name} skipped: ${why}.`);
  }
  for (const peer of PEERS.filter((p) => opts.only.includes(p.name))) {
    const found = peer.locate();
    if ('missing' in found) {
      const hint = peer.name === 'portcullis' || peer.name === 'node-bare' ? '' : `; ${INSTALL_HINT}`;
      console.error(`bench: skipping ${peer.label}: ${found.missing}${hint}`);
      notes.push(`${peer.label} skipped: ${found.missing}.`);
      continue;
    }
    selected.push({ peer, command: found.command });
  }
  if (selected.length === 0) throw new Error('no server to benchmark');

  const nginxBin = findBinary('nginx');
  const upstreamKind = opts.upstream ?? (nginxBin ? 'nginx' : 'node');
  if (upstreamKind === 'node') {
    notes.push('The upstream is the Node server, which shares the load generator\'s core: it may cap the fastest proxies (see bench/README.md).');
  }
  const { taskset, cpuCount, serverCpus, loadCpus } = placeOnCores('bench', notes, 'the servers, the load generators and the upstream');

  const procs = createProcessSet({ taskset });
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  // nginx workers run as nobody: everything they serve must be world-readable.
  chmodSync(dir, 0o755);
  const state = { keep: opts.keep, interrupted: false };
  installCleanup(procs, state, dir, 'bench', 'generated configs and server logs');

  const perRun = opts.duration + 2;
  const budgetS = selected.length * SCENARIOS.length * (opts.warmup + 2 + opts.rounds * perRun) + 120;
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${budgetS} s; giving up`);
    process.kill(process.pid, 'SIGTERM');
  }, budgetS * 1000);
  watchdog.unref();

  try {
    const staticDir = join(dir, 'static');
    mkdirSync(staticDir, { mode: 0o755 });
    chmodSync(staticDir, 0o755);
    writeFileSync(join(staticDir, '1k.bin'), makeBody(1024), { mode: 0o644 });
    writeFileSync(join(staticDir, '1m.bin'), makeBody(1024 * 1024), { mode: 0o644 });
    // One certificate for every server, made fresh per run (see lib/tls-cert.mjs).
    const cert = tlsWanted && openssl ? generateCertificate({ openssl, dir }) : null;
    const ca = cert ? readFileSync(cert.cert) : null;

    const upstream = await startUpstream({
      kind: upstreamKind, port: await freePort(), dir, cpus: loadCpus, nginx: nginxBin, procs,
    });
    console.error(`bench: upstream (${upstream.kind}) on 127.0.0.1:${upstream.port}`);

    const servers = [];
    const idle = [];
    for (const { peer, command } of selected) {
      const port = await freePort();
      const tls = cert ? { port: await freePort(), cert: cert.cert, key: cert.key } : undefined;
      const proc = peer.start({ command, procs, dir, port, upstreamPort: upstream.port, staticDir, cpus: serverCpus, tls });
      try {
        await waitReady(`http://127.0.0.1:${port}/1k.bin`, { exited: proc.exited });
        if (tls && ca) {
          await waitReady(`https://127.0.0.1:${tls.port}/1k.bin`, {
            exited: proc.exited, check: (url, timeoutMs) => probeTls(url, { ca, alpn: 'http/1.1', timeoutMs }),
          });
        }
      } catch (err) {
        const tail = logTail(proc.logFile);
        console.error(`bench: skipping ${peer.label}: ${err.message}\n${tail}`);
        notes.push(`${peer.label} skipped: did not start (${err.message}); log: ${proc.logFile}.`);
        state.keep = true;
        await procs.stop(proc);
        continue;
      }
      await sleep(1000);
      const memory = groupMemoryKiB(proc.pid);
      idle.push({ server: peer.name, label: peer.label, idleRssKiB: memory.rss, idleAnonKiB: memory.anon, idleFileKiB: memory.file });
      servers.push({ peer, proc, port, tlsPort: tls?.port ?? 0, version: safeVersion(peer, command) });
      console.error(`bench: ${peer.label} on 127.0.0.1:${port} (pid ${proc.pid})`);
    }
    if (servers.length === 0) throw new Error('no server started');

    // A server that answers wrongly would look fast: check every scenario's status and size.
    // Over TLS also the protocol: TLS 1.3 with our certificate (the probe trusts only it and
    // checks the name), and the ALPN protocol the load generator will speak.
    const jobs = [];
    for (const sc of wanted.filter((s) => !unavailable.has(s.name))) {
      for (const server of servers) {
        const url = scenarioUrl(sc, server);
        const res = sc.kind === 'http'
          ? await probe(url, 5000)
          : await probeTls(url, { ca: /** @type {Buffer} */ (ca), alpn: sc.kind === 'https-h2' ? 'h2' : 'http/1.1', timeoutMs: 5000 });
        const wantAlpn = sc.kind === 'https-h2' ? 'h2' : 'http/1.1';
        const tlsOk = sc.kind === 'http' || ('protocol' in res && res.protocol === 'TLSv1.3' && res.alpn === wantAlpn);
        if (res.status === 200 && res.length === sc.size && tlsOk) {
          jobs.push({ sc, server });
        } else {
          const tlsInfo = sc.kind === 'http' ? '' : `, ${'protocol' in res ? res.protocol ?? 'no TLS' : 'no TLS'}, ALPN ${'alpn' in res ? res.alpn ?? 'none' : 'none'}`;
          const got = res.error ?? `status ${res.status}, ${res.length} bytes${tlsInfo}`;
          const want = `200 with ${sc.size} bytes${sc.kind === 'http' ? '' : `, TLSv1.3, ALPN ${wantAlpn}`}`;
          console.error(`bench: skipping ${sc.label} on ${server.peer.label}: expected ${want}, got ${got}`);
          notes.push(`${sc.label} on ${server.peer.label} skipped: answered ${got} instead of ${want}.`);
        }
      }
    }

    const wrkArgs = { procs, wrk, connections: opts.connections, threads: 1, cpus: loadCpus };
    /** The key exchange group each server chose in each handshake scenario, for the notes. */
    const groupsChosen = new Map();
    /**
     * One timed run of a scenario against a server with the scenario's load generator.
     * @param {typeof SCENARIOS[number]} sc @param {typeof servers[number]} server @param {number} durationS
     * @returns {Promise<{ rps: number, p50Ms: number, p99Ms: number, errors: number }>}
     */
    const measure = (sc, server, durationS) => {
      const url = scenarioUrl(sc, server);
      if (sc.kind === 'https-h2') {
        return runH2load({
          procs, h2load: /** @type {string} */ (h2load), url, durationS,
          connections: opts.connections, streams: opts.streams, cpus: loadCpus,
        });
      }
      if (sc.kind === 'handshake') {
        return runHandshakes({
          procs, node: process.execPath, port: server.tlsPort, path: sc.path, size: sc.size,
          concurrency: opts.handshakeClients, durationS, groups: sc.groups ?? 'default', cpus: loadCpus,
        }).then((result) => {
          groupsChosen.set(`${sc.name}\0${server.peer.label}`, result.group);
          return result;
        });
      }
      return runWrk({ ...wrkArgs, url, durationS });
    };
    if (opts.warmup > 0) {
      console.error(`bench: warming up (${opts.warmup} s per server and scenario)`);
      for (const { sc, server } of jobs) await measure(sc, server, opts.warmup);
    }

    /** @type {Map<string, { rps: number[], p50: number[], p99: number[], cpu: number[], peak: number, errors: number }>} */
    const samples = new Map();
    for (let round = 0; round < opts.rounds; round++) {
      // Rotate which server goes first so none always runs on a warmer or cooler machine.
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      console.error(`bench: round ${round + 1}/${opts.rounds}: ${order.map((s) => s.peer.label).join(', ')}`);
      for (const sc of SCENARIOS) {
        for (const server of order) {
          if (!jobs.some((j) => j.sc === sc && j.server === server)) continue;
          if (server.proc.exited()) throw new Error(`${server.peer.label} exited:\n${logTail(server.proc.logFile)}`);
          const sampler = samplePeakRss(server.proc.pid);
          const cpuBefore = groupCpuSeconds(server.proc.pid);
          const t0 = performance.now();
          let result;
          let peak;
          try {
            result = await measure(sc, server, opts.duration);
          } finally {
            // Also when the measurement failed: a running sampler would keep the bench alive.
            peak = sampler.stop();
          }
          // Server CPU as a share of one core over the run (the load generator's start-up and
          // exit are inside the window, so a saturated server reads slightly under 100 %).
          const cpuPct = (100 * (groupCpuSeconds(server.proc.pid) - cpuBefore)) / ((performance.now() - t0) / 1000);
          const key = `${sc.name}\0${server.peer.name}`;
          const s = samples.get(key) ?? { rps: [], p50: [], p99: [], cpu: [], peak: 0, errors: 0 };
          s.rps.push(result.rps);
          s.p50.push(result.p50Ms);
          s.p99.push(result.p99Ms);
          s.cpu.push(cpuPct);
          s.peak = Math.max(s.peak, peak);
          s.errors += result.errors;
          samples.set(key, s);
          const p99 = Number.isNaN(result.p99Ms) ? '' : `  p99 ${result.p99Ms.toFixed(2)} ms`;
          console.error(`  ${sc.label.padEnd(20)} ${server.peer.label.padEnd(11)} ${Math.round(result.rps).toString().padStart(7)} rps${p99}  CPU ${Math.round(cpuPct)} %${result.errors ? `  ${result.errors} errors` : ''}`);
          await sleep(300);
        }
      }
    }

    const rows = [];
    for (const [key, s] of samples) {
      const [scenario, server] = key.split('\0');
      rows.push({
        scenario, server, rps: median(s.rps), rpsMin: Math.min(...s.rps), rpsMax: Math.max(...s.rps),
        p50Ms: median(s.p50), p99Ms: median(s.p99), cpuPct: median(s.cpu),
        // Requests per second of server CPU: what one fully busy core would do, which stays
        // comparable when the load generator, not the server, was the limit.
        perCpuS: median(s.rps.map((r, i) => (s.cpu[i] ?? 0) > 0 ? r / ((s.cpu[i] ?? 0) / 100) : Number.NaN)),
        peakRssKiB: s.peak, errors: s.errors, rounds: s.rps.length,
      });
    }
    for (const sc of wanted.filter((w) => w.kind === 'handshake')) {
      const chosen = servers.map((s) => `${s.peer.label} ${groupsChosen.get(`${sc.name}\0${s.peer.label}`) ?? '?'}`);
      notes.push(`${sc.label}: the client offered ${sc.groups === 'default' ? 'Node\'s default groups' : sc.groups}; key exchange chosen: ${chosen.join(', ')}.`);
    }
    if (rows.some((r) => r.errors > 0)) {
      notes.push('errors counts socket errors, timeouts and non-2xx/3xx responses over all rounds; a row with errors is not comparable.');
    }
    const header = describeRun({ opts, cpuCount, servers, upstreamKind, serverCpus, loadCpus, wrk, h2load, openssl, wanted });
    const report = renderReport({
      header,
      scenarios: wanted,
      servers: servers.map((s) => ({ name: s.peer.name, label: s.peer.label })),
      rows, idle, notes,
    });
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'latest.md'), report);
    writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify({ header, rows, idle, notes, samples: Object.fromEntries(samples) }, null, 2)}\n`);
    process.stdout.write(`\n${report}`);
    console.error(`bench: written to ${join(RESULTS_DIR, 'latest.md')}`);
  } catch (err) {
    // After Ctrl-C the signal handler owns shutdown; the failure is just the killed wrk.
    if (state.interrupted) return;
    state.keep = true;
    throw err;
  } finally {
    clearTimeout(watchdog);
    if (!state.interrupted) {
      await procs.stopAll();
      if (!state.keep) rmSync(dir, { recursive: true, force: true });
      else console.error(`bench: generated configs and server logs kept in ${dir}`);
    }
  }
}

/** Options from argv and env, validated; null after --help. */
function readOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      scenarios: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      streams: { type: 'string' },
      'handshake-clients': { type: 'string' },
      warmup: { type: 'string' },
      upstream: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return null;
  }
  const list = (/** @type {string | undefined} */ raw, /** @type {string[]} */ allowed, /** @type {string} */ what) => {
    if (raw === undefined) return allowed;
    const items = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    for (const item of items) {
      if (!allowed.includes(item)) throw new Error(`unknown ${what} '${item}' (known: ${allowed.join(', ')})`);
    }
    return items;
  };
  const upstream = /** @type {'nginx' | 'node' | undefined} */ (values.upstream ?? process.env.BENCH_UPSTREAM);
  if (upstream !== undefined && upstream !== 'nginx' && upstream !== 'node') {
    throw new Error(`--upstream must be nginx or node, not '${upstream}'`);
  }
  return {
    only: list(values.only, PEERS.map((p) => p.name), 'server'),
    scenarios: list(values.scenarios, SCENARIOS.map((s) => s.name), 'scenario'),
    rounds: intOption(values.rounds ?? process.env.BENCH_ROUNDS, 3, 1, 50, 'rounds'),
    duration: intOption(values.duration ?? process.env.BENCH_DURATION, 10, 1, 600, 'duration'),
    connections: intOption(values.connections ?? process.env.BENCH_CONNECTIONS, 50, 1, 10_000, 'connections'),
    streams: intOption(values.streams ?? process.env.BENCH_H2_STREAMS, 10, 1, 1000, 'streams'),
    handshakeClients: intOption(values['handshake-clients'] ?? process.env.BENCH_HANDSHAKE_CLIENTS, 16, 1, 1000, 'handshake-clients'),
    warmup: intOption(values.warmup ?? process.env.BENCH_WARMUP, 2, 0, 60, 'warmup'),
    upstream,
    keep: values.keep === true || process.env.BENCH_KEEP === '1',
  };
}




/** The URL a scenario's load generator and correctness check use on a server. */
function scenarioUrl(sc, server) {
  return sc.kind === 'http'
    ? `http://127.0.0.1:${server.port}${sc.path}`
    : `https://127.0.0.1:${server.tlsPort}${sc.path}`;
}

function describeRun({ opts, cpuCount, servers, upstreamKind, serverCpus, loadCpus, wrk, h2load, openssl, wanted }) {
  const versions = servers.map((s) => `${s.peer.label} ${s.version}`);
  const wrkVersion = safeExec(wrk, ['--version']).split('\n')[0]?.split(' ')[1] ?? '?';
  const commit = safeExec('git', ['rev-parse', '--short', 'HEAD']).trim();
  const cpu = cpuList()[0]?.model ?? '?';
  const pinning = serverCpus !== undefined
    ? `servers pinned to CPU ${serverCpus}; wrk, the upstream and this harness to CPU ${loadCpus}`
    : 'no CPU pinning';
  const bare = servers.some((s) => s.peer.name === 'node-bare')
    ? ['', 'bare Node: bench/node-bare-server.mjs, the shared Caddyfile\'s jobs in the least code Node allows (undici Pool dispatch for /proxy/, the static files from memory, no config, logging or limits) ' +
      'on the same Node and flags as Portcullis: the ceiling any Node.js server reaches here, a reference and not a product.']
    : [];
  const tls = [];
  if (wanted.some((s) => s.kind !== 'http')) {
    const osslVersion = openssl ? safeExec(openssl, ['version']).split(' ')[1] ?? '?' : '?';
    tls.push('', `TLS: one self-signed ECDSA P-256 certificate (SAN localhost, 127.0.0.1) made with openssl ${osslVersion} for this run, ` +
      'read from the same files by every server; clients offer TLS 1.3 only and connect to 127.0.0.1 (no SNI; wrk sends the IP as SNI).');
  }
  if (wanted.some((s) => s.kind === 'https-h1')) tls.push('', `HTTPS h1: wrk as above over https:// (keep-alive; one handshake per connection, then reused).`);
  if (wanted.some((s) => s.kind === 'https-h2') && h2load) {
    const v = safeExec(h2load, ['--version']).trim().split(' ')[1] ?? '?';
    tls.push('', `HTTPS h2: h2load ${v} -t1 -c${opts.connections} -m${opts.streams} -D${opts.duration} (ALPN h2, keep-alive); h2load reports no latency percentiles, hence –.`);
  }
  if (wanted.some((s) => s.kind === 'handshake')) {
    tls.push('', `TLS handshake: bench/handshake-client.mjs (Node ${process.versions.node}, OpenSSL ${process.versions.openssl}), ${opts.handshakeClients} concurrent loops of ` +
      'new connection, full TLS 1.3 handshake (no session offered; a resumed one counts as an error), one GET with Connection: close, 200 and 1 KB checked, close. ' +
      '"TLS handshake + 1 KB" offers the X25519 key exchange alone, which every server here supports, so each does the same work; "default groups" offers what Node offers by default ' +
      '(the post-quantum hybrid X25519MLKEM768 first, then X25519, ...) and each server picks what its TLS stack prefers: the notes say which. ' +
      'rps is handshakes per second; p50/p99 are connect-to-last-byte. The client needs about as much CPU per handshake as a fast server, so a server below ~100 % CPU was limited by the client: compare "per CPU-s" (handshakes per second of server CPU) there.');
  }
  return [
    `${new Date().toISOString()} · commit ${commit || '?'} · ${cpu}, ${cpuCount} CPUs · Linux ${release()}`,
    '',
    `wrk ${wrkVersion} -t1 -c${opts.connections} -d${opts.duration}s, HTTP/1.1 keep-alive, ${opts.rounds} round(s) after a ${opts.warmup} s warm-up; ` +
      `rps, p50 and p99 are medians over rounds; peak RSS is the highest sample (server process and its children, every 200 ms) over all rounds. ` +
      `Upstream: ${upstreamKind}. ${pinning}.`,
    '',
    `Versions: ${versions.join(', ')}.`,
    ...bare,
    ...tls,
  ];
}

function safeVersion(peer, command) {
  try {
    return peer.version(command);
  } catch {
    return '?';
  }
}


