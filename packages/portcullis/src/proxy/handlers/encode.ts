/**
 * The `encode` handler (Caddy's http.handlers.encode): compresses responses with gzip, br or
 * zstd as the client's Accept-Encoding allows (RFC 9110 section 12.5.3), by wrapping
 * ctx.res.writeHead/write/end for the rest of the chain, so every later handler (file_server,
 * reverse_proxy, respond, error pages) is covered without knowing.
 *
 * Left alone: HEAD, 1xx/204/206/304, responses already carrying Content-Encoding or
 * Content-Range, `Cache-Control: no-transform` (RFC 9111 section 5.2.2.6), types that do not
 * compress (images, video, archives, woff2), and bodies under minimum_length. The length is
 * read from Content-Length when set; otherwise the first minimum_length bytes are held back
 * until the decision can be made (or the stream pauses for a turn of the event loop, so a slow
 * stream is never stalled waiting to fill the threshold). Event streams are compressed at once
 * and every burst of writes is flushed through the compressor, so SSE keeps working.
 *
 * A compressed response loses Content-Length and Accept-Ranges, gains `Content-Encoding` and
 * `Vary: Accept-Encoding`, and a strong ETag becomes weak (`W/"..."`, as nginx does): the bytes
 * differ, and a weak validator still lets If-None-Match revalidate (RFC 9110 section 8.8.1).
 *
 * Compression over TLS leaks secrets that sit next to attacker-reflected input in one body
 * (BREACH, CVE-2013-3587); as in Caddy, whether a route's pages are safe to compress is the
 * operator's call, made by where `encode` is placed.
 */
import zlib from 'node:zlib';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Transform } from 'node:stream';
import type { EncodeHandler } from '../../config/types.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';

type Encoding = 'gzip' | 'br' | 'zstd';

/** zlib's compressors: a Transform that can also flush without ending. */
type Compressor = Transform & { flush(kind?: number, callback?: () => void): void };

interface Codec {
  create(sizeHint: number | null): Compressor;
  /** The flush kind that emits everything written so far without ending the stream. */
  flushKind: number;
}

const DEFAULT_MINIMUM_LENGTH = 512;

/** Compiles an `encode` handler config into a handler. */
export function createEncode(config: EncodeHandler, deps: HandlerDeps): Handler {
  const codecs = new Map<Encoding, Codec>();
  for (const encoding of config.encodings) {
    const codec = makeCodec(encoding, config.levels?.[encoding]);
    if (codec === null) {
      deps.logger.warn({ encoding }, 'encode: this Node.js build has no zstd; skipping it');
      continue;
    }
    codecs.set(encoding, codec);
  }
  const offered = [...codecs.keys()];
  const minLength = Number.isFinite(config.minimum_length) && config.minimum_length >= 0 ? config.minimum_length : DEFAULT_MINIMUM_LENGTH;

  // Browsers send the same few Accept-Encoding strings; remember the last answer.
  let lastHeader: string | undefined;
  let lastChoice: Encoding | null = null;
  const choose = (header: string | undefined): Encoding | null => {
    if (header !== lastHeader) {
      lastHeader = header;
      lastChoice = negotiateEncoding(header, offered) as Encoding | null;
    }
    return lastChoice;
  };

  return (ctx, next) => {
    const raw = ctx.req.headers['accept-encoding'];
    const encoding = choose(Array.isArray(raw) ? raw.join(',') : raw);
    if (encoding === null) installVaryOnly(ctx);
    else installEncoder(ctx, encoding, codecs.get(encoding)!, minLength);
    return next();
  };
}

