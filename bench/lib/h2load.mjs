/**
 * @typedef {object} H2loadResult
 * @property {number} rps
 * @property {number} p50Ms  NaN: h2load prints no percentiles
 * @property {number} p99Ms  NaN
 * @property {number} meanMs mean time per request
 * @property {number} requests
 * @property {number} errors  failed (errors and non-2xx) + timeouts
 */

/**
 * Runs h2load for `durationS` seconds over `connections` HTTP/2 connections (TLS, ALPN h2),
 * `streams` concurrent streams each. Connections are opened once and kept: keep-alive rps.
 * @param {{ procs: ReturnType<typeof import('./processes.mjs').createProcessSet>,
 *   h2load: string, url: string, durationS: number, connections: number, streams: number,
 *   cpus?: string }} opts
 * @returns {Promise<H2loadResult>}
 */
export async function runH2load({ procs, h2load, url, durationS, connections, streams, cpus }) {
  const args = ['-t1', `-c${connections}`, `-m${streams}`, `-D${durationS}`, '-T5', url];
  const res = await procs.run({
    name: 'h2load', command: h2load, args, cpus, timeoutMs: (durationS + 15) * 1000,
  });
  if (res.timedOut) throw new Error(`h2load against ${url} did not finish in time`);
  const finished = /finished in ([\d.]+)s, ([\d.]+) req\/s/.exec(res.stdout);
  const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(res.stdout);
  const mean = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(res.stdout);
  if (res.code !== 0 || !finished || !counts) {
    throw new Error(`h2load against ${url} failed (exit ${res.code}): ${res.stderr || res.stdout}`);
  }
  if (!/Application protocol: h2/.test(res.stdout)) {
    throw new Error(`h2load against ${url} did not negotiate h2:\n${res.stdout}`);
  }
  const unit = { us: 1e-3, ms: 1, s: 1000 };
  return {
    rps: Number(finished[2]),
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    meanMs: mean ? Number(mean[1]) * unit[/** @type {'us' | 'ms' | 's'} */ (mean[2])] : Number.NaN,
    requests: Number(counts[3]),
    errors: Number(counts[5]) + Number(counts[7]),
  };
}
