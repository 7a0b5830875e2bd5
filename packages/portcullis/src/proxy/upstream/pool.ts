/**
 * undici connection pools, one per upstream: keep-alive, unix sockets, TLS to the upstream.
 * Measured as the fastest proxy path in Node (undici's dispatch API, no stream wrappers).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import type { ReverseProxyHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Upstream } from './upstream.ts';

/** Caddy's defaults for a transport that does not name them. */
const DEFAULT_DIAL_TIMEOUT_MS = 3_000;
const DEFAULT_KEEPALIVE_IDLE_MS = 120_000;
/** Response heads larger than this are refused (large Set-Cookie sets still fit). */
const MAX_RESPONSE_HEADER_BYTES = 256 * 1024;

// undici's index also loads fetch, WebSocket, caches and mocks: ~13 MB of resident memory
// measured here for code the proxy never runs. Its Pool and connector stand alone, and are
// loaded with the first pool: a config without reverse_proxy or forward_auth (an identity
// provider, a static site) never pays for undici and its llhttp WebAssembly.
const require = createRequire(import.meta.url);
type Pool = Undici.Pool;
interface UndiciParts {
  Pool: typeof Undici.Pool;
  buildConnector: typeof Undici.buildConnector;
  /** The promise form of `request`, which the index would graft onto every dispatcher. */
  requestApi: (this: Pool, options: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData>;
}
let undici: UndiciParts | null = null;
function undiciParts(): UndiciParts {
  undici ??= {
    Pool: require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool,
    buildConnector: require('undici/lib/core/connect.js') as typeof Undici.buildConnector,
    requestApi: require('undici/lib/api/api-request.js') as UndiciParts['requestApi'],
  };
  return undici;
}

export function poolRequest(pool: Pool, options: Undici.Dispatcher.RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  return undiciParts().requestApi.call(pool, options);
}

type Transport = ReverseProxyHandler['transport'];

/** TLS options for https upstreams, read once (CA files are read at config load). */
export interface TlsOptions {
  rejectUnauthorized: boolean;
  servername?: string;
  ca?: Buffer[];
}

/** Reads `ca_files`; a missing file is a config error, reported when the config is loaded. */
export function compileTls(transport: Transport): TlsOptions {
  const tls = transport.tls;
  const options: TlsOptions = { rejectUnauthorized: !(tls?.insecure_skip_verify ?? false) };
  if (tls?.server_name) options.servername = tls.server_name;
  if (tls?.ca_files && tls.ca_files.length > 0) {
    options.ca = tls.ca_files.map((file) => {
      try {
        return readFileSync(file);
      } catch (error) {
        throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `reverse_proxy: cannot read ca_file ${file}: ${(error as Error).message}`, {
          directive: 'reverse_proxy',
          cause: error,
        });
      }
    });
  }
  return options;
}

export interface PoolOptions {
  /** Connections at most; 0 = no limit. */
  connections: number;
}

/** A keep-alive pool for one upstream. Timeouts per request are set at dispatch. */
export function createPool(upstream: Upstream, transport: Transport, tls: TlsOptions, options: PoolOptions = { connections: transport.max_conns_per_host }): Pool {
  const keepAlive = transport.keepalive_idle_ms > 0 ? transport.keepalive_idle_ms : DEFAULT_KEEPALIVE_IDLE_MS;
  const connectOptions: Undici.buildConnector.BuildOptions = {
    timeout: transport.dial_timeout_ms > 0 ? transport.dial_timeout_ms : DEFAULT_DIAL_TIMEOUT_MS,
    allowH2: false,
  };
  if (upstream.socketPath !== null) connectOptions.socketPath = upstream.socketPath;
  if (upstream.scheme === 'https') {
    connectOptions.rejectUnauthorized = tls.rejectUnauthorized;
    if (tls.servername !== undefined) connectOptions.servername = tls.servername;
    if (tls.ca !== undefined) connectOptions.ca = tls.ca;
  }
  const { Pool, buildConnector } = undiciParts();
  const base = buildConnector(connectOptions);
  // undici would take the TLS server name from each request's Host header: the client's
  // choice. SNI and certificate checks use server_name or the upstream's own host instead,
  // as Caddy does (Go dials the URL's host, never req.Host).
  const connect: Undici.buildConnector.connector = (target, callback) => base({ ...target, servername: undefined }, callback);
  return new Pool(upstream.origin, {
    connections: options.connections > 0 ? options.connections : null,
    keepAliveTimeout: keepAlive,
    keepAliveMaxTimeout: keepAlive,
    // HTTP/1.1 only: upgrades (WebSocket) and per-request timeouts behave the same for every upstream.
    allowH2: false,
    maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
    connect,
  });
}