function makeCodec(encoding: Encoding, level: number | undefined): Codec | null {
  const c = zlib.constants;
  switch (encoding) {
    case 'gzip': {
      const lvl = checkLevel(encoding, level, 1, 9) ?? 5;
      return { create: () => zlib.createGzip({ level: lvl }), flushKind: c.Z_SYNC_FLUSH };
    }
    case 'br': {
      // Quality 11 (the library default) is for precompressing files; on the fly it costs
      // far more CPU than it saves bytes. 4 is what CDNs use for dynamic content.
      const quality = checkLevel(encoding, level, 0, 11) ?? 4;
      return {
        create: (sizeHint) =>
          zlib.createBrotliCompress({
            params: {
              [c.BROTLI_PARAM_QUALITY]: quality,
              [c.BROTLI_PARAM_MODE]: c.BROTLI_MODE_TEXT,
              ...(sizeHint === null ? {} : { [c.BROTLI_PARAM_SIZE_HINT]: sizeHint }),
            },
          }),
        flushKind: c.BROTLI_OPERATION_FLUSH,
      };
    }
    case 'zstd': {
      if (typeof zlib.createZstdCompress !== 'function') return null;
      const lvl = checkLevel(encoding, level, -7, 22) ?? 3;
      return {
        create: () => zlib.createZstdCompress({ params: { [c.ZSTD_c_compressionLevel]: lvl } }),
        flushKind: c.ZSTD_e_flush,
      };
    }
    default:
      throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `encode: unknown encoding '${String(encoding)}'`);
  }
}

function checkLevel(encoding: string, level: number | undefined, min: number, max: number): number | undefined {
  if (level === undefined) return undefined;
  if (!Number.isInteger(level) || level < min || level > max) {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `encode: ${encoding} level must be an integer from ${min} to ${max}`);
  }
  return level;
}

const QVALUE = /^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/;

/**
 * Picks the coding to use from an Accept-Encoding value (RFC 9110 section 12.5.3): the highest
 * q among `offered` (`*` covers codings not named, `q=0` refuses, `x-gzip` is gzip); ties go to
 * the earlier entry of `offered`. Null when none is acceptable. Exported for file_server's
 * precompressed files.
 */
export function negotiateEncoding(header: string | undefined, offered: readonly string[]): string | null {
  if (header === undefined || header === '' || offered.length === 0) return null;
  const q = new Map<string, number>();
  let star = -1;
  for (const part of header.split(',')) {
    const semi = part.indexOf(';');
    let name = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    if (name === '') continue;
    if (name === 'x-gzip') name = 'gzip';
    let quality = 1;
    if (semi !== -1) {
      for (const param of part.slice(semi + 1).split(';')) {
        const eq = param.indexOf('=');
        if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
        const v = param.slice(eq + 1).trim();
        // A malformed weight is not a reason to guess: treat the coding as refused.
        quality = QVALUE.test(v) ? Number(v) : 0;
      }
    }
    if (name === '*') star = Math.max(star, quality);
    else q.set(name, Math.max(q.get(name) ?? 0, quality));
  }
  let best: string | null = null;
  let bestQ = 0;
  for (const coding of offered) {
    const quality = q.get(coding) ?? (star >= 0 ? star : 0);
    if (quality > bestQ) {
      best = coding;
      bestQ = quality;
    }
  }
  return best;
}

const COMPRESSIBLE = new Set([
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/json',
  'application/x-ndjson',
  'application/xml',
  'application/wasm',
  'application/graphql',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/x-sh',
  'application/sql',
  'application/x-protobuf',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'application/x-font-opentype',
  'application/font-sfnt',
  'application/x-ttf',
  'application/x-otf',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/bmp',
]);

/** Whether a Content-Type is worth compressing: text, JSON/XML families, wasm, svg, raw fonts. */
export function isCompressibleType(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type.startsWith('text/')) return true;
  if (COMPRESSIBLE.has(type)) return true;
  if (type.endsWith('+json') || type.endsWith('+xml')) return true;
  // woff and woff2 are compressed formats already; ttf and otf are not.
  return type.startsWith('font/') && type !== 'font/woff' && type !== 'font/woff2';
}

function headerString(res: ServerResponse, name: string): string | undefined {
  const v = res.getHeader(name);
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : String(v);
}

