/**
 * The admin API on loopback: `portcullis reload` and scripts talk to it. Only loopback hosts
 * are accepted in Host (DNS rebinding) and any Origin must be one of them too (a web page
 * must not be able to POST a config: the class of bug Caddy's admin endpoint had to close).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../config/types.ts';
import { redactSecrets } from '../config/index.ts';
import { ErrorCodes, PortcullisError, ConfigErrors } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import { closeGracefully } from '../kernel/graceful-close.ts';

/** What the admin API may do; main.ts supplies it. */
export interface AdminControl {
  currentConfig(): Config;
  /** Validates and applies a JSON config; throws ConfigErrors on bad input. */
  load(config: unknown): Promise<void>;
  /** Re-reads the config file the instance started with. */
  reload(): Promise<void>;
  stop(): void;
}

const MAX_BODY = 10 * 1024 * 1024;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export interface AdminServer {
  address(): { host: string; port: number } | null;
  close(): Promise<void>;
}

/** Splits `host:port`; `localhost:2019`, `127.0.0.1:0`, `[::1]:2019`. */
export function parseAdminAddress(listen: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(listen);
  if (!match) throw new PortcullisError(ErrorCodes.ERR_ADMIN, `admin address ${JSON.stringify(listen)} is not host:port`);
  const host = match[1] === '' ? 'localhost' : match[1]!.replace(/^\[|\]$/g, '');
  if (!LOOPBACK_HOSTS.has(host) && !host.startsWith('127.')) {
    throw new PortcullisError(ErrorCodes.ERR_ADMIN, `admin address ${listen} is not on loopback; the admin API is never exposed`);
  }
  return { host, port: Number(match[2]) };
}

function hostAllowed(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const host = hostHeader.replace(/:\d+$/, '').toLowerCase();
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function originAllowed(origin: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    return hostAllowed(new URL(origin).host);
  } catch {
    return false;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new PortcullisError(ErrorCodes.ERR_HTTP_BODY_TOO_LARGE, 'config body too large', { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function errorBody(error: unknown): { status: number; body: unknown } {
  if (error instanceof ConfigErrors) {
    return { status: 400, body: { error: { code: error.code, message: 'config rejected', errors: error.errors.map((e) => e.describe()) } } };
  }
  if (error instanceof PortcullisError) {
    return { status: error.status >= 400 && error.status < 600 ? error.status : 500, body: { error: { code: error.code, message: error.describe() } } };
  }
  return { status: 500, body: { error: { code: ErrorCodes.ERR_INTERNAL, message: (error as Error).message } } };
}

async function route(control: AdminControl, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/config') return reply(res, 200, redactSecrets(control.currentConfig()));
  if (req.method === 'POST' && path === '/load') {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return reply(res, 415, { error: { code: ErrorCodes.ERR_ADMIN, message: 'POST /load takes application/json' } });
    }
    const text = await readBody(req);
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (error) {
      return reply(res, 400, { error: { code: ErrorCodes.ERR_CONFIG_SYNTAX, message: `body is not JSON: ${(error as Error).message}` } });
    }
    await control.load(config);
    return reply(res, 200, { ok: true });
  }
  if (req.method === 'POST' && path === '/reload') {
    await control.reload();
    return reply(res, 200, { ok: true });
  }
  if (req.method === 'POST' && path === '/stop') {
    reply(res, 200, { ok: true });
    control.stop();
    return;
  }
  reply(res, 404, { error: { code: ErrorCodes.ERR_ADMIN, message: `no admin endpoint ${req.method} ${path}` } });
}

export function startAdminServer(listen: string, control: AdminControl, logger: Logger): Promise<AdminServer> {
  const { host, port } = parseAdminAddress(listen);
  const server: Server = createServer((req, res) => {
    if (!hostAllowed(req.headers.host) || !originAllowed(req.headers.origin)) {
      return reply(res, 403, { error: { code: ErrorCodes.ERR_ADMIN, message: 'admin API answers only loopback hosts and origins' } });
    }
    route(control, req, res).catch((error: unknown) => {
      const { status, body } = errorBody(error);
      if (status >= 500) logger.error({ err: error }, 'admin request failed');
      if (!res.headersSent) reply(res, status, body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new PortcullisError(ErrorCodes.ERR_ADMIN, `cannot listen for the admin API on ${listen}: ${error.code ?? error.message}`)),
    );
    server.listen({ host, port }, () => {
      resolve({
        address() {
          const a = server.address();
          return a && typeof a === 'object' ? { host: a.address, port: a.port } : null;
        },
        // Graceful: a `/load` that moved the admin address still gets its answer.
        close: () => closeGracefully(server, 2000),
      });
    });
  });
}
