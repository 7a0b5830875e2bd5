/**
 * One attempt at one upstream over undici's dispatch API: the upstream's response streams to
 * the client as it arrives, with backpressure both ways (a full client socket pauses the
 * upstream parser), and a client that goes away aborts the upstream request.
 */
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../context.ts';
import type { HeaderMap } from '../header-ops.ts';

export interface AttemptRequest {
  method: string;
  path: string;
  headers: HeaderMap;
  body: Buffer | Readable | null;
  /** Protocol for an upgrade (undici writes Connection/Upgrade itself), or null. */
  upgrade: string | null;
  /**
   * Constant per upstream. undici otherwise derives one from the Host header and drops the
   * pooled TLS connection whenever it changes; the connector ignores it (see pool.ts).
   */
  servername: string;
  /** 0 = none. */
  headersTimeout: number;
  bodyTimeout: number;
}

export type AttemptOutcome =
  /** A response went to the client (possibly cut short after its head: then the connection was destroyed). */
  | { kind: 'done' }
  /** The client went away; nothing more to do. */
  | { kind: 'gone' }
  /** No response head reached the client. `started`: the request was (being) written upstream. */
  | { kind: 'failed'; error: Error; started: boolean; headError: boolean };

/** Compiled once per handler; `target` is what the handler passed to roundTrip for this attempt. */
export interface ResponseHooks<T> {
  /**
   * The upstream's response head: writes it to the client (through response.ts, so queued
   * header edits apply) and says whether to flush it at once. Throwing fails the attempt (not
   * retried).
   */
  onHead(ctx: RequestContext, target: T, status: number, headers: HeaderMap, latencyMs: number): boolean;
  /** A 101 answer to an upgrade request: owns both sockets until the tunnel closes. */
  onUpgrade(ctx: RequestContext, target: T, status: number, headers: HeaderMap, socket: Duplex): Promise<void>;
}

/** Raised into undici when the client closed its connection. */
function clientGoneError(): Error {
  return Object.assign(new Error('client closed the connection'), { code: 'PORTCULLIS_CLIENT_GONE' });
}

/** Dispatches the request and streams the answer; never rejects. */
export function roundTrip<T>(ctx: RequestContext, dispatcher: Dispatcher, request: AttemptRequest, hooks: ResponseHooks<T>, target: T): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    const res = ctx.res;
    const started = performance.now();
    let controller: Dispatcher.DispatchController | null = null;
    let requestStarted = false;
    let headSent = false;
    let bodyBytes = 0;
    let clientGone = false;
    let headError = false;
    let settled = false;
    // Attached only once the client's socket pushed back: most responses never fill it.
    let drainAttached = false;

    const settle = (outcome: AttemptOutcome): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClientClose);
      if (drainAttached) res.off('drain', onDrain);
      resolve(outcome);
    };
    const onDrain = (): void => controller?.resume();
    const onClientClose = (): void => {
      if (res.writableFinished) return;
      clientGone = true;
      // Before onRequestStart there is no controller yet: onRequestStart aborts then.
      controller?.abort(clientGoneError());
      settle(headSent ? { kind: 'done' } : { kind: 'gone' });
    };
    if (res.destroyed) {
      resolve({ kind: 'gone' });
      return;
    }
    res.on('close', onClientClose);

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        requestStarted = true;
        if (clientGone) c.abort(clientGoneError());
      },
      onResponseStart(c, status, headers) {
        // 1xx interim answers (103 Early Hints) are not relayed; the final one follows.
        if (status < 200) return;
        let flush: boolean;
        try {
          flush = hooks.onHead(ctx, target, status, headers as HeaderMap, performance.now() - started);
        } catch (error) {
          headError = true;
          c.abort(error as Error);
          return;
        }
        headSent = true;
        // Event streams and flush_interval -1: the client sees the head before the first event.
        if (flush) res.flushHeaders();
      },
      onResponseData(c, chunk) {
        bodyBytes += chunk.length;
        if (!res.write(chunk)) {
          c.pause();
          if (!drainAttached) {
            drainAttached = true;
            res.on('drain', onDrain);
          }
        }
      },
      onResponseEnd(_c, trailers) {
        if (trailers !== null && typeof trailers === 'object' && res.chunkedEncoding) {
          const names = Object.keys(trailers);
          if (names.length > 0) {
            try {
              res.addTrailers(trailers as Record<string, string>);
            } catch {
              // A trailer Node refuses is dropped; the body itself is complete.
            }
          }
        }
        // A chunked response has no Content-Length for the access log to read: record what went out.
        if (ctx.contentLength < 0 && res.getHeader('content-length') === undefined) ctx.contentLength = bodyBytes;
        res.end();
        settle({ kind: 'done' });
      },
      onResponseError(_c, error) {
        if (settled) return;
        if (headSent) {
          // The head is out: the only honest signal left is to cut the connection, so a
          // truncated body cannot pass for a complete one.
          ctx.logger.warn({ id: ctx.id, upstream: ctx.upstreamHostport, err: error }, 'upstream response broke off; aborting the client connection');
          res.destroy(error);
          settle({ kind: 'done' });
          return;
        }
        settle({ kind: 'failed', error, started: requestStarted, headError });
      },
      onRequestUpgrade(_c, status, headers, socket) {
        headSent = true;
        res.off('close', onClientClose);
        hooks.onUpgrade(ctx, target, status, headers as HeaderMap, socket).then(
          () => settle({ kind: 'done' }),
          (error: unknown) => {
            ctx.logger.warn({ id: ctx.id, err: error }, 'upgraded connection failed');
            socket.destroy();
            settle({ kind: 'done' });
          },
        );
      },
    };

    const options: Dispatcher.DispatchOptions & { servername: string } = {
      method: request.method as Dispatcher.HttpMethod,
      path: request.path,
      headers: request.headers,
      body: request.body,
      upgrade: request.upgrade,
      headersTimeout: request.headersTimeout,
      bodyTimeout: request.bodyTimeout,
      // Keep-alive to the upstream whatever the client asked for its own connection.
      reset: false,
      servername: request.servername,
    };
    dispatcher.dispatch(options, handler);
  });
}