/** Adds `Accept-Encoding` to Vary unless it (or `*`) is there. */
function addVary(res: ServerResponse): void {
  const vary = headerString(res, 'vary');
  if (vary === undefined || vary.trim() === '') {
    res.setHeader('Vary', 'Accept-Encoding');
    return;
  }
  if (/(^|,)\s*(\*|accept-encoding)\s*(,|$)/i.test(vary)) return;
  res.setHeader('Vary', `${vary}, Accept-Encoding`);
}

/** Whether the response could have been encoded for another client: the caches must know. */
function variesByEncoding(res: ServerResponse, status: number): boolean {
  if (res.getHeader('content-encoding') !== undefined) return false;
  const type = headerString(res, 'content-type');
  // A 304 repeats the Vary its 200 would carry (RFC 9110 section 15.4.5); it rarely has a type.
  if (type === undefined) return status === 304;
  return isCompressibleType(type);
}

/** Whether this response may be compressed at all, given that its type is compressible. */
function mayCompress(ctx: RequestContext, res: ServerResponse, status: number): boolean {
  if (ctx.method === 'HEAD') return false;
  if (status < 200 || status === 204 || status === 206 || status === 304) return false;
  if (res.getHeader('content-range') !== undefined) return false;
  const cacheControl = headerString(res, 'cache-control');
  return cacheControl === undefined || !/(^|,)\s*no-transform\s*(,|$)/i.test(cacheControl);
}

function declaredLength(res: ServerResponse): number | null {
  const v = headerString(res, 'content-length');
  return v !== undefined && /^[0-9]+$/.test(v.trim()) ? Number(v.trim()) : null;
}

type WriteHead = ServerResponse['writeHead'];
type Loose = (this: ServerResponse, ...args: unknown[]) => unknown;

/** Applies writeHead's optional headers argument (object or raw [k, v, ...] list) via setHeader. */
function applyHeadArgs(res: ServerResponse, args: unknown[]): string | undefined {
  let reason: string | undefined;
  let headers: unknown = args[0];
  if (typeof args[0] === 'string') {
    reason = args[0];
    headers = args[1];
  }
  if (Array.isArray(headers)) {
    const flat: unknown[] = Array.isArray(headers[0]) ? (headers as unknown[][]).flat() : headers;
    const grouped = new Map<string, string[]>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = String(flat[i]);
      const list = grouped.get(name.toLowerCase()) ?? [];
      list.push(String(flat[i + 1]));
      grouped.set(name.toLowerCase(), list);
      if (list.length === 1) res.setHeader(name, list[0]!);
      else res.setHeader(name, list);
    }
  } else if (headers !== null && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (value !== undefined) res.setHeader(name, value);
    }
  }
  return reason;
}

/** No acceptable coding: the response goes out as it is, plus Vary where it matters. */
function installVaryOnly(ctx: RequestContext): void {
  const res = ctx.res;
  const original = res.writeHead as unknown as Loose;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    const reason = applyHeadArgs(res, rest);
    if (status >= 200 && variesByEncoding(res, status)) addVary(res);
    return reason === undefined ? original.call(res, status) : original.call(res, status, reason);
  } as WriteHead;
}

type Callback = (error?: Error | null) => void;
interface Pending {
  chunk: Buffer;
  callback: Callback | undefined;
}

