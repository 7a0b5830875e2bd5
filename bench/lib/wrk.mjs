import { fileURLToPath } from 'node:url';

const REPORT_SCRIPT = fileURLToPath(new URL('../configs/wrk-report.lua', import.meta.url));

/**
 * @typedef {object} WrkResult
 * @property {number} rps
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} requests
 * @property {number} errors  socket errors + timeouts + non-2xx/3xx responses
 */

/**
 * Runs one closed-loop wrk measurement with `--latency` and the JSON reporting script.
 * @param {{ procs: ReturnType<typeof import('./processes.mjs').createProcessSet>,
 *   wrk: string, url: string, durationS: number, connections: number, threads: number,
 *   cpus?: string }} opts
 * @returns {Promise<WrkResult>}
 */
export async function runWrk({ procs, wrk, url, durationS, connections, threads, cpus }) {
  const args = [
    `-t${threads}`, `-c${connections}`, `-d${durationS}s`, '--timeout', '5s', '--latency',
    '-s', REPORT_SCRIPT, url,
  ];
  const res = await procs.run({
    name: 'wrk', command: wrk, args, cpus, timeoutMs: (durationS + 15) * 1000,
  });
  if (res.timedOut) throw new Error(`wrk against ${url} did not finish in time`);
  const line = res.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (res.code !== 0 || !line) {
    throw new Error(`wrk against ${url} failed (exit ${res.code}): ${res.stderr || res.stdout}`);
  }
  return parseReport(line.slice('BENCH_JSON '.length));
}

/** @param {string} json @returns {WrkResult} */
function parseReport(json) {
  const r = JSON.parse(json);
  const seconds = r.duration_us / 1e6;
  return {
    rps: seconds > 0 ? r.requests / seconds : 0,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    requests: r.requests,
    errors: r.connect_errors + r.read_errors + r.write_errors + r.timeouts + r.status_errors,
  };
}
