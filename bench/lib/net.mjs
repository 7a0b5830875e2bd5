import { createServer } from 'node:net';
import { request } from 'node:http';

/**
 * Asks the kernel for a free loopback port. Another process could take it before the server
 * binds it; on this single-user bench machine that does not happen in practice.
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * One GET without keep-alive; resolves with the status and body length, never throws.
 * @param {string} url
 * @param {number} timeoutMs
 * @returns {Promise<{ status: number, length: number, error?: string }>}
 */
export function probe(url, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let length = 0;
      res.on('data', (chunk) => { length += chunk.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length }));
      res.on('error', (err) => resolve({ status: 0, length, error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, length: 0, error: err.message }));
    req.end();
  });
}

/**
 * Polls `url` until it answers 200, the process dies, or `timeoutMs` passes.
 * @param {string} url
 * @param {{ exited: () => boolean, timeoutMs?: number }} opts
 * @returns {Promise<void>}
 */
export async function waitReady(url, { exited, timeoutMs = 15000 }) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited()) throw new Error('exited before it was ready');
    const res = await probe(url, 1000);
    if (res.status === 200) return;
    last = res.error ?? `status ${res.status}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready after ${timeoutMs} ms (${last})`);
}
