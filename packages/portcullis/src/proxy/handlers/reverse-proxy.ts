/**
 * `reverse_proxy` with Caddy v2 semantics: load balancing over upstreams, retries within
 * lb_try_duration, active and passive health checks, header_up/header_down, X-Forwarded-*,
 * streaming both ways, trailers, WebSocket and other upgrades. Everything is compiled here
 * once; the closure returned runs per request. The parts live in ../upstream/.
 */
import type { Pool } from 'undici';
import type { ReverseProxyHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError, httpError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { buildRequestHeaders, compileTrustedProxies, connectionNamed, isHopByHopResponseField, stripResponseHeaders, upgradeType } from '../upstream/forward-headers.ts';
import { compileHeaderMapOps, type HeaderMap } from '../header-ops.ts';
import { writeHead, writeHeadWith } from '../response.ts';
import { startActiveHealth } from '../upstream/health-active.ts';
import { createPassiveHealth } from '../upstream/health-passive.ts';
import { upstreamHealthGauge } from '../upstream/metrics.ts';
import { compileTls, createPool } from '../upstream/pool.ts';
import { noBody, prepareBody } from '../upstream/request-body.ts';
import { compileRetryPolicy, mayTryAgain, pauseBeforeRetry } from '../upstream/retry.ts';
import { roundTrip, type AttemptOutcome, type ResponseHooks } from '../upstream/round-trip.ts';
import { compilePolicy } from '../upstream/select.ts';
import { tunnel, upgradeHead } from '../upstream/upgrade.ts';
import { createUpstream, isHealthy, type Limits, type Upstream } from '../upstream/upstream.ts';

export interface ReverseProxyOptions {
  /** CIDRs of proxies whose X-Forwarded-* are believed (global `servers { trusted_proxies }`). */
  trustedProxies?: string[];
}

const EMPTY = Buffer.alloc(0);

/** One attempt's upstream, and the bytes read past an upgrade request's head (null otherwise). */
interface Attempt {
  upstream: Upstream;
  head: Buffer | null;
}

/** Compiles one reverse_proxy handler; its health-check timers and pools end with deps.onDispose. */
export function createReverseProxy(config: ReverseProxyHandler, deps: HandlerDeps, options: ReverseProxyOptions = {}): Handler {
  if (config.upstreams.length === 0) {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, 'reverse_proxy: no upstreams', { directive: 'reverse_proxy' });
  }
  const logger = deps.logger;
  const upstreams = config.upstreams.map(createUpstream);
  const isTrusted = compileTrustedProxies(options.trustedProxies ?? []);
  const tls = compileTls(config.transport);
  const passiveConfig = config.health_checks.passive;
  const limits: Limits = {
    maxFails: passiveConfig !== null && passiveConfig.fail_duration_ms > 0 ? Math.max(1, passiveConfig.max_fails) : 0,
    maxRequests: passiveConfig?.unhealthy_request_count ?? 0,
  };

  const policy = compilePolicy(config.load_balancing, upstreams, limits);
  const retry = compileRetryPolicy(config.load_balancing, logger);
  const headerUp = compileHeaderMapOps(config.headers.request);
  const headerDown = compileHeaderMapOps(config.headers.response);
  const headersTimeout = Math.max(0, config.transport.response_header_timeout_ms);
  const bodyTimeout = Math.max(0, config.transport.read_timeout_ms);
  const writeTimeout = Math.max(0, config.transport.write_timeout_ms);
  const flushAlways = config.flush_interval_ms === -1;

  // Everything that can reject the config is above; from here on, resources that need disposing.
  const gauge = deps.metrics === null ? null : upstreamHealthGauge(deps.metrics);
  const report = (upstream: Upstream): void => gauge?.set({ upstream: upstream.key }, isHealthy(upstream, limits) ? 1 : 0);
  const passive = createPassiveHealth(passiveConfig, limits.maxFails, report);
  for (const upstream of upstreams) report(upstream);
  const pools = new Map<Upstream, Pool>(upstreams.map((u) => [u, createPool(u, config.transport, tls)]));
  const active = config.health_checks.active === null ? null : startActiveHealth(config.health_checks.active, upstreams, config.transport, tls, logger, report);
  deps.onDispose(async () => {
    passive.stop();
    await active?.stop();
    // close() lets requests in flight finish; upgraded tunnels left the pools already.
    await Promise.allSettled([...pools.values()].map((pool) => pool.close()));
  });

  /** The upstream's response head onto ctx.res, all but hop-by-hop fields, after header_down and with a sticky cookie. */
  function copyHead(ctx: RequestContext, upstream: Upstream, headers: HeaderMap): void {
    const res = ctx.res;
    for (const name of Object.keys(headers)) {
      const value = headers[name]!;
      // Cookies set earlier in the chain stay; every other field is the upstream's.
      if (name === 'set-cookie') res.appendHeader(name, value);
      else res.setHeader(name, value);
    }
    const cookie = policy.stickyCookie?.(ctx, upstream);
    if (cookie) res.appendHeader('set-cookie', cookie);
  }

  /**
   * The head as one flat list of the forwardable fields, written without per-field setHeader
   * bookkeeping (response.ts writeHeadWith): the common case, where nothing earlier in the
   * chain set a header of its own and no header_down or sticky cookie edits the head.
   */
  function writeForwardable(ctx: RequestContext, status: number, headers: HeaderMap): boolean {
    const named = connectionNamed(headers);
    const fields: (string | string[])[] = [];
    for (const name of Object.keys(headers)) {
      if (!isHopByHopResponseField(name, named)) fields.push(name, headers[name]!);
    }
    const length = isHopByHopResponseField('content-length', named) ? undefined : headers['content-length'];
    if (announceTrailer(ctx, status, length, headers.trailer)) fields.push('trailer', headers.trailer!);
    writeHeadWith(ctx, status, fields, typeof length === 'string' && length !== '' ? Number(length) : -1);
    return flushFor(isHopByHopResponseField('content-type', named) ? undefined : headers['content-type']);
  }

  /** Event streams and flush_interval -1: the client sees the head before the first event. */
  function flushFor(type: HeaderMap[string] | undefined): boolean {
    return flushAlways || (typeof type === 'string' && type.startsWith('text/event-stream'));
  }

  // The head needs no edit of ours: the flat list (writeForwardable) unless an earlier handler set a header.
  const plainHead = headerDown === null && policy.stickyCookie === null;

  /** What roundTrip calls with the upstream's answer; `target` is the attempt's upstream and the upgrade's head bytes. */
  const hooks: ResponseHooks<Attempt> = {
    onHead(ctx, { upstream }, status, headers, latencyMs) {
      passive.recordResponse(upstream, status, latencyMs);
      if (plainHead && ctx.res.getHeaderNames().length === 0) return writeForwardable(ctx, status, headers);
      const trailer = headers.trailer;
      stripResponseHeaders(headers, false);
      headerDown?.(headers, ctx);
      copyHead(ctx, upstream, headers);
      if (announceTrailer(ctx, status, headers['content-length'], trailer)) ctx.res.setHeader('trailer', trailer!);
      writeHead(ctx, status);
      return flushFor(headers['content-type']);
    },
    onUpgrade(ctx, { upstream, head }, status, headers, socket) {
      passive.recordResponse(upstream, status, 0);
      stripResponseHeaders(headers, true);
      headerDown?.(headers, ctx);
      copyHead(ctx, upstream, headers);
      ctx.res.setHeader('connection', 'Upgrade');
      return tunnel(ctx, socket, head ?? EMPTY);
    },
  };

  return async function reverseProxy(ctx: RequestContext): Promise<void> {
    const head = upgradeHead(ctx.req);
    const upgrade = head === null ? null : upgradeType(ctx);
    const base = buildRequestHeaders(ctx, isTrusted(ctx.remoteIp));
    const pending = upgrade === null ? prepareBody(ctx.req, config.request_buffers, writeTimeout) : noBody;
    const body = pending instanceof Promise ? await pending.catch(bodyLost) : pending;
    if (body === null) return; // the client left while its body was being buffered
    const path = ctx.query === '' ? ctx.rawPath : `${ctx.rawPath}?${ctx.query}`;
    const deadline = retry.tryDuration > 0 ? performance.now() + retry.tryDuration : 0;
    let tried: Upstream[] | null = null;
    let lastError: PortcullisError | null = null;

    for (;;) {
      const upstream = policy.select(upstreams, ctx, tried) ?? (tried === null ? null : policy.select(upstreams, ctx, null));
      if (upstream === null) {
        lastError ??= httpError(503, 'no upstream is available', ErrorCodes.ERR_UPSTREAM_UNAVAILABLE);
        if (retry.tryDuration === 0 || performance.now() >= deadline) throw lastError;
        if (!(await pauseBeforeRetry(retry, ctx))) return;
        continue;
      }
      ctx.upstreamHostport = upstream.hostport;
      let headers = base;
      if (headerUp !== null) {
        // Per attempt: placeholders such as {upstream_hostport} depend on the upstream chosen.
        headers = Object.assign(Object.create(null) as HeaderMap, base);
        headerUp(headers, ctx);
      }
      upstream.active++;
      let outcome: AttemptOutcome;
      try {
        outcome = await roundTrip(
          ctx,
          pools.get(upstream)!,
          { method: ctx.method, path, headers, body: body.next(), upgrade, servername: upstream.host, headersTimeout, bodyTimeout },
          hooks,
          { upstream, head },
        );
      } finally {
        upstream.active--;
      }
      if (outcome.kind !== 'failed') return;
      // A body the client broke off (or request_body refused) is not the upstream's failure.
      if (outcome.error instanceof PortcullisError) throw outcome.error;
      if (ctx.res.destroyed || (ctx.req.destroyed && !ctx.req.complete)) return;
      if (!outcome.headError) passive.recordFailure(upstream);
      lastError = upstreamError(outcome.error);
      ctx.logger.debug({ id: ctx.id, upstream: upstream.key, err: outcome.error }, 'upstream attempt failed');
      if (outcome.headError || !mayTryAgain(retry, deadline, outcome.error, outcome.started, body.replayable(), ctx)) throw lastError;
      if (!(await pauseBeforeRetry(retry, ctx))) return;
      (tried ??= []).push(upstream);
    }
  };
}

