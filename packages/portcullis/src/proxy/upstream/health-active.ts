/**
 * Active health checks (Caddy's `health_uri`, `health_port`, `health_interval`,
 * `health_timeout`, `health_status`, `health_body`, `health_headers`): a GET to every upstream
 * each interval; an upstream that fails is out until a check passes again. Checks use their
 * own small pools so a saturated upstream pool cannot starve them.
 */
import type { Pool } from 'undici';
import type { ReverseProxyHandler } from '../../config/types.ts';
import type { Logger } from '../../kernel/logger.ts';
import { compileGoRegexp } from '../matchers/regexp.ts';
import { statusMatches } from './health-passive.ts';
import { createPool, poolRequest, type TlsOptions } from './pool.ts';
import { createUpstream, type Upstream } from './upstream.ts';

type Active = NonNullable<ReverseProxyHandler['health_checks']['active']>;
type Transport = ReverseProxyHandler['transport'];

/** Bodies are read this far for `expect_body`; a health page is small. */
const MAX_HEALTH_BODY_BYTES = 1024 * 1024;
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 5_000;

export interface ActiveHealth {
  /** Stops the timers and closes the check pools. */
  stop(): Promise<void>;
}

/** Starts checking now (first round at once) and every interval after. */
export function startActiveHealth(
  config: Active,
  upstreams: readonly Upstream[],
  transport: Transport,
  tls: TlsOptions,
  logger: Logger,
  onChange: (upstream: Upstream) => void,
): ActiveHealth {
  const interval = config.interval_ms > 0 ? config.interval_ms : DEFAULT_INTERVAL_MS;
  const timeout = config.timeout_ms > 0 ? config.timeout_ms : DEFAULT_TIMEOUT_MS;
  const expectBody = config.expect_body ? compileBodyMatcher(config.expect_body) : null;
  const path = config.uri.startsWith('/') ? config.uri : `/${config.uri}`;
  let stopped = false;

  const checks = upstreams.map((upstream) => {
    const target = config.port && upstream.socketPath === null ? createUpstream({ dial: `${bracket(upstream.host)}:${config.port}`, scheme: upstream.scheme }) : upstream;
    const pool = createPool(target, { ...transport, dial_timeout_ms: Math.min(transport.dial_timeout_ms || timeout, timeout) }, tls, { connections: 1 });
    const headers: Record<string, string | string[]> = { host: target.socketPath === null ? target.hostport : 'localhost' };
    for (const [name, values] of Object.entries(config.headers ?? {})) headers[name.toLowerCase()] = values.length === 1 ? values[0]! : values;
    return { upstream, pool, headers, running: false };
  });

  async function checkOne(check: (typeof checks)[number]): Promise<void> {
    if (check.running || stopped) return;
    check.running = true;
    let problem: string | null;
    try {
      problem = await probe(check.pool, check.headers);
    } catch (error) {
      problem = (error as Error).message || String(error);
    } finally {
      check.running = false;
    }
    if (stopped) return;
    const healthy = problem === null;
    if (healthy !== check.upstream.activeHealthy) {
      check.upstream.activeHealthy = healthy;
      if (healthy) logger.info({ upstream: check.upstream.key }, 'upstream passed its health check');
      else logger.warn({ upstream: check.upstream.key, reason: problem }, 'upstream failed its health check');
      onChange(check.upstream);
    }
  }

  /** null when the upstream is healthy, else why not. */
  async function probe(pool: Pool, headers: Record<string, string | string[]>): Promise<string | null> {
    const response = await poolRequest(pool, {
      path,
      method: 'GET',
      headers,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
    const status = response.statusCode;
    const statusOk = config.expect_status ? statusMatches(status, config.expect_status) : status >= 200 && status < 300;
    if (!statusOk || expectBody === null) {
      // dump() reads (a bounded amount) and discards, so the connection can be reused.
      await response.body.dump();
      return statusOk ? null : `status ${status}`;
    }
    let body = '';
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      body += (chunk as Buffer).toString('utf8');
      // Leaving the loop destroys the body stream.
      if (size >= MAX_HEALTH_BODY_BYTES) break;
    }
    return expectBody(body) ? null : 'body did not match';
  }

  function round(): void {
    for (const check of checks) void checkOne(check);
  }

  round();
  const timer = setInterval(round, interval);
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.allSettled(checks.map((check) => check.pool.destroy()));
    },
  };
}

/** `expect_body` is a Go (RE2) regular expression in Caddy; one that does not compile is matched as text. */
function compileBodyMatcher(pattern: string): (body: string) => boolean {
  try {
    const re = compileGoRegexp(pattern);
    return (body) => re.test(body);
  } catch {
    return (body) => body.includes(pattern);
  }
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