function toBuffer(chunk: unknown, encoding: BufferEncoding | undefined): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  const view = chunk as Uint8Array;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function headersSentError(): Error {
  return Object.assign(new Error('Cannot write headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

function writeAfterEndError(): Error {
  return Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' });
}

/**
 * Wraps ctx.res. States: `pending` (no head yet), `holding` (head known, waiting for enough body
 * to decide), `pass` (sent as is), `compress` (through the compressor).
 */
function installEncoder(ctx: RequestContext, encoding: Encoding, codec: Codec, minLength: number): void {
  const res = ctx.res;
  // Loosely typed: Node's overloads do not survive forwarding whatever arguments arrive.
  const orig = {
    writeHead: res.writeHead as unknown as Loose,
    write: res.write as unknown as Loose,
    end: res.end as unknown as Loose,
    flushHeaders: res.flushHeaders as unknown as Loose | undefined,
  };
  let state: 'pending' | 'holding' | 'pass' | 'compress' = 'pending';
  let status = 200;
  let held: Pending[] = [];
  let heldBytes = 0;
  let ending = false;
  let endCallback: (() => void) | undefined;
  let compressor: Compressor | null = null;
  let streaming = false;
  let decideTimer: NodeJS.Immediate | null = null;
  let flushTimer: NodeJS.Immediate | null = null;
  let waitingDrain = false;

  Object.defineProperty(res, 'headersSent', { configurable: true, get: () => state !== 'pending' });

  const startHead = (): void => {
    orig.writeHead.call(res, status);
  };

  const goPass = (): void => {
    state = 'pass';
    clearDecideTimer();
    if (ending && declaredLength(res) === null && res.getHeader('transfer-encoding') === undefined && ctx.method !== 'HEAD' && status !== 204 && status !== 304) {
      res.setHeader('Content-Length', heldBytes);
    }
    startHead();
    const queue = held;
    held = [];
    for (const p of queue) orig.write.call(res, p.chunk, p.callback);
    if (ending) orig.end.call(res, endCallback);
  };

  const resumeOnDrain = (): void => {
    waitingDrain = false;
    compressor?.resume();
  };

  const goCompress = (): void => {
    state = 'compress';
    clearDecideTimer();
    const length = declaredLength(res);
    res.removeHeader('Content-Length');
    res.removeHeader('Accept-Ranges');
    res.setHeader('Content-Encoding', encoding);
    addVary(res);
    const etag = res.getHeader('etag');
    if (typeof etag === 'string' && etag.startsWith('"')) res.setHeader('ETag', `W/${etag}`);
    startHead();
    const c = codec.create(length ?? (ending ? heldBytes : null));
    compressor = c;
    let sent = 0;
    c.on('data', (out: Buffer) => {
      sent += out.length;
      if (!orig.write.call(res, out) && !waitingDrain) {
        waitingDrain = true;
        c.pause();
        res.once('drain', resumeOnDrain);
      }
    });
    c.on('end', () => {
      // The access log's `size` is what went out: the compressed length.
      ctx.contentLength = sent;
      orig.end.call(res, endCallback);
    });
    c.on('error', (error: Error) => {
      ctx.logger.debug({ id: ctx.id, err: error }, 'encode: compressor failed');
      res.destroy(error);
    });
    // Our own writers (pipe, undici's dispatcher) wait for 'drain' on res when write said no.
    c.on('drain', () => res.emit('drain'));
    const queue = held;
    held = [];
    for (const p of queue) c.write(p.chunk, p.callback);
    if (ending) c.end();
    else scheduleFlush();
  };

  const clearDecideTimer = (): void => {
    if (decideTimer !== null) clearImmediate(decideTimer);
    decideTimer = null;
  };

  /** Streams whose length is unknown get what was written so far pushed out after each burst. */
  const scheduleFlush = (): void => {
    if (!streaming || flushTimer !== null || ending) return;
    flushTimer = setImmediate(() => {
      flushTimer = null;
      if (compressor !== null && !ending && !compressor.destroyed) compressor.flush(codec.flushKind);
    });
  };

  /** The head is known: decide, or hold the body until minLength bytes (or the end) arrive. */
  const decide = (): void => {
    if (!variesByEncoding(res, status)) return goPass();
    addVary(res);
    if (!mayCompress(ctx, res, status)) return goPass();
    const length = declaredLength(res) ?? (ending ? heldBytes : null);
    if (length !== null) return length < minLength ? goPass() : goCompress();
    streaming = true;
    if (/^\s*text\/event-stream/i.test(headerString(res, 'content-type') ?? '')) return goCompress();
    if (heldBytes >= minLength) return goCompress();
    state = 'holding';
  };

  const wrappedWriteHead = function (this: ServerResponse, code: number, ...rest: unknown[]) {
    if (state !== 'pending') {
      if (state === 'pass' && code < 200) return orig.writeHead.call(res, code, ...rest) as ServerResponse;
      throw headersSentError();
    }
    const reason = applyHeadArgs(res, rest);
    res.statusCode = code;
    if (reason !== undefined) res.statusMessage = reason;
    status = code;
    if (code < 200) {
      // Interim responses pass straight through; the final head comes later.
      return orig.writeHead.call(res, code, ...rest) as ServerResponse;
    }
    decide();
    return res;
  } as WriteHead;
  res.writeHead = wrappedWriteHead;

  res.write = function (this: ServerResponse, chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean {
    const enc = typeof encodingOrCallback === 'string' ? (encodingOrCallback as BufferEncoding) : undefined;
    const cb = (typeof encodingOrCallback === 'function' ? encodingOrCallback : callback) as Callback | undefined;
    if (state === 'pending') wrappedWriteHead.call(res, res.statusCode);
    if (state === 'pass') return orig.write.call(res, chunk, enc, cb) as boolean;
    if (ending) {
      if (cb) process.nextTick(cb, writeAfterEndError());
      return false;
    }
    if (state === 'compress') {
      if (compressor!.destroyed) {
        if (cb) process.nextTick(cb, writeAfterEndError());
        return false;
      }
      const ok = compressor!.write(toBuffer(chunk, enc), cb);
      scheduleFlush();
      return ok;
    }
    const buffer = toBuffer(chunk, enc);
    held.push({ chunk: buffer, callback: cb });
    heldBytes += buffer.length;
    if (heldBytes >= minLength) {
      goCompress();
      return compressor !== null && !compressor.writableNeedDrain;
    }
    // Do not wait for more than one turn of the event loop: a trickling stream must flow.
    decideTimer ??= setImmediate(() => {
      decideTimer = null;
      if (state === 'holding') goCompress();
    });
    return true;
  } as ServerResponse['write'];

  res.end = function (this: ServerResponse, chunk?: unknown, encodingOrCallback?: unknown, callback?: unknown): ServerResponse {
    let data = chunk;
    let enc = typeof encodingOrCallback === 'string' ? (encodingOrCallback as BufferEncoding) : undefined;
    let cb = (typeof encodingOrCallback === 'function' ? encodingOrCallback : callback) as (() => void) | undefined;
    if (typeof chunk === 'function') {
      cb = chunk as () => void;
      data = undefined;
      enc = undefined;
    }
    if (state === 'pass') return orig.end.call(res, data, enc, cb) as ServerResponse;
    if (ending) return res;
    const buffer = data === undefined || data === null ? null : toBuffer(data, enc);
    if (state === 'compress') {
      ending = true;
      endCallback = cb;
      if (flushTimer !== null) clearImmediate(flushTimer);
      compressor!.end(buffer ?? undefined);
      return res;
    }
    if (buffer !== null) {
      held.push({ chunk: buffer, callback: undefined });
      heldBytes += buffer.length;
    }
    ending = true;
    endCallback = cb;
    if (state === 'pending') wrappedWriteHead.call(res, res.statusCode);
    else decide();
    return res;
  } as ServerResponse['end'];

  res.flushHeaders = function (this: ServerResponse): void {
    if (state === 'pending') wrappedWriteHead.call(res, res.statusCode);
    // Someone wants the head out now: like Caddy on Flush, assume a long body and compress.
    if (state === 'holding') goCompress();
    orig.flushHeaders?.call(res);
  };

  res.once('close', () => {
    clearDecideTimer();
    if (flushTimer !== null) clearImmediate(flushTimer);
    if (compressor !== null && !compressor.writableFinished) compressor.destroy();
  });
}
