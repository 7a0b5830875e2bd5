/**
 * The listening side: one node:http server per listener address, all reading the current
 * Runtime through one reference. `apply` opens the listeners a new runtime needs, swaps the
 * reference, then closes listeners no longer wanted; keep-alive connections on listeners that
 * stay simply carry on with the new runtime, and requests in flight finish on the old one,
 * which is disposed once they are done.
 */
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { CertificateProvider } from './ports.ts';
import type { Duplex } from 'node:stream';
import type { ServerOptions } from '../config/types.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { EventBus } from '../kernel/events.ts';
import { closeGracefully, type Closable } from '../kernel/graceful-close.ts';
import { trackConnections } from './tls-connections.ts';
import { admittedBy, requestClientCertificate, tlsSocketOf } from './tls-client-auth.ts';
import type { Logger } from '../kernel/logger.ts';
import type { RequestContext } from './context.ts';
import type { ListenerPlan } from './listen-plan.ts';
import { createRequestContext, plainIp } from './request-context.ts';
import { dropCookies, readCookie } from '../kernel/cookies.ts';
import type { GateVerdict } from './ports.ts';
import type { CompiledSite, Runtime } from './runtime.ts';
import { serveRequest } from './serve-request.ts';

const ACME_HTTP_PREFIX = '/.well-known/acme-challenge/';
const ACME_CONTEXT = Symbol('acme-tls/1 context');

export interface FrontDoorDeps {
  logger: Logger;
  events: EventBus;
  /** The certificates HTTPS listeners present; read at every handshake, so renewals apply at once. */
  certificates: () => CertificateProvider | null;
}

interface Listener {
  plan: ListenerPlan;
  server: Server | Http2SecureServer;
  /** What a graceful close needs; node:http has it built in, HTTPS listeners track it. */
  closable: Closable;
  /** Upgraded sockets (WebSocket tunnels) are outside node's connection tracking. */
  upgraded: Set<Duplex>;
}

export interface FrontDoor {
  /** Starts serving a runtime; throws ERR_LISTEN (and keeps the old runtime) when a socket cannot be opened. */
  apply(runtime: Runtime): Promise<void>;
  /** Bound addresses by listener key (useful with port 0). */
  addresses(): Map<string, { address: string; port: number }>;
  /** Stops accepting, lets requests in flight finish for up to graceMs, then closes everything. */
  close(graceMs: number): Promise<void>;
}

/**
 * RFC 9112 §3.2: a request with more than one Host header is answered 400. Node keeps the first
 * silently; an upstream or cache that keeps the last would route by a different host than ours.
 */
function hasOneHost(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++count > 1) return false;
  }
  return true;
}

