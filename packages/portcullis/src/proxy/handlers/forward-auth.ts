/**
 * `forward_auth` with Caddy's semantics: before the request goes on, a GET with the request's
 * headers (no body) goes to `uri` on an auth server (Authelia, Authentik outposts, oauth2-proxy,
 * another Portcullis). A 2xx lets the chain continue, with `copy_headers` copied from the auth
 * answer onto the request; any other answer (a redirect to sign in, a 401, a 403) goes to the
 * client as it is and the chain stops.
 *
 * The auth request uses reverse_proxy's machinery (upstream selection, pools, health checks,
 * retries, timeouts, header_up/header_down), in the one-shot form of undici's request API: a
 * 2xx body is discarded and never reaches the client, and the client's body is never touched,
 * so it is still there, unread, for the real upstream.
 */
import { pipeline } from 'node:stream/promises';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import type { ForwardAuthHandler } from '../../config/types.ts';
import { ErrorCodes, PortcullisError, httpError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileHeaderMapOps, type HeaderMap } from '../header-ops.ts';
import { normalizePath } from '../normalize-path.ts';
import { compileTemplate, hasPlaceholders } from '../placeholders.ts';
import { writeHead } from '../response.ts';
import { buildRequestHeaders, compileTrustedProxies, connectionNamed, isHopByHopResponseField, stripResponseHeaders } from '../upstream/forward-headers.ts';
import { startActiveHealth } from '../upstream/health-active.ts';
import { createPassiveHealth } from '../upstream/health-passive.ts';
import { upstreamHealthGauge } from '../upstream/metrics.ts';
import { compileTls, createPool, poolRequest } from '../upstream/pool.ts';
import { compileRetryPolicy, mayTryAgain, pauseBeforeRetry } from '../upstream/retry.ts';
import { compilePolicy } from '../upstream/select.ts';
import { createUpstream, isHealthy, type Limits, type Upstream } from '../upstream/upstream.ts';
import { canonicalRawPath, escapePath } from '../uri-escape.ts';

/** A 2xx answer's body is read and dropped up to this size (to keep the connection); a larger one costs the connection. */
const MAX_DISCARDED_BODY_BYTES = 64 * 1024;

/**
 * Claims about the original request that only we may make to the auth server. X-Forwarded-
 * Method/-Uri are set from the request (as Caddy does); X-Original-* are what nginx-style
 * auth endpoints believe first (Authelia's /api/verify, Portcullis' own forward-auth endpoint):
 * a client's copy could make the auth server judge a URL other than the one requested.
 */
const CLIENT_CLAIMS = ['x-original-url', 'x-original-uri', 'x-original-method'];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Everything but visible ASCII, and `#` (a fragment has no place in a request target).
const QUERY_UNSAFE_G = /[^\x21\x22\x24-\x7e]/gu;

type Answer = Dispatcher.ResponseData;

interface Copy {
  from: string;
  to: string;
}

function configError(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `forward_auth: ${message}`, { directive: 'forward_auth' });
}

/** Lower-cased copy pairs; throws for names the adapter would have refused (a hand-written JSON config). */
function compileCopies(copies: ForwardAuthHandler['copy_headers']): Copy[] {
  return copies.map(({ from, to }) => {
    for (const name of [from, to]) if (!TOKEN.test(name)) throw configError(`copy_headers: ${JSON.stringify(name)} is not a header field name`);
    return { from: from.toLowerCase(), to: to.toLowerCase() };
  });
}

/**
 * The auth request's target from `uri`: path and query split at the template's own `?`, values
 * escaped for their part (as rewrite does), the path sent without dot segments so the auth
 * server resolves it as we do, and never above the text written before the first placeholder
 * (`/check/{header.X}` with `../admin` would otherwise ask the auth server's `/admin`). The
 * client's query is not appended (Caddy keeps it when `uri` has no `?`): an auth server may
 * take its policy or its redirect target from the query, and it sees the whole original URI
 * in X-Forwarded-Uri anyway.
 */
function compileAuthTarget(uri: string): (ctx: RequestContext) => string {
  const q = uri.indexOf('?');
  const pathTemplate = q === -1 ? uri : uri.slice(0, q);
  const pathPart = compileTemplate(pathTemplate, { escape: 'path' });
  const queryPart = q === -1 ? null : compileTemplate(uri.slice(q + 1), { escape: 'query' });
  const brace = pathTemplate.indexOf('{');
  const floor = brace === -1 ? null : normalizePath(escapePath(pathTemplate.slice(0, brace)));
  if (brace !== -1 && floor === null) throw configError(`uri ${JSON.stringify(uri)} is not a valid path`);
  const build = (ctx: RequestContext): string => {
    const raw = escapePath(pathPart(ctx));
    const rooted = raw.startsWith('/') ? raw : '/' + raw;
    const path = normalizePath(rooted);
    if (path === null || (floor !== null && !path.startsWith(floor))) {
      throw httpError(400, 'the auth request path is malformed', ErrorCodes.ERR_HTTP_BAD_REQUEST);
    }
    const target = canonicalRawPath(rooted, path);
    return queryPart === null ? target : `${target}?${queryPart(ctx).replace(QUERY_UNSAFE_G, (c) => encodeURIComponent(c))}`;
  };
  if (hasPlaceholders(uri)) return build;
  let constant: string;
  try {
    constant = build(null as unknown as RequestContext);
  } catch {
    throw configError(`uri ${JSON.stringify(uri)} is not a valid path`);
  }
  return () => constant;
}

