// The "bare Node" reference server of the side-by-side bench: the smallest correct program
// doing the shared Caddyfile's jobs (configs/Caddyfile.tmpl) on plain Node, to show the
// ceiling any Node.js proxy reaches on this machine in the same run. Not a product: no
// config, no logging, no limits beyond Node's and undici's defaults.
//
//   /proxy/*   reverse-proxied to 127.0.0.1:UPSTREAM_PORT through undici's Pool dispatch API
//              (the path Portcullis uses: packages/portcullis/src/proxy/upstream/round-trip.ts)
//   otherwise  the static directory's files, read into memory once at start ("Node with an
//              in-memory cache"), 404 for any other path
//
// HTTP on 127.0.0.1:PORT (node:http); with a TLS port, cert and key also HTTPS on
// 127.0.0.1:TLS_PORT (node:http2 with allowHTTP1: h2 and HTTP/1.1 by ALPN), same handler.
//
//   node bench/node-bare-server.mjs --port P --upstream-port U --static-dir DIR \
//     [--tls-port T --cert cert.pem --key key.pem]
// or the same through env: BARE_PORT, BARE_UPSTREAM_PORT, BARE_STATIC_DIR, BARE_TLS_PORT,
// BARE_CERT, BARE_KEY.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// Loaded the way packages/portcullis/src/proxy/upstream/pool.ts loads it (the Pool alone,
// without undici's index: fetch, WebSocket, caches), resolved from that package, so this
// server runs the same undici as Portcullis.
const requireFromPortcullis = createRequire(new URL('../packages/portcullis/package.json', import.meta.url));
const Pool = requireFromPortcullis('undici/lib/dispatcher/pool.js');

/** Same idle keep-alive to the upstream as Portcullis's default (pool.ts, Caddy's 2 min). */
const KEEPALIVE_MS = 120_000;

/**
 * Hop-by-hop fields, removed both ways (RFC 9110 §7.6.1): the list Caddy and Portcullis strip.
 * The names a Connection field lists are removed too.
 */
const HOP_HEADERS = new Set([
  'alt-svc', 'connection', 'proxy-connection', 'keep-alive', 'proxy-authenticate',
  'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
]);
/**
 * Set by the proxy, or a client's claim to be forwarded that only a trusted proxy may make:
 * never passed on from the client (no trusted proxies, as in the Caddyfile), as Portcullis does
 * (packages/portcullis/src/proxy/upstream/forward-headers.ts, FORWARDED and FORWARDING_CLAIMS).
 */
const FORWARDED = new Set([
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  'forwarded', 'x-real-ip', 'x-client-ip', 'x-forwarded-port', 'x-forwarded-ssl', 'x-forwarded-scheme', 'x-forwarded-server',
]);

const opts = readOptions();
const files = loadStatic(opts.staticDir);
const pool = new Pool(`http://127.0.0.1:${opts.upstreamPort}`, {
  connections: null,
  keepAliveTimeout: KEEPALIVE_MS,
  keepAliveMaxTimeout: KEEPALIVE_MS,
  allowH2: false,
});

/** @type {(import('node:http').Server | import('node:http2').Http2SecureServer)[]} */
const servers = [createServer(handler('http'))];
if (opts.tls) {
  servers.push(createSecureServer({
    allowHTTP1: true,
    cert: readFileSync(opts.tls.cert),
    key: readFileSync(opts.tls.key),
    minVersion: 'TLSv1.2',
  }, /** @type {any} */ (handler('https'))));
}
const ports = [opts.port, ...(opts.tls ? [opts.tls.port] : [])];
servers.forEach((server, i) => {
  server.on('error', (err) => {
    console.error(`node-bare-server: 127.0.0.1:${ports[i]}: ${err.message}`);
    process.exit(1);
  });
  server.listen(ports[i], '127.0.0.1');
});

