import { fileURLToPath } from 'node:url';

const CLIENT = fileURLToPath(new URL('../handshake-client.mjs', import.meta.url));

/**
 * @typedef {object} HandshakeResult
 * @property {number} rps  full handshakes (each with one request) per second
 * @property {number} p50Ms connect to last response byte
 * @property {number} p99Ms
 * @property {number} requests
 * @property {number} errors  failed connections, wrong answers, resumed sessions
 * @property {string} group  the key exchange group the server chose
 */

/**
 * Runs `handshake-client.mjs`: `concurrency` loops of new TLS 1.3 connection + one request,
 * offering the key exchange `groups` (OpenSSL's names, or `default`: Node's own offer).
 * @param {{ procs: ReturnType<typeof import('./processes.mjs').createProcessSet>,
 *   node: string, port: number, path: string, size: number, concurrency: number,
 *   durationS: number, groups: string, cpus?: string }} opts
 * @returns {Promise<HandshakeResult>}
 */
export async function runHandshakes({ procs, node, port, path, size, concurrency, durationS, groups, cpus }) {
  const args = [CLIENT, String(port), path, String(size), String(concurrency), String(durationS), groups];
  const res = await procs.run({
    name: 'handshake-client', command: node, args, cpus, timeoutMs: (durationS + 15) * 1000,
  });
  if (res.timedOut) throw new Error(`handshake client against port ${port} did not finish in time`);
  const line = res.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (res.code !== 0 || !line) {
    throw new Error(`handshake client against port ${port} failed (exit ${res.code}): ${res.stderr || res.stdout}`);
  }
  const r = JSON.parse(line.slice('BENCH_JSON '.length));
  const seconds = r.duration_us / 1e6;
  return {
    rps: seconds > 0 ? r.connections / seconds : 0,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    requests: r.connections,
    errors: r.errors,
    group: typeof r.group === 'string' ? r.group : '?',
  };
}
