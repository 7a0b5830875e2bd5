import { createServer } from 'node:net';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect } from 'node:http2';

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
 * @param {{ exited: () => boolean, timeoutMs?: number,
 *   check?: (url: string, timeoutMs: number) => Promise<{ status: number, error?: string }> }} opts
 * @returns {Promise<void>}
 */
export async function waitReady(url, { exited, timeoutMs = 15000, check = probe }) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited()) throw new Error('exited before it was ready');
    const res = await check(url, 1000);
    if (res.status === 200) return;
    last = res.error ?? `status ${res.status}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready after ${timeoutMs} ms (${last})`);
}

/**
 * @typedef {object} TlsProbe
 * @property {number} status
 * @property {number} length
 * @property {string} [protocol]  TLS version, e.g. TLSv1.3
 * @property {string} [alpn]      negotiated ALPN protocol
 * @property {string} [error]
 */

/**
 * One HTTPS GET on a new connection, trusting only `ca` (the bench's own certificate) and
 * checking the name in the URL against it; `alpn` 'h2' speaks HTTP/2, 'http/1.1' HTTP/1.1.
 * Resolves with status, body length, TLS version and ALPN; never throws.
 * @param {string} url
 * @param {{ ca: string | Buffer, alpn: 'h2' | 'http/1.1', timeoutMs?: number }} opts
 * @returns {Promise<TlsProbe>}
 */
export function probeTls(url, { ca, alpn, timeoutMs = 3000 }) {
  return alpn === 'h2' ? probeH2(url, ca, timeoutMs) : probeH1(url, ca, timeoutMs);
}

/** @param {string} url @param {string | Buffer} ca @param {number} timeoutMs @returns {Promise<TlsProbe>} */
function probeH1(url, ca, timeoutMs) {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { agent: false, ca, ALPNProtocols: ['http/1.1'], timeout: timeoutMs }, (res) => {
      const tls = /** @type {import('node:tls').TLSSocket} */ (res.socket);
      const protocol = tls.getProtocol?.() ?? undefined;
      const alpnGot = tls.alpnProtocol || undefined;
      let length = 0;
      res.on('data', (chunk) => { length += chunk.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length, protocol, alpn: alpnGot }));
      res.on('error', (err) => resolve({ status: 0, length, error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, length: 0, error: err.message }));
    req.end();
  });
}

/** @param {string} url @param {string | Buffer} ca @param {number} timeoutMs @returns {Promise<TlsProbe>} */
function probeH2(url, ca, timeoutMs) {
  return new Promise((resolve) => {
    const { origin, pathname, search } = new URL(url);
    const session = http2Connect(origin, { ca });
    const timer = setTimeout(() => finish({ status: 0, length: 0, error: 'timeout' }), timeoutMs);
    /** @param {TlsProbe} result */
    const finish = (result) => {
      clearTimeout(timer);
      session.destroy();
      resolve(result);
    };
    session.on('error', (err) => finish({ status: 0, length: 0, error: err.message }));
    const stream = session.request({ ':path': `${pathname}${search}` });
    let status = 0;
    let length = 0;
    stream.on('response', (headers) => { status = Number(headers[':status']); });
    stream.on('data', (chunk) => { length += chunk.length; });
    stream.on('end', () => {
      const tls = /** @type {import('node:tls').TLSSocket} */ (session.socket);
      finish({ status, length, protocol: tls?.getProtocol?.() ?? undefined, alpn: session.alpnProtocol });
    });
    stream.on('error', (err) => finish({ status: 0, length, error: err.message }));
    stream.end();
  });
}