const shutdown = () => {
  for (const server of servers) server.close();
  pool.destroy().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

/**
 * The request handler for one listener; `scheme` is its X-Forwarded-Proto.
 * @param {'http' | 'https'} scheme
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void}
 */
function handler(scheme) {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path.startsWith('/proxy/')) proxy(req, res, scheme);
    else serveFile(req, res, path);
  };
}

/**
 * A file from memory: GET and HEAD, If-None-Match against its ETag (RFC 9110 §13.1.2), 404
 * for a name the directory did not hold at start, 405 for other methods.
 * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
 * @param {string} path
 */
function serveFile(req, res, path) {
  const file = files.get(path);
  if (file === undefined) {
    res.writeHead(404, ['content-length', '0']).end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, ['allow', 'GET, HEAD', 'content-length', '0']).end();
    return;
  }
  const inm = req.headers['if-none-match'];
  if (inm !== undefined && (inm === '*' || inm.split(',').some((t) => t.trim() === file.etag))) {
    res.writeHead(304, file.notModified).end();
    return;
  }
  res.writeHead(200, file.headers);
  res.end(req.method === 'HEAD' ? undefined : file.body);
}

/**
 * Every regular file at the top of `dir`, with its response head built once. The ETag has
 * Caddy's form (modification time in ns and size, base 36).
 * @param {string} dir
 */
function loadStatic(dir) {
  /** @type {Map<string, { body: Buffer, etag: string, headers: string[], notModified: string[] }>} */
  const out = new Map();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(dir, entry.name);
    const stat = statSync(full, { bigint: true });
    const body = readFileSync(full);
    const etag = `"${stat.mtimeNs.toString(36)}${body.length.toString(36)}"`;
    const lastModified = new Date(Number(stat.mtimeMs)).toUTCString();
    out.set(`/${entry.name}`, {
      body, etag,
      headers: ['content-type', 'application/octet-stream', 'content-length', String(body.length),
        'last-modified', lastModified, 'etag', etag],
      notModified: ['last-modified', lastModified, 'etag', etag],
    });
  }
  return out;
}

/**
 * Forwards the request to the upstream over a keep-alive connection and streams the answer
 * back, with backpressure (a full client socket pauses the upstream parser until 'drain'). A
 * client that goes away aborts the upstream request; an upstream that fails before answering
 * gives 502, after the head the client connection is cut so a short body cannot pass for whole.
 * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
 * @param {'http' | 'https'} scheme
 */
function proxy(req, res, scheme) {
  /** @type {import('undici').Dispatcher.DispatchController | null} */
  let controller = null;
  let clientGone = false;
  let drainAttached = false;
  const onDrain = () => controller?.resume();
  const gone = () => Object.assign(new Error('client closed the connection'), { code: 'BARE_CLIENT_GONE' });
  res.on('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    controller?.abort(gone());
  });

  const source = req.headers;
  // An HTTP/1.1 request has a body only with Content-Length or Transfer-Encoding (RFC 9112
  // §6.3); an h2 one unless its HEADERS frame ended the stream.
  const hasBody = req.httpVersionMajor === 2
    ? !(/** @type {any} */ (req).stream.endAfterHeaders)
    : source['content-length'] !== undefined || source['transfer-encoding'] !== undefined;

  /** @type {import('undici').Dispatcher.DispatchHandler} */
  const dispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (clientGone) c.abort(gone());
    },
    onResponseStart(_c, status, headers) {
      // 1xx interim answers are not relayed; the final one follows.
      if (status < 200) return;
      res.writeHead(status, responseHeaders(headers));
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause();
        if (!drainAttached) {
          drainAttached = true;
          res.on('drain', onDrain);
        }
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, _err) {
      if (clientGone) return;
      if (res.headersSent) res.destroy();
      else res.writeHead(502, ['content-length', '0']).end();
    },
  };
  pool.dispatch({
    method: /** @type {import('undici').Dispatcher.HttpMethod} */ (req.method),
    path: req.url ?? '/',
    headers: requestHeaders(req, scheme),
    body: hasBody ? req : null,
    // Keep-alive to the upstream whatever the client asked for its own connection.
    reset: false,
  }, dispatchHandler);
}

