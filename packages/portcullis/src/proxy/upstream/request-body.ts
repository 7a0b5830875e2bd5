/**
 * The request body as undici sends it: nothing, a Buffer (fully buffered by `request_buffers`,
 * so a retry can send it again), or a stream over ctx.req created per attempt. The stream
 * touches ctx.req only when undici starts writing, so an attempt that failed to dial leaves
 * the body unread for the next upstream; and undici destroying its stream never destroys the
 * client's request (which would reset the client's connection).
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export interface BodySource {
  /** The body for the next attempt. */
  next(): Buffer | Readable | null;
  /** True while a further attempt could still send the whole body. */
  replayable(): boolean;
}

/** Raised through undici when the upstream stops reading the body for write_timeout. */
function writeTimeoutError(ms: number): Error {
  return Object.assign(new Error(`upstream did not read the request body for ${ms} ms`), { code: 'PORTCULLIS_WRITE_TIMEOUT' });
}

/** The body for an upgrade request: none (bytes after the head belong to the tunnel). */
export const noBody: BodySource = { next: () => null, replayable: () => true };

/** Whether the request carries a body (RFC 9112 §6.3: Transfer-Encoding or a non-zero Content-Length). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Prepares the body. With `bufferLimit` > 0 up to that many bytes are read first (Caddy's
 * `request_buffers`): a body that fits is kept whole and stays replayable.
 */
export function prepareBody(req: IncomingMessage, bufferLimit: number, writeTimeoutMs: number): BodySource | Promise<BodySource> {
  if (!hasBody(req)) return noBody;
  if (bufferLimit <= 0) return streamed(req, null, writeTimeoutMs);
  return bufferUpTo(req, bufferLimit).then(({ buffer, complete }) =>
    complete ? { next: () => buffer, replayable: () => true } : streamed(req, buffer, writeTimeoutMs),
  );
}

function streamed(req: IncomingMessage, prefix: Buffer | null, writeTimeoutMs: number): BodySource {
  let touched = false;
  return {
    next: () => streamOver(req, prefix, writeTimeoutMs, () => (touched = true)),
    replayable: () => !touched,
  };
}

function bufferUpTo(req: IncomingMessage, limit: number): Promise<{ buffer: Buffer; complete: boolean }> {
  if (req.readableEnded) return Promise.resolve({ buffer: Buffer.alloc(0), complete: true });
  // A stream that already failed emits nothing more: listening for it would wait forever.
  if (req.destroyed) return Promise.reject(bodyFailure(req));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const done = (complete: boolean): void => {
      req.pause();
      detach();
      resolve({ buffer: Buffer.concat(chunks, size), complete });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) done(false);
    };
    const onEnd = (): void => done(true);
    const onError = (error: Error): void => {
      detach();
      reject(error);
    };
    // 'close' before 'end' (which detaches us) means the body was cut short.
    const onClose = (): void => onError(bodyFailure(req));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** Why the client's body stopped: request_body's 413 if that is what failed it, else the client left. */
function bodyFailure(req: IncomingMessage): Error {
  return req.errored ?? new Error('client closed the connection while sending the request body');
}

/** Takes a failure that nobody is left to hear (see streamOver). */
function ignore(): void {}

/**
 * A stream over req (after `prefix`) that attaches on undici's first read, with backpressure
 * both ways. Every failure of the client's body destroys this stream with the cause (a 413 from
 * request_body stays a 413): undici listens to a body stream for as long as the request lives
 * and aborts it with that error, which reaches round-trip's onResponseError. Once undici has let
 * go (it aborted the request itself, say because the client left, and removed its listeners in
 * the same tick as a read that failed), a late error has nobody to tell and must not be an
 * unhandled 'error' that ends the process.
 */
function streamOver(req: IncomingMessage, prefix: Buffer | null, writeTimeoutMs: number, onTouched: () => void): Readable {
  let attached = false;
  let stall: NodeJS.Timeout | null = null;
  const clearStall = (): void => {
    if (stall !== null) clearTimeout(stall);
    stall = null;
  };
  const onData = (chunk: Buffer): void => {
    if (out.push(chunk)) return;
    req.pause();
    // The upstream is not taking the body: write_timeout bounds how long it may stall us.
    if (writeTimeoutMs > 0 && stall === null) stall = setTimeout(() => out.destroy(writeTimeoutError(writeTimeoutMs)), writeTimeoutMs);
  };
  const onEnd = (): void => {
    out.push(null);
  };
  const onError = (error: Error): void => {
    out.destroy(error);
  };
  // 'close' before 'end' means the body was cut short; after 'end' it is the normal teardown.
  const onClose = (): void => {
    if (!req.readableEnded) out.destroy(bodyFailure(req));
  };
  const detach = (): void => {
    req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
  };
  const out = new Readable({
    read() {
      clearStall();
      if (!attached) {
        attached = true;
        onTouched();
        if (prefix !== null && prefix.length > 0) this.push(prefix);
        if (req.readableEnded) {
          this.push(null);
          return;
        }
        if (req.destroyed) {
          this.destroy(bodyFailure(req));
          return;
        }
        req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
        // IncomingMessage decides to emit 'error' a tick before it does; detaching in between
        // (undici dropping this stream) must not leave that emit unheard. Never removed.
        req.on('error', ignore);
      }
      req.resume();
    },
    destroy(error, callback) {
      clearStall();
      if (attached) detach();
      callback(error);
    },
  });
  out.on('error', ignore);
  out.once('end', () => {
    clearStall();
    detach();
  });
  return out;
}
