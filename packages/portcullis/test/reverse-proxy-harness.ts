/**
 * Shared pieces of the reverse_proxy tests: real upstreams on 127.0.0.1:0, a node:http server
 * that runs the handler the way the front door does (upgrades included), and a client.
 */
import { loadMetricsKit } from '../src/kernel/metrics.ts';
import { testDeps } from './support/handler-deps.ts';
import { createServer, request as httpRequest, ServerResponse, type IncomingMessage, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Registry } from 'prom-client';
import type { ReverseProxyHandler, UpstreamConfig } from '../src/config/types.ts';
import { PortcullisError } from '../src/kernel/errors.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import { endOfChain, type Handler } from '../src/proxy/context.ts';
import type { HandlerDeps } from '../src/proxy/handler-deps.ts';
import { createRequestContext } from '../src/proxy/request-context.ts';
import { createReverseProxy, type ReverseProxyOptions } from '../src/proxy/handlers/reverse-proxy.ts';

export type Overrides = Partial<Omit<ReverseProxyHandler, 'load_balancing' | 'transport' | 'health_checks'>> & {
  load_balancing?: Partial<ReverseProxyHandler['load_balancing']>;
  transport?: Partial<ReverseProxyHandler['transport']>;
  health_checks?: Partial<ReverseProxyHandler['health_checks']>;
};

/** A complete handler config with Caddy-like defaults and the given changes. */
export function proxyConfig(upstreams: (string | UpstreamConfig)[], overrides: Overrides = {}): ReverseProxyHandler {
  return {
    handler: 'reverse_proxy',
    upstreams: upstreams.map((u) => (typeof u === 'string' ? { dial: u, scheme: 'http' } : u)),
    headers: overrides.headers ?? {},
    flush_interval_ms: overrides.flush_interval_ms ?? 0,
    request_buffers: overrides.request_buffers ?? 0,
    load_balancing: { policy: 'random', try_duration_ms: 0, try_interval_ms: 250, ...overrides.load_balancing },
    health_checks: { active: null, passive: null, ...overrides.health_checks },
    transport: {
      dial_timeout_ms: 0,
      response_header_timeout_ms: 0,
      read_timeout_ms: 0,
      write_timeout_ms: 0,
      keepalive_idle_ms: 0,
      max_conns_per_host: 0,
      tls: null,
      ...overrides.transport,
    },
  };
}

export interface Proxy {
  port: number;
  metrics: Registry;
  close(): Promise<void>;
}

/**
 * The server under test: builds ctx as the front door does, runs the handler, turns a thrown
 * PortcullisError into `status` + code. Upgrades get a ServerResponse on the raw socket and
 * `upgradeHead`, like front-door.ts.
 */
export async function startProxy(config: ReverseProxyHandler, options: ReverseProxyOptions = {}, scheme: 'http' | 'https' = 'http'): Promise<Proxy> {
  const disposers: (() => void | Promise<void>)[] = [];
  const kit = await loadMetricsKit();
  const metrics = kit.registry;
  const deps: HandlerDeps = testDeps({ metrics: kit, onDispose: (fn) => void disposers.push(fn) });
  const handler: Handler = createReverseProxy(config, deps, options);
  const logger = silentLogger();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const ctx = createRequestContext(req, res, { scheme, logger });
    if (ctx === null) {
      res.writeHead(400).end();
      return;
    }
    handler(ctx, endOfChain).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      if (error instanceof PortcullisError) res.writeHead(error.status, { 'content-type': 'text/plain' }).end(error.code);
      else res.writeHead(500).end(String(error));
    });
  };
  const server = createServer(onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    (req as IncomingMessage & { upgradeHead?: Buffer }).upgradeHead = head;
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as never);
    res.once('finish', () => {
      res.detachSocket(socket as never);
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    onRequest(req, res);
  });
  const port = await listen(server);
  return {
    port,
    metrics,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const dispose of disposers) await dispose();
    },
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface TestUpstream {
  port: number;
  dial: string;
  server: Server;
  seen: SeenRequest[];
  close(): Promise<void>;
}

type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A node:http upstream that reads the whole body, records the request, then calls `handle` (default: echo as JSON). */
export async function startUpstream(handle?: UpstreamHandler, raw = false): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    if (raw && handle) return handle(req, res, Buffer.alloc(0));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      if (handle) return handle(req, res, body);
      const text = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  const port = await listen(server);
  return {
    port,
    dial: `127.0.0.1:${port}`,
    server,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An address nothing listens on: connecting is refused at once. */
export async function deadAddress(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  trailers: NodeJS.Dict<string>;
  body: Buffer;
  text: string;
}

export interface Send {
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/** One request with node:http (no keep-alive), bounded in time. */
export function send(port: number, options: Send = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, trailers: res.trailers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
