/**
 * Writes a file's bytes: from memory (cached files) or copied from an open handle, whole, one
 * range (206 + Content-Range) or several (206 multipart/byteranges, RFC 9110 §14.6). A copy stops
 * when the client goes away and always closes the handle, so no descriptor outlives its response,
 * and a body that comes up short (the file shrank while being sent) ends the connection instead
 * of leaving the client waiting for bytes promised by Content-Length.
 *
 * Copies go through one buffer per response, reused for every read: the next read starts only
 * once the socket took the previous chunk, so a slow client holds at most CHUNK bytes here and a
 * fast one costs one read and one write syscall per CHUNK, with no stream machinery and no
 * garbage per chunk (fs.createReadStream allocated a fresh 64 KB buffer per read and cost
 * 3-4x the CPU per megabyte on loopback).
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { RequestContext } from '../context.ts';
import { writeHead } from '../response.ts';
import type { ByteRange } from './range.ts';

/** Where the bytes come from: memory, an open file, or nowhere (HEAD). */
export type BodySource = { kind: 'buffer'; body: Buffer } | { kind: 'handle'; handle: FileHandle } | { kind: 'none' };

/** Bytes read (and written) at a time when copying from a handle. */
const CHUNK = 256 * 1024;

/** Sends the whole representation with `status`; Content-Type and validators are already set. */
export async function sendWhole(ctx: RequestContext, status: number, size: number, source: BodySource): Promise<void> {
  const res = ctx.res;
  res.setHeader('Content-Length', String(size));
  writeHead(ctx, status);
  if (source.kind === 'buffer') res.end(source.body);
  else if (source.kind === 'handle') await sendSpans(ctx, source.handle, [{ start: 0, end: size - 1 }], null, null);
  else res.end();
}

/** Sends one range as 206. */
export async function sendRange(ctx: RequestContext, size: number, range: ByteRange, source: BodySource): Promise<void> {
  const res = ctx.res;
  const length = range.end - range.start + 1;
  res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  res.setHeader('Content-Length', String(length));
  writeHead(ctx, 206);
  if (source.kind === 'buffer') res.end(source.body.subarray(range.start, range.end + 1));
  else if (source.kind === 'handle') await sendSpans(ctx, source.handle, [range], null, null);
  else res.end();
}

/** Sends several ranges as one 206 multipart/byteranges body, with an exact Content-Length. */
export async function sendMultipart(
  ctx: RequestContext,
  size: number,
  ranges: readonly ByteRange[],
  contentType: string,
  source: BodySource,
): Promise<void> {
  const res = ctx.res;
  const boundary = randomBytes(12).toString('hex');
  const heads = ranges.map((r, i) =>
    Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  let length = tail.length;
  for (let i = 0; i < ranges.length; i++) length += heads[i]!.length + ranges[i]!.end - ranges[i]!.start + 1;
  res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
  res.setHeader('Content-Length', String(length));
  writeHead(ctx, 206);
  if (source.kind === 'none') {
    res.end();
    return;
  }
  if (source.kind === 'buffer') {
    const pieces: Buffer[] = [];
    ranges.forEach((r, i) => pieces.push(heads[i]!, source.body.subarray(r.start, r.end + 1)));
    pieces.push(tail);
    res.end(Buffer.concat(pieces));
    return;
  }
  await sendSpans(ctx, source.handle, ranges, heads, tail);
}

/**
 * Copies each span of `handle` (preceded by heads[i] and followed by `tail` when given) to the
 * response, ends it, and closes the handle whatever happens.
 */
async function sendSpans(
  ctx: RequestContext,
  handle: FileHandle,
  spans: readonly ByteRange[],
  heads: readonly Buffer[] | null,
  tail: Buffer | null,
): Promise<void> {
  const out = socketWriter(ctx.res);
  try {
    let largest = 0;
    for (const s of spans) largest = Math.max(largest, s.end - s.start + 1);
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, largest)));
    for (let i = 0; i < spans.length; i++) {
      if (heads !== null && !(await out.write(heads[i]!))) return dropConnection(ctx);
      const { start, end } = spans[i]!;
      for (let pos = start; pos <= end; ) {
        const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, end - pos + 1), pos);
        if (bytesRead === 0) throw new Error('file changed while sending');
        // The chunk goes out before the buffer is reused: write() resolves once the socket took it.
        if (!(await out.write(buf.subarray(0, bytesRead)))) return dropConnection(ctx);
        pos += bytesRead;
      }
    }
    if (tail !== null && !(await out.write(tail))) return dropConnection(ctx);
    ctx.res.end();
  } catch (err) {
    abort(ctx, err);
  } finally {
    out.dispose();
    await handle.close().catch(() => {});
  }
}

interface SocketWriter {
  /** Writes a chunk; resolves true once it was handed to the OS, false if the client is gone. */
  write(chunk: Buffer): Promise<boolean>;
  dispose(): void;
}

/** Writes that settle on their callback or on the response closing, whichever comes first. */
function socketWriter(res: ServerResponse): SocketWriter {
  let gone = res.destroyed;
  let settle: ((ok: boolean) => void) | null = null;
  const onClose = (): void => {
    gone = true;
    settle?.(false);
  };
  res.on('close', onClose);
  return {
    write(chunk) {
      if (gone) return Promise.resolve(false);
      return new Promise((resolve) => {
        settle = (ok) => {
          settle = null;
          resolve(ok);
        };
        res.write(chunk, (err) => settle?.(err == null && !gone));
      });
    },
    dispose() {
      res.off('close', onClose);
    },
  };
}

/** The client left (or its socket failed) mid-body: make sure the connection is down, quietly. */
function dropConnection(ctx: RequestContext): void {
  ctx.res.destroy();
}

/** The head is out, so an error can only end the connection; a client that left is not news. */
function abort(ctx: RequestContext, err: unknown): void {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code !== 'ERR_STREAM_PREMATURE_CLOSE' && !ctx.res.destroyed) {
    ctx.logger.warn({ err, path: ctx.path, requestId: ctx.id }, 'file_server: sending file failed');
  }
  ctx.res.destroy();
}