/** Caddy's 504 for a slow auth server, 502 for anything else that kept its answer from coming. */
function upstreamError(error: Error): PortcullisError {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new PortcullisError(ErrorCodes.ERR_UPSTREAM_TIMEOUT, 'auth upstream timed out', { status: 504, cause: error });
  }
  return new PortcullisError(ErrorCodes.ERR_UPSTREAM_FAILED, `auth upstream request failed${code ? ` (${code})` : ''}`, { status: 502, cause: error });
}

/** Compiles one forward_auth handler; its health-check timers and pools end with deps.onDispose. */
export function createForwardAuth(config: ForwardAuthHandler, deps: HandlerDeps): Handler {
  if (config.upstreams.length === 0) throw configError('no upstreams');
  const copies = compileCopies(config.copy_headers);
  const targets = [...new Set(copies.map((c) => c.to))];
  const authTarget = compileAuthTarget(config.uri);
  const upstreams = config.upstreams.map(createUpstream);
  const isTrusted = compileTrustedProxies(deps.trustedProxies);
  const tls = compileTls(config.transport);
  const passiveConfig = config.health_checks.passive;
  const limits: Limits = {
    maxFails: passiveConfig !== null && passiveConfig.fail_duration_ms > 0 ? Math.max(1, passiveConfig.max_fails) : 0,
    maxRequests: passiveConfig?.unhealthy_request_count ?? 0,
  };
  const policy = compilePolicy(config.load_balancing, upstreams, limits);
  const retry = compileRetryPolicy(config.load_balancing, deps.logger);
  const headerUp = compileHeaderMapOps(config.headers.request);
  const headerDown = compileHeaderMapOps(config.headers.response);
  const headersTimeout = Math.max(0, config.transport.response_header_timeout_ms);
  const bodyTimeout = Math.max(0, config.transport.read_timeout_ms);

  // Everything that can reject the config is above; from here on, resources that need disposing.
  const gauge = deps.metrics === null ? null : upstreamHealthGauge(deps.metrics);
  const report = (upstream: Upstream): void => gauge?.set({ upstream: upstream.key }, isHealthy(upstream, limits) ? 1 : 0);
  const passive = createPassiveHealth(passiveConfig, limits.maxFails, report);
  for (const upstream of upstreams) report(upstream);
  const pools = new Map<Upstream, Pool>(upstreams.map((u) => [u, createPool(u, config.transport, tls)]));
  const active = config.health_checks.active === null ? null : startActiveHealth(config.health_checks.active, upstreams, config.transport, tls, deps.logger, report);
  deps.onDispose(async () => {
    passive.stop();
    await active?.stop();
    await Promise.allSettled([...pools.values()].map((pool) => pool.close()));
  });

  /** The auth request's head: the client's request head as reverse_proxy would send it, less the body's framing. */
  function authHeaders(ctx: RequestContext): HeaderMap {
    const headers = buildRequestHeaders(ctx, isTrusted(ctx.remoteIp));
    // The GET carries no body (Caddy drops it when it rewrites the method to GET).
    delete headers['content-length'];
    for (const name of CLIENT_CLAIMS) delete headers[name];
    headers['x-forwarded-method'] = ctx.method;
    headers['x-forwarded-uri'] = ctx.query === '' ? ctx.rawPath : `${ctx.rawPath}?${ctx.query}`;
    return headers;
  }

  /** Asks the auth server (retrying within lb_try_duration); null when the client left meanwhile. */
  async function ask(ctx: RequestContext): Promise<Answer | null> {
    if (ctx.res.destroyed) return null;
    const base = authHeaders(ctx);
    const path = authTarget(ctx);
    const abort = new AbortController();
    const onClose = (): void => abort.abort(Object.assign(new Error('client closed the connection'), { code: 'PORTCULLIS_CLIENT_GONE' }));
    ctx.res.once('close', onClose);
    const deadline = retry.tryDuration > 0 ? performance.now() + retry.tryDuration : 0;
    let tried: Upstream[] | null = null;
    let lastError: PortcullisError | null = null;
    try {
      for (;;) {
        const upstream = policy.select(upstreams, ctx, tried) ?? (tried === null ? null : policy.select(upstreams, ctx, null));
        if (upstream === null) {
          lastError ??= httpError(503, 'no auth upstream is available', ErrorCodes.ERR_UPSTREAM_UNAVAILABLE);
          if (retry.tryDuration === 0 || performance.now() >= deadline) throw lastError;
          if (!(await pauseBeforeRetry(retry, ctx))) return null;
          continue;
        }
        ctx.upstreamHostport = upstream.hostport;
        let headers = base;
        if (headerUp !== null) {
          headers = Object.assign(Object.create(null) as HeaderMap, base);
          headerUp(headers, ctx);
        }
        const started = performance.now();
        upstream.active++;
        try {
          const options = { method: 'GET', path, headers, headersTimeout, bodyTimeout, signal: abort.signal, reset: false, servername: upstream.host };
          const answer = await poolRequest(pools.get(upstream)!, options as Dispatcher.RequestOptions);
          passive.recordResponse(upstream, answer.statusCode, performance.now() - started);
          return answer;
        } catch (error) {
          if (abort.signal.aborted || ctx.res.destroyed) return null;
          passive.recordFailure(upstream);
          lastError = upstreamError(error as Error);
          ctx.logger.debug({ id: ctx.id, upstream: upstream.key, err: error }, 'forward_auth attempt failed');
          // A GET without a body may always be sent again (`started` false says just that).
          if (!mayTryAgain(retry, deadline, error as Error, false, true, ctx)) throw lastError;
          if (!(await pauseBeforeRetry(retry, ctx))) return null;
          (tried ??= []).push(upstream);
        } finally {
          upstream.active--;
        }
      }
    } finally {
      ctx.res.off('close', onClose);
    }
  }

  /** A refusal goes to the client as the auth server sent it (hop-by-hop fields out, header_down applied). */
  async function relay(ctx: RequestContext, answer: Answer): Promise<void> {
    const headers = answer.headers as HeaderMap;
    const res = ctx.res;
    try {
      stripResponseHeaders(headers, false);
      headerDown?.(headers, ctx);
      for (const name of Object.keys(headers)) {
        const value = headers[name]!;
        // Cookies set earlier in the chain stay; the auth server's are added (sign-in state).
        if (name === 'set-cookie') res.appendHeader(name, value);
        else res.setHeader(name, value);
      }
      writeHead(ctx, answer.statusCode);
    } catch (error) {
      answer.body.destroy();
      throw new PortcullisError(ErrorCodes.ERR_UPSTREAM_FAILED, 'auth upstream sent a response head that cannot be relayed', { status: 502, cause: error });
    }
    const done = pipeline(answer.body, res);
    let bytes = 0;
    answer.body.on('data', (chunk: Buffer) => (bytes += chunk.length));
    try {
      await done;
    } catch (error) {
      // The head is out: cutting the connection is the only honest signal of a broken body.
      ctx.logger.debug({ id: ctx.id, err: error }, 'forward_auth: relaying the auth answer broke off');
      res.destroy();
      return;
    }
    if (ctx.contentLength < 0 && res.getHeader('content-length') === undefined) ctx.contentLength = bytes;
  }

  return async function forwardAuth(ctx: RequestContext, next): Promise<void> {
    let answer: Answer | null;
    try {
      answer = await ask(ctx);
    } finally {
      // Whatever the outcome, no copy_headers target the client sent survives: a client could
      // otherwise pose as any user whenever the auth server's answer lacks the field
      // (GHSA-7r4p-vjf4-gxv4, caddyserver/caddy#7545). The auth server still saw them.
      removeFields(ctx.req.headers, targets);
    }
    if (answer === null) return;
    if (answer.statusCode >= 200 && answer.statusCode < 300) {
      discard(answer.body);
      copyFields(ctx.req.headers, answer.headers as HeaderMap, copies);
      return next();
    }
    await relay(ctx, answer);
  };
}

function removeFields(headers: IncomingHttpHeaders, names: readonly string[]): void {
  for (let i = 0; i < names.length; i++) delete headers[names[i]!];
}

/**
 * The listed fields of the auth answer onto the request, renamed; several values become one
 * comma-joined field (RFC 9110 §5.3), so the upstream sees exactly one. An empty value counts
 * as absent, as in Caddy (which copies only non-empty placeholders).
 */
function copyFields(request: IncomingHttpHeaders, answer: HeaderMap, copies: readonly Copy[]): void {
  const named = connectionNamed(answer);
  for (let i = 0; i < copies.length; i++) {
    const { from, to } = copies[i]!;
    if (isHopByHopResponseField(from, named)) continue;
    const value = answer[from];
    if (value === undefined) continue;
    const joined = Array.isArray(value) ? value.join(', ') : value;
    if (joined !== '') request[to] = joined;
  }
}

/** Reads a 2xx answer's body to its end so the connection can serve the next auth request. */
function discard(body: Answer['body']): void {
  body.dump({ limit: MAX_DISCARDED_BODY_BYTES }).catch(() => {});
}
