// Load generator for the `tls-handshake*` scenarios: `node bench/handshake-client.mjs PORT PATH
// SIZE CONCURRENCY SECONDS [GROUPS]`. Each of CONCURRENCY loops opens a TLS 1.3 connection to
// 127.0.0.1:PORT, sends one `GET PATH` with `Connection: close`, reads the whole response,
// closes, and starts over, for SECONDS. Prints one `BENCH_JSON {...}` line, with the key
// exchange group the server chose.
//
// GROUPS is what the client offers for the key exchange, in OpenSSL's spelling (`X25519`), or
// `default`: Node's own offer, which with OpenSSL 3.5 starts with the post-quantum hybrid
// X25519MLKEM768. A server that supports it picks it; one on an older TLS stack (Go before 1.24,
// OpenSSL 3.0) picks X25519. The hybrid costs both sides an ML-KEM-768 operation and ~1 KB more
// on the wire, so handshake rates are compared with one group every server has.
//
// Why not wrk with `Connection: close`: wrk keeps its client session cache across reconnects,
// so every connection after the first is a TLS 1.3 PSK resumption (no certificate, no
// signature); measured here with `openssl s_server -state`, 1 of 1410 handshakes was full.
// `openssl s_time -new` does full handshakes but sends HTTP/1.0 without a Host header, which
// Caddy and Portcullis rightly answer with an error page. This client never offers a session
// (a fresh SecureContext per run, no `session` option) and counts any resumed handshake as an
// error, so every counted connection is a full handshake: ECDHE key exchange plus the server's
// ECDSA P-256 signature, which the client verifies (TLS 1.3 CertificateVerify is checked even
// with rejectUnauthorized off; the harness checked the certificate itself before measuring).
import { connect } from 'node:tls';

const [portArg, path, sizeArg, concurrencyArg, secondsArg, groups = 'default'] = process.argv.slice(2);
const port = Number(portArg);
const size = Number(sizeArg);
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);
if (!Number.isInteger(port) || !path?.startsWith('/') || !Number.isInteger(size) ||
  !Number.isInteger(concurrency) || concurrency < 1 || !(seconds > 0) || !/^[A-Za-z0-9:_-]+$/.test(groups)) {
  console.error('usage: node bench/handshake-client.mjs PORT PATH SIZE CONCURRENCY SECONDS [GROUPS|default]');
  process.exit(2);
}

const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 16 * 1024;
/** Microseconds from connect() to the last byte of the response, one per good connection. */
const latencies = [];
let errors = 0;
let resumed = 0;
/** The group the server chose for the key exchange, from the first connection that completed. */
let group = '';
let stopping = false;
let active = 0;

function once() {
  if (stopping) return;
  active++;
  const start = process.hrtime.bigint();
  const socket = connect({
    host: '127.0.0.1', port, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3',
    ALPNProtocols: ['http/1.1'], rejectUnauthorized: false,
    ...(groups === 'default' ? {} : { ecdhCurve: groups }),
  });
  /** @type {Buffer[]} */
  const chunks = [];
  let received = 0;
  let need = -1; // total bytes (head + body) once the head is parsed
  let ok = false;
  socket.setNoDelay(true);
  socket.on('secureConnect', () => {
    if (socket.isSessionReused()) resumed++;
    if (group === '') group = socket.getEphemeralKeyInfo()?.name ?? '?';
    socket.write(request);
  });
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    received += chunk.length;
    if (need < 0) {
      const all = Buffer.concat(chunks);
      const end = all.indexOf(HEADER_END);
      if (end < 0) {
        if (received > MAX_HEAD) socket.destroy();
        return;
      }
      const head = all.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      // Only a 200 with exactly the expected body counts; anything else is an error.
      if (!head.startsWith('HTTP/1.1 200 ') || !length || Number(length[1]) !== size) {
        socket.destroy();
        return;
      }
      need = end + HEADER_END.length + size;
    }
    if (received >= need) {
      ok = received === need;
      socket.destroy();
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    active--;
    if (ok && !socket.isSessionReused()) {
      latencies.push(Number(process.hrtime.bigint() - start) / 1000);
    } else {
      errors++;
    }
    once();
  });
  // Bounded: a server that stalls a connection costs an error, not the run.
  socket.setTimeout(5000, () => socket.destroy());
}

const t0 = process.hrtime.bigint();
for (let i = 0; i < concurrency; i++) once();
setTimeout(() => {
  stopping = true;
  const durationUs = Number(process.hrtime.bigint() - t0) / 1000;
  // Connections still open at the deadline are neither counted nor errors.
  const sorted = Float64Array.from(latencies).sort();
  const pct = (/** @type {number} */ p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0);
  process.stdout.write(`BENCH_JSON ${JSON.stringify({
    connections: latencies.length, errors, resumed, in_flight: active, duration_us: Math.round(durationUs), group,
    p50_us: Math.round(pct(0.5)), p99_us: Math.round(pct(0.99)),
  })}\n`);
  process.exit(0);
}, seconds * 1000);