export function createFrontDoor(deps: FrontDoorDeps): FrontDoor {
  const { logger, events } = deps;
  const listeners = new Map<string, Listener>();
  /** Listeners a reload removed, still draining; close() waits for them too. */
  const draining = new Set<Promise<void>>();
  let current: Runtime | null = null;
  let closing = false;

  function finish(runtime: Runtime, ctx: RequestContext, site: CompiledSite): void {
    runtime.inflight--;
    if (runtime !== current && runtime.inflight === 0) void runtime.dispose();
    const res = ctx.res;
    // `log_skip` sets this var for requests the user does not want in the access log.
    const needLog = site.accessLog !== null && ctx.vars.log_skip !== true && ctx.vars.log_skip !== 'true';
    const needMetrics = runtime.metrics !== null;
    const needEvent = events.has('http.request_done');
    if (!needLog && !needMetrics && !needEvent) return;
    const status = res.headersSent ? res.statusCode : 0;
    if (needLog || needMetrics) {
      const seconds = (performance.now() - ctx.startedAt) / 1000;
      if (needLog) {
        // A head written as a raw list (file_server, reverse_proxy) is not visible to getHeader.
        const length = ctx.contentLength >= 0 ? ctx.contentLength : Number(res.getHeader('content-length'));
        const size = Number.isFinite(length) ? length : 0;
        const bytesRead = Number(ctx.req.headers['content-length']) || 0;
        site.accessLog!.write({ ctx, status, size, bytesRead, durationSeconds: seconds });
      }
      if (needMetrics) runtime.metrics!.observe(site.name, ctx.routeName, ctx.method, status, seconds);
    }
    if (needEvent) {
      events.emit('http.request_done', {
        site: site.name,
        method: ctx.method,
        host: ctx.host,
        path: ctx.path,
        status,
        clientIp: ctx.clientIp,
        userAgent: String(ctx.req.headers['user-agent'] ?? ''),
        referer: String(ctx.req.headers.referer ?? ''),
        // As the client sent them: the guard's clearance and the session cookie are taken out
        // of req.headers before the routes run, and a browser holding only those still keeps cookies.
        hasCookies: ctx.clientCookie !== undefined,
        challenged: ctx.challenged,
        crossSite: isCrossSite(ctx.req.headers['sec-fetch-site'], ctx.clientCookie, runtime.challenge?.cookieName ?? null),
      });
    }
  }

  function onRequest(plan: ListenerPlan, req: IncomingMessage, res: ServerResponse): void {
    const runtime = current;
    if (runtime === null) {
      res.writeHead(503, { 'content-length': 0, connection: 'close' }).end();
      return;
    }
    if (plan.scheme === 'http' && req.url !== undefined && req.url.startsWith(ACME_HTTP_PREFIX) && answerAcmeChallenge(req, res)) return;
    const ctx = hasOneHost(req) ? createRequestContext(req, res, { scheme: plan.scheme, logger }) : null;
    if (ctx === null) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('400 Bad Request: malformed request target or Host\n');
      return;
    }
    // Before routing and any gate: everything after (matchers, logs, bans) sees the resolved client.
    if (runtime.clientIp !== null) ctx.clientIp = runtime.clientIp(ctx.remoteIp, req.headers);
    const site = runtime.routers.get(plan.key)?.(ctx) ?? null;
    if (site === null) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`404 Not Found: no site is served for host ${JSON.stringify(ctx.host)}\n`);
      return;
    }
    if (plan.scheme === 'https' && !clientCertificateAdmits(req, ctx.host, site)) {
      // The handshake was made for another name (SNI) than the one this request asks for
      // (Host), and this site needs a client certificate that handshake did not check:
      // Caddy's strict_sni_host answer.
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
        .end('421 Misdirected Request: this site needs a TLS client certificate; connect with its name as SNI\n');
      return;
    }
    ctx.siteName = site.name;
    runtime.inflight++;
    // `on`, not `once`: a response emits 'close' once, and once() costs a wrapper per request.
    res.on('close', () => {
      try {
        finish(runtime, ctx, site);
      } catch (error) {
        // Logging or metrics failing (a full disk) must not take the process down.
        logger.error({ err: error, id: ctx.id }, 'recording a finished request failed');
      }
    });
    // The guard's gate (bans, blocklists, request rules) answers before any route runs; its
    // refusal goes through the site's error path like any other error, and a challenge is
    // answered with the proof-of-work page.
    const verdict = runtime.gate === null ? null : runtime.gate.check(ctx);
    const challenge = runtime.challenge;
    // The challenge's script and answer, on every site while the guard is on, whatever the
    // site's routes are: a challenged client must reach them (a banned one need not).
    if (challenge !== null && (verdict === null || verdict.challenge === true) && ctx.rawPath.startsWith('/.portcullis/') && challenge.owns(ctx.rawPath)) {
      void challenge.handle(req, res, { clientIp: ctx.clientIp, secure: plan.scheme === 'https' }).catch(() => res.destroy());
      return;
    }
    if (verdict !== null && verdict.challenge === true && challenge !== null) {
      const page = challenge.page(verdict, ctx);
      ctx.challenged = true;
      res.writeHead(page.status, page.headers).end(ctx.method === 'HEAD' ? undefined : page.body);
      return;
    }
    // The clearance is Portcullis's own cookie: upstreams never see it.
    if (challenge !== null) dropCookies(req.headers, challenge.cookieName, (name) => name === challenge.cookieName);
    // Never rejects: failures outside the error path are logged and cut there.
    void serveRequest(ctx, site, verdict === null ? null : gateError(verdict));
  }

  /**
   * Whether the connection met the client_auth policy of the name the request asks for and of
   * the site it was routed to. The two differ when the router sends a name to a site that is not
   * the name's own (a wildcard site taking a Host no certificate lookup reads, an exact site on
   * another port): checked by name alone, such a request reached a client_auth site without a
   * certificate. A client_auth site whose policy is not loaded is refused, never served unchecked.
   */
  function clientCertificateAdmits(req: IncomingMessage, host: string, site: CompiledSite): boolean {
    const certificates = deps.certificates();
    const named = certificates?.clientAuthFor(host) ?? null;
    if (named !== null && !admittedBy(tlsSocketOf(req), named)) return false;
    if (site.clientAuthHosts === null) return true;
    const policy = certificates?.clientAuthOfSite(site.clientAuthHosts) ?? null;
    return policy !== null && admittedBy(tlsSocketOf(req), policy);
  }

  /**
   * Upgrade requests (WebSocket, h2c) come without a ServerResponse; give them one on the raw
   * socket so they pass through the same routes, matchers and handlers as any request.
   */
  function onUpgrade(listener: Listener, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    (req as IncomingMessage & { upgradeHead?: Buffer }).upgradeHead = head;
    listener.upgraded.add(socket);
    socket.once('close', () => listener.upgraded.delete(socket));
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    // Attached for good: when the socket closes, res emits 'close' and the request is
    // recorded (log, metrics, in-flight count) like any other.
    res.assignSocket(socket as never);
    // A plain response (respond, file_server, an error) ends the exchange; destroySoon also
    // ends it for a client that keeps its half of the connection open.
    res.once('finish', () => (socket as Duplex & { destroySoon(): void }).destroySoon());
    onRequest(listener.plan, req, res);
  }

  function configure(listener: Listener, options: ServerOptions): void {
    const server = listener.server as Server;
    server.headersTimeout = options.readHeaderTimeoutMs;
    // Node requires requestTimeout >= headersTimeout; 0 disables it.
    server.requestTimeout = options.readTimeoutMs === 0 ? 0 : Math.max(options.readTimeoutMs, options.readHeaderTimeoutMs);
    server.keepAliveTimeout = options.idleTimeoutMs;
    server.timeout = options.writeTimeoutMs;
  }

  /**
   * Clients that send no SNI (an IP address in the URL) never reach the SNICallback: Node
   * handshakes them with the server's default context, which `setSecureContext` can only
   * build from PEM. So each connection's default is chosen as it arrives, from the address it
   * arrived on (or default_sni), which also follows renewals. `_sharedCreds` is the field
   * tls.Server hands to every new TLSSocket; test/https.test.ts guards this behaviour.
   */
  function chooseDefaultContext(server: Http2SecureServer): void {
    server.prependListener('connection', (socket: Socket) => {
      const context = deps.certificates()?.contextForAddress(plainIp(socket.localAddress ?? '')) ?? null;
      (server as unknown as { _sharedCreds: SecureContext | null })._sharedCreds = context;
    });
  }

  /**
   * ACME HTTP-01 answers come before routing, redirects and any gate: the CA's validation
   * servers must reach them whatever the site's rules say.
   */
  function answerAcmeChallenge(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const answer = deps.certificates()?.httpChallenge(req.headers.host ?? '', req.url!) ?? null;
    if (answer === null) return false;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(answer) }).end(req.method === 'HEAD' ? undefined : answer);
    return true;
  }

  /**
   * ALPN (RFC 7301): h2, then http/1.1; `acme-tls/1` only while a TLS-ALPN-01 challenge for
   * the name is pending (RFC 8737), remembered on the socket for the SNI callback that follows.
   */
  function alpnCallback(this: TLSSocket, { servername, protocols }: { servername: string; protocols: string[] }): string | undefined {
    if (protocols.includes('acme-tls/1')) {
      const context = deps.certificates()?.alpnChallengeContext((servername ?? '').toLowerCase()) ?? null;
      if (context === null) return undefined;
      (this as TLSSocket & { [ACME_CONTEXT]?: SecureContext })[ACME_CONTEXT] = context;
      // RFC 8737 §3: a challenge connection carries no application data.
      this.once('secure', () => this.destroy());
      return 'acme-tls/1';
    }
    if (protocols.includes('h2')) return 'h2';
    return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
  }

  /**
   * A site's `tls { protocols; ciphers }`: Node settles the version and cipher before the SNI
   * callback can swap in the site's context, so they are checked once the handshake is done,
   * and a connection that does not meet them is closed before any request is read.
   */
  function enforceTlsSettings(socket: TLSSocket): void {
    const name = typeof socket.servername === 'string' ? socket.servername.toLowerCase() : '';
    if (name === '') return;
    const settings = deps.certificates()?.tlsSettingsFor(name) ?? null;
    if (settings === null) return;
    const version = socket.getProtocol() ?? '';
    const rank = (v: string | undefined) => (v === 'TLSv1.3' ? 3 : v === 'TLSv1.2' ? 2 : 0);
    const tooOld = settings.minVersion !== undefined && rank(version) < rank(settings.minVersion);
    const tooNew = settings.maxVersion !== undefined && rank(version) > rank(settings.maxVersion);
    const cipher = socket.getCipher()?.name ?? '';
    const badCipher = settings.ciphers !== undefined && version === 'TLSv1.2' && !settings.ciphers.split(':').includes(cipher);
    if (tooOld || tooNew || badCipher) {
      logger.debug({ servername: name, version, cipher }, 'TLS connection refused by the site\'s protocols or ciphers');
      socket.destroy();
    }
  }

  /** TLS SNI: the provider's certificate for the name, or an alert, never some other site's certificate. */
  function sniCallback(this: TLSSocket, servername: string, callback: (error: Error | null, context?: SecureContext) => void): void {
    const challenge = (this as TLSSocket & { [ACME_CONTEXT]?: SecureContext })[ACME_CONTEXT];
    if (challenge !== undefined) return callback(null, challenge);
    const provider = deps.certificates();
    const name = servername.toLowerCase();
    Promise.resolve(provider === null ? null : provider.contextFor(name)).then(
      (context) => {
        if (context === null) return callback(new Error(`no certificate for ${servername}`));
        // Only names whose site has client_auth ask for a certificate (browsers prompt otherwise).
        const policy = provider!.clientAuthFor(name);
        if (policy !== null && !requestClientCertificate(this, policy)) return callback(new Error(`cannot ask for a client certificate for ${servername}`));
        callback(null, context);
      },
      (error: Error) => callback(error),
    );
  }

  /** HTTP/1.1 parsing, for plain and TLS listeners alike. */
  function http1Options(options: ServerOptions) {
    return {
      maxHeaderSize: options.maxHeaderBytes,
      requireHostHeader: true,
      // Never the lenient parser: it accepts the request-smuggling shapes this server must refuse.
      insecureHTTPParser: false,
      connectionsCheckingInterval: 1000,
    };
  }

  function createSecureListener(options: ServerOptions, onReq: (req: IncomingMessage, res: ServerResponse) => void, http2: typeof import('node:http2')): Http2SecureServer {
    // HTTP/2 and HTTP/1.1 on one TLS port (ALPN h2, http/1.1); the compatibility API gives h2
    // requests the same req/res surface the handlers use.
    const server = http2.createSecureServer(
      {
        ...http1Options(options),
        allowHTTP1: true,
        ALPNCallback: alpnCallback,
        SNICallback: sniCallback,
        minVersion: 'TLSv1.2',
        maxSessionMemory: 10,
        settings: { maxHeaderListSize: options.maxHeaderBytes },
      },
      onReq as never,
    );
    chooseDefaultContext(server);
    server.prependListener('secureConnection', enforceTlsSettings);
    return server;
  }

  async function open(plan: ListenerPlan, options: ServerOptions): Promise<Listener> {
    const onReq = (req: IncomingMessage, res: ServerResponse) => onRequest(listener.plan, req, res);
    // node:http2 costs about 9 MiB of resident memory once loaded: only with an HTTPS listener.
    const server = plan.scheme === 'http' ? createServer(http1Options(options), onReq) : createSecureListener(options, onReq, await import('node:http2'));
    const closable = plan.scheme === 'https' ? trackConnections(server as Http2SecureServer) : (server as Server);
    const listener: Listener = { plan, server, closable, upgraded: new Set() };
    configure(listener, options);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(listener, req, socket, head));
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      logger.debug({ code: error.code, listener: plan.key }, 'client error');
      if (!socket.writable) return socket.destroy();
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    return new Promise((resolve, reject) => {
      const fail = (error: NodeJS.ErrnoException) =>
        reject(new PortcullisError(ErrorCodes.ERR_LISTEN, `cannot listen on ${plan.key}: ${error.code ?? error.message}`, { cause: error }));
      server.once('error', fail);
      server.listen({ host: plan.host === '' ? undefined : plan.host, port: plan.port }, () => {
        server.off('error', fail);
        server.on('error', (error) => logger.error({ err: error, listener: plan.key }, 'listener error'));
        resolve(listener);
      });
    });
  }

  function closeListener(listener: Listener, graceMs: number): Promise<void> {
    return closeGracefully(listener.closable, graceMs, () => {
      for (const socket of listener.upgraded) socket.destroy();
    });
  }

  function drain(listener: Listener, graceMs: number): void {
    const done = closeListener(listener, graceMs).finally(() => draining.delete(done));
    draining.add(done);
  }

  return {
    async apply(runtime) {
      if (closing) throw new PortcullisError(ErrorCodes.ERR_LISTEN, 'the server is stopping');
      const opened: Listener[] = [];
      try {
        for (const plan of runtime.listeners) {
          const existing = listeners.get(plan.key);
          if (existing) {
            if (existing.plan.scheme !== plan.scheme) throw new PortcullisError(ErrorCodes.ERR_LISTEN, `${plan.key} cannot change between http and https on reload`);
            continue;
          }
          opened.push(await open(plan, runtime.config.server));
          // close() may have begun while this socket was opening: nothing may outlive it.
          if (closing) throw new PortcullisError(ErrorCodes.ERR_LISTEN, 'the server is stopping');
        }
      } catch (error) {
        await Promise.all(opened.map((l) => closeListener(l, 0)));
        throw error;
      }
      const previous = current;
      current = runtime;
      for (const listener of opened) listeners.set(listener.plan.key, listener);
      const wanted = new Set(runtime.listeners.map((p) => p.key));
      for (const plan of runtime.listeners) {
        const listener = listeners.get(plan.key)!;
        listener.plan = plan;
        configure(listener, runtime.config.server);
      }
      const gone = [...listeners.values()].filter((l) => !wanted.has(l.plan.key));
      for (const listener of gone) listeners.delete(listener.plan.key);
      for (const listener of gone) drain(listener, runtime.config.server.gracePeriodMs);
      if (previous !== null && previous.inflight === 0) await previous.dispose();
    },

    addresses() {
      const out = new Map<string, { address: string; port: number }>();
      for (const [key, { server }] of listeners) {
        const address = server.address();
        if (address && typeof address === 'object') out.set(key, { address: address.address, port: address.port });
      }
      return out;
    },

    async close(graceMs) {
      closing = true;
      const all = [...listeners.values()];
      listeners.clear();
      for (const listener of all) drain(listener, graceMs);
      await Promise.all([...draining]);
      const last = current;
      current = null;
      if (last !== null) await last.dispose();
    },
  };
}


