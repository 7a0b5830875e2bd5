/**
 * One upstream of a reverse_proxy handler: where to dial it and its live state (requests in
 * flight, recent passive failures, the last active health check verdict). The state belongs
 * to one handler instance; a config reload builds fresh state.
 */
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { UpstreamConfig } from '../../config/types.ts';

export interface Upstream {
  /** The dial address as configured (`host:port`, `unix//path`): metric label, hash and cookie key. */
  readonly key: string;
  readonly scheme: 'http' | 'https';
  /** `host:port` for TCP, the socket path for unix sockets (Caddy's `{upstream_hostport}`). */
  readonly hostport: string;
  /** Host alone (no brackets for IPv6), for TLS server names and health checks. */
  readonly host: string;
  readonly port: number;
  /** Unix socket path, or null for TCP. */
  readonly socketPath: string | null;
  /** Origin given to undici; for unix sockets a placeholder host, the socket path does the dialing. */
  readonly origin: string;
  /** Requests in flight, for least_conn and max requests. */
  active: number;
  /** Passive failures still inside their fail_duration window. */
  fails: number;
  /** False while active health checks say the upstream is down. */
  activeHealthy: boolean;
}

/** Parses `host:port`, `[v6]:port`, `host` (port from the scheme) or `unix//path`. */
export function createUpstream(config: UpstreamConfig): Upstream {
  const dial = config.dial.trim();
  const scheme = config.scheme === 'https' ? 'https' : 'http';
  if (dial.startsWith('unix/')) {
    const path = dial.slice('unix/'.length);
    if (path === '') throw invalid(dial, 'empty unix socket path');
    return state(dial, scheme, path, path, 0, path, `${scheme}://localhost`);
  }
  let host: string;
  let portText: string;
  if (dial.startsWith('[')) {
    const end = dial.indexOf(']');
    if (end === -1) throw invalid(dial, 'unterminated IPv6 address');
    host = dial.slice(1, end);
    portText = dial.charAt(end + 1) === ':' ? dial.slice(end + 2) : '';
    if (portText === '' && end + 1 !== dial.length) throw invalid(dial, 'bad port');
  } else {
    const colon = dial.lastIndexOf(':');
    if (colon !== -1 && dial.indexOf(':') !== colon) throw invalid(dial, 'IPv6 addresses need brackets');
    host = colon === -1 ? dial : dial.slice(0, colon);
    portText = colon === -1 ? '' : dial.slice(colon + 1);
  }
  if (host === '' || /[\s/?#@]/.test(host)) throw invalid(dial, 'bad host');
  const port = portText === '' ? (scheme === 'https' ? 443 : 80) : Number(portText);
  if (!/^\d{0,5}$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid(dial, 'bad port');
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const hostport = `${bracketed}:${port}`;
  return state(dial, scheme, hostport, host, port, null, `${scheme}://${hostport}`);
}

function state(key: string, scheme: 'http' | 'https', hostport: string, host: string, port: number, socketPath: string | null, origin: string): Upstream {
  return { key, scheme, hostport, host, port, socketPath, origin, active: 0, fails: 0, activeHealthy: true };
}

function invalid(dial: string, why: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `reverse_proxy: upstream ${JSON.stringify(dial)}: ${why}`, { directive: 'reverse_proxy' });
}

/** Health limits compiled from the handler config; shared by every upstream of one handler. */
export interface Limits {
  /** Passive failures that take an upstream out; 0 when passive checks are off. */
  maxFails: number;
  /** Requests in flight that make an upstream full (`unhealthy_request_count`); 0 = no limit. */
  maxRequests: number;
}

/** Healthy by both health checks (the gauge reports this). */
export function isHealthy(upstream: Upstream, limits: Limits): boolean {
  return upstream.activeHealthy && (limits.maxFails === 0 || upstream.fails < limits.maxFails);
}

/** A selection candidate: healthy and not full. */
export function isAvailable(upstream: Upstream, limits: Limits): boolean {
  return isHealthy(upstream, limits) && (limits.maxRequests === 0 || upstream.active < limits.maxRequests);
}