/** A body that failed while being buffered: request_body's 413 goes to the client; a client that left gets nothing. */
function bodyLost(error: unknown): null {
  if (error instanceof PortcullisError) throw error;
  return null;
}

/** Announce the upstream's Trailer only where Node will send trailers: a chunked body (RFC 9112 §7.1.2). */
function announceTrailer(ctx: RequestContext, status: number, contentLength: HeaderMap[string] | undefined, trailer: HeaderMap[string] | undefined): boolean {
  return trailer !== undefined && willBeChunked(ctx, status, contentLength);
}

/** Whether Node will send this response chunked (only then can it carry trailers). */
function willBeChunked(ctx: RequestContext, status: number, contentLength: HeaderMap[string] | undefined): boolean {
  if (contentLength !== undefined || status === 204 || status === 304 || ctx.method === 'HEAD') return false;
  const req = ctx.req;
  return req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1);
}

/** 504 for the upstream being too slow, 502 for anything else that kept a response from coming. */
function upstreamError(error: Error): PortcullisError {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'PORTCULLIS_WRITE_TIMEOUT') {
    return new PortcullisError(ErrorCodes.ERR_UPSTREAM_TIMEOUT, 'upstream timed out', { status: 504, cause: error });
  }
  return new PortcullisError(ErrorCodes.ERR_UPSTREAM_FAILED, `upstream request failed${code ? ` (${code})` : ''}`, { status: 502, cause: error });
}
