import { fileURLToPath } from 'node:url';

const REPORT_SCRIPT = fileURLToPath(new URL('../configs/wrk-report.lua', import.meta.url));

/**
 * @typedef {object} WrkResult
 * @property {number} rps
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} requests
 * @property {number} errors  socket errors + timeouts + non-2xx/3xx responses
 * @property {number} statusErrors  responses with a status above 399 (a gate's refusals)
 * @property {number} socketErrors  connect, read and write errors and timeouts
 */

/**
 * Runs one closed-loop wrk measurement with `--latency`, the JSON reporting script and any
 * request `headers` (`Name: value`, e.g. a session cookie or a bearer token).
 * @param {{ procs: ReturnType<typeof import('./processes.mjs').createProcessSet>,
 *   wrk: string, url: string, durationS: number, connections: number, threads: number,
 *   cpus?: string, headers?: string[] }} opts
 * @returns {Promise<WrkResult>}
 */
export async function runWrk({ procs, wrk, url, durationS, connections, threads, cpus, headers = [] }) {
  const args = [
    `-t${threads}`, `-c${connections}`, `-d${durationS}s`, '--timeout', '5s', '--latency',
    ...headers.flatMap((h) => ['-H', h]), '-s', REPORT_SCRIPT, url,
  ];
  const res = await procs.run({
    name: 'wrk', command: wrk, args, cpus, timeoutMs: (durationS + 15) * 1000,
  });
  if (res.timedOut) throw new Error(`wrk against ${url} did not finish in time`);
  const line = res.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (res.code !== 0 || !line) {
    // wrk's failure output may echo its arguments, credentials among them: never print it whole.
    throw new Error(`wrk against ${url} failed (exit ${res.code}): ${redact(res.stderr || res.stdout, headers)}`);
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
    statusErrors: r.status_errors,
    socketErrors: r.connect_errors + r.read_errors + r.write_errors + r.timeouts,
  };
}

/** @param {string} text @param {string[]} headers */
function redact(text, headers) {
  let out = headers.length > 0 ? text.slice(0, 500) : text;
  for (const h of headers) {
    const value = h.slice(h.indexOf(':') + 1).trim();
    if (value.length > 8) out = out.replaceAll(value, '<redacted>');
  }
  return out;
}
