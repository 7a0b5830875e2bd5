/**
 * Access logs with Caddy's field names (`http.log.access`, request.remote_ip, status, size,
 * duration in seconds, ...), so tools that read Caddy's logs read ours. Credentials in headers
 * are redacted, as Caddy does unless told otherwise.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { LogConfig } from '../config/types.ts';
import type { RequestContext } from './context.ts';
import { openLogOutput, type LogOutput } from './log-output.ts';

const REDACTED = new Set(['cookie', 'set-cookie', 'authorization', 'proxy-authorization']);

function headersForLog(headers: IncomingHttpHeaders | OutgoingHttpHeaders): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    out[canonical(name)] = REDACTED.has(name) ? values.map(() => 'REDACTED') : values;
  }
  return out;
}

function canonical(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

export interface AccessLogEntry {
  ctx: RequestContext;
  status: number;
  size: number;
  bytesRead: number;
  durationSeconds: number;
}

export interface AccessLogger {
  write(entry: AccessLogEntry): void;
  close(): Promise<void>;
}

/** Compiles a site's `log` directive into a writer. */
export function createAccessLogger(config: LogConfig): AccessLogger {
  const output: LogOutput = openLogOutput(config);
  const console = config.format === 'console';
  return {
    write({ ctx, status, size, bytesRead, durationSeconds }) {
      const req = ctx.req;
      const record = {
        level: 'info',
        ts: Date.now() / 1000,
        logger: 'http.log.access',
        msg: 'handled request',
        request: {
          remote_ip: ctx.remoteIp,
          remote_port: String(ctx.remotePort),
          client_ip: ctx.clientIp,
          proto: `HTTP/${req.httpVersion}`,
          method: req.method,
          host: ctx.hostport,
          uri: ctx.originalUri,
          headers: headersForLog(req.headers),
        },
        bytes_read: bytesRead,
        user_id: '',
        duration: durationSeconds,
        size,
        status,
        resp_headers: headersForLog(ctx.res.getHeaders()),
        id: ctx.id,
      };
      output.write(
        console
          ? `${new Date().toISOString()}\t${record.request.client_ip}\t${record.request.method} ${record.request.host}${record.request.uri}\t${status}\t${size}B\t${(durationSeconds * 1000).toFixed(1)}ms\n`
          : JSON.stringify(record) + '\n',
      );
    },
    close: () => output.close(),
  };
}
