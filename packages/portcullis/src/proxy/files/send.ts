/**
 * Writes a file's bytes: from memory (small cached files) or streamed from an open handle, whole,
 * one range (206 + Content-Range) or several (206 multipart/byteranges, RFC 9110 §14.6). Streams
 * are destroyed when the client goes away, so no descriptor outlives its response, and a body
 * that comes up short (the file shrank while being sent) ends the connection instead of leaving
 * the client waiting for bytes promised by Content-Length.
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RequestContext } from '../context.ts';
import { writeHead } from '../response.ts';
import type { ByteRange } from './range.ts';

/** Where the bytes come from: memory, an open file, or nowhere (HEAD). */
export type BodySource = { kind: 'buffer'; body: Buffer } | { kind: 'handle'; handle: FileHandle } | { kind: 'none' };

const CHUNK = 64 * 1024;

/** Sends the whole representation with `status`; Content-Type and validators are already set. */
export async function sendWhole(ctx: RequestContext, status: number, size: number, source: BodySource): Promise<void> {
  const res = ctx.res;
  res.setHeader('Content-Length', String(size));
  writeHead(ctx, status);
  if (source.kind === 'buffer') res.end(source.body);
  else if (source.kind === 'handle') await streamSpan(ctx, source.handle, 0, size - 1, true);
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
  else if (source.kind === 'handle') await streamSpan(ctx, source.handle, range.start, range.end, true);
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
  const handle = source.handle;
  async function* parts(): AsyncGenerator<Buffer> {
    for (let i = 0; i < ranges.length; i++) {
      yield heads[i]!;
      const r = ranges[i]!;
      let sent = 0;
      const stream = handle.createReadStream({ start: r.start, end: r.end, autoClose: false, highWaterMark: CHUNK });
      for await (const chunk of stream) {
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (sent !== r.end - r.start + 1) throw new Error('file changed while sending');
    }
    yield tail;
  }
  try {
    await pipeline(Readable.from(parts()), res);
  } catch (err) {
    abort(ctx, err);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Streams bytes start..end (inclusive) of `handle`, closing it when done or aborted. */
async function streamSpan(ctx: RequestContext, handle: FileHandle, start: number, end: number, last: boolean): Promise<void> {
  const stream = handle.createReadStream({ start, end, highWaterMark: CHUNK });
  try {
    await pipeline(stream, ctx.res, { end: false });
  } catch (err) {
    abort(ctx, err);
    return;
  }
  if (stream.bytesRead !== end - start + 1) {
    abort(ctx, new Error('file changed while sending'));
    return;
  }
  if (last) ctx.res.end();
}

/** The head is out, so an error can only end the connection; a client that left is not news. */
function abort(ctx: RequestContext, err: unknown): void {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code !== 'ERR_STREAM_PREMATURE_CLOSE' && !ctx.res.destroyed) {
    ctx.logger.warn({ err, path: ctx.path, requestId: ctx.id }, 'file_server: sending file failed');
  }
  ctx.res.destroy();
}