/** A gate's refusal as the error the site's error path answers; the reason stays in the logs. */
function gateError(verdict: GateVerdict): PortcullisError {
  const code = verdict.status === 429 ? ErrorCodes.ERR_HTTP_TOO_MANY_REQUESTS : ErrorCodes.ERR_HTTP_FORBIDDEN;
  return new PortcullisError(code, verdict.status === 429 ? 'too many requests' : 'forbidden', {
    status: verdict.status,
    ...(verdict.retryAfter !== undefined ? { headers: { 'Retry-After': String(verdict.retryAfter) } } : {}),
  });
}

/**
 * Fetch Metadata's word that another site's page made the browser send this (W3C Fetch
 * Metadata, section 2.1). A `cross-site` request that carries the guard's clearance cookie is
 * the client's own doing, whatever it says: that cookie is SameSite=Lax, which a browser never
 * sends along with another site's `<img>`, so only a client that solved the challenge itself
 * (a scanner claiming the header to dodge the ban) has it there.
 */
function isCrossSite(value: string | undefined, cookie: string | undefined, clearanceCookie: string | null): boolean {
  if (value === 'same-site') return true;
  if (value !== 'cross-site') return false;
  return clearanceCookie === null || cookie === undefined || readCookie(cookie, clearanceCookie) === null;
}