/**
 * The upstream request head: the client's fields minus hop-by-hop ones, the ones its
 * Connection field names, Expect (Node already answered 100-continue) and h2 pseudo-headers;
 * Host from :authority for h2; X-Forwarded-For/-Proto/-Host set by us; the client's other forwarding claims dropped.
 * @param {import('node:http').IncomingMessage} req @param {'http' | 'https'} scheme
 */
function requestHeaders(req, scheme) {
  const source = req.headers;
  /** @type {Record<string, string | string[]>} */
  const out = Object.create(null);
  const named = connectionTokens(source.connection);
  for (const name of Object.keys(source)) {
    const value = source[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* : */) continue;
    if (HOP_HEADERS.has(name) || FORWARDED.has(name) || name === 'expect') continue;
    if (named !== null && named.has(name) && name !== 'host' && name !== 'content-length') continue;
    out[name] = value;
  }
  const authority = source[':authority'];
  if (out.host === undefined && typeof authority === 'string') out.host = authority;
  out['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  out['x-forwarded-proto'] = scheme;
  if (typeof out.host === 'string') out['x-forwarded-host'] = out.host;
  return out;
}

/**
 * undici's parsed response head as the flat [name, value, ...] list writeHead takes, minus
 * hop-by-hop fields and those the upstream's Connection field names.
 * @param {Record<string, string | string[] | undefined>} headers
 * @returns {string[]}
 */
function responseHeaders(headers) {
  const named = connectionTokens(headers.connection);
  /** @type {string[]} */
  const out = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || HOP_HEADERS.has(name) || (named !== null && named.has(name))) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return out;
}

/**
 * Field names a Connection field lists, lower-cased, or null when it names only keep-alive or
 * close (almost always), so the common case allocates nothing.
 * @param {string | string[] | undefined} value
 * @returns {Set<string> | null}
 */
function connectionTokens(value) {
  if (value === undefined || value === '' || value === 'keep-alive' || value === 'close') return null;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const names = new Set(joined.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== ''));
  return names.size > 0 ? names : null;
}

/** Options from argv, then env; a missing or malformed one ends the process with usage. */
function readOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'upstream-port': { type: 'string' },
      'static-dir': { type: 'string' },
      'tls-port': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
    },
  });
  const env = process.env;
  const usage = 'usage: node bench/node-bare-server.mjs --port P --upstream-port U --static-dir DIR [--tls-port T --cert FILE --key FILE]';
  /** @param {string | undefined} raw @param {string} what */
  const port = (raw, what) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      console.error(`node-bare-server: ${what} must be a port number, not ${JSON.stringify(raw)}\n${usage}`);
      process.exit(2);
    }
    return n;
  };
  const staticDir = values['static-dir'] ?? env.BARE_STATIC_DIR;
  if (!staticDir) {
    console.error(`node-bare-server: --static-dir is required\n${usage}`);
    process.exit(2);
  }
  const tlsPort = values['tls-port'] ?? env.BARE_TLS_PORT;
  const cert = values.cert ?? env.BARE_CERT;
  const key = values.key ?? env.BARE_KEY;
  if ((tlsPort !== undefined || cert !== undefined || key !== undefined) && !(tlsPort && cert && key)) {
    console.error(`node-bare-server: --tls-port, --cert and --key go together\n${usage}`);
    process.exit(2);
  }
  return {
    port: port(values.port ?? env.BARE_PORT, '--port'),
    upstreamPort: port(values['upstream-port'] ?? env.BARE_UPSTREAM_PORT, '--upstream-port'),
    staticDir,
    tls: tlsPort && cert && key ? { port: port(tlsPort, '--tls-port'), cert, key } : null,
  };
}
