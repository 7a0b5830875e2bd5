/**
 * `file_server`: static files with Caddy v2's semantics (index files, canonical trailing-slash
 * redirects, browse, hide, precompressed sidecars, ETag/Last-Modified, conditional and range
 * requests, status override, pass_thru). Never reads outside the root: see files/safe-path.ts.
 *
 * Hot path for a cached small file: one Map lookup for the resolution (re-checked on disk at most
 * once a second), one for the bytes, a few setHeader calls, res.end(buffer). No fs call.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { FileServerHandler } from '../../config/types.ts';
import { ErrorCodes, httpError } from '../../kernel/errors.ts';
import type { Handler, Next, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { normalizePath } from '../normalize-path.ts';
import { writeHead, writeHeadWith } from '../response.ts';
import { listingParams, readListing, renderListingHtml, renderListingJson, sortListing } from '../files/browse.ts';
import { evaluatePreconditions, ifRangeAllows } from '../files/conditional.ts';
import { sameFile, type FileInfo } from '../files/etag.ts';
import { createContentCache, createReadBudget, createResolutionCache } from '../files/file-cache.ts';
import { compileHide } from '../files/hide.ts';
import { acceptedEncodings, type Encoding } from '../files/precompressed.ts';
import { parseRange } from '../files/range.ts';
import { resolveTarget, type DirTarget, type FileTarget, type Resolution, type ResolveOptions } from '../files/resolve.ts';
import { classifyFsError, openVerified, procFdAvailable, relativeRequestPath, type FsFailure } from '../files/safe-path.ts';
import { sendMultipart, sendRange, sendWhole, type BodySource } from '../files/send.ts';

/**
 * Files up to this size are read whole, kept in memory and sent with one write: on loopback a
 * cached 1 MB file went out 4x faster than streamed, at no memory per response (the buffer is
 * shared). Larger files are streamed through a 256 KB buffer (files/send.ts).
 */
const MAX_CACHED_FILE = 1024 * 1024;
/** Memory for cached file contents, per file_server handler. */
const MAX_CACHED_TOTAL = 32 * 1024 * 1024;
/** Memory for whole-file reads still being sent, per file_server handler (see createReadBudget). */
const MAX_READS_IN_FLIGHT = 32 * 1024 * 1024;
/** Paths whose resolution is remembered (found or not). */
const MAX_RESOLUTIONS = 10_000;
/** Distinct `root` values remembered in their absolute form. */
const MAX_DYNAMIC_ROOTS = 256;
/** What a handler that answered synchronously returns. */
const DONE: Promise<void> = Promise.resolve();

/** Compiles a file_server handler. */
export function createFileServer(config: FileServerHandler, deps: HandlerDeps): Handler {
  const staticRoot = config.root !== undefined && config.root !== '' ? path.resolve(config.root) : null;
  const cwdRoot = path.resolve('.');
  const hidden = compileHide(config.hide, alwaysHidden(deps.configFile));
  const resolveOptions: ResolveOptions = {
    indexNames: [...config.index_names],
    encodings: [...config.precompressed],
    hidden,
  };
  const encodings: readonly Encoding[] = resolveOptions.encodings;
  const browse = config.browse !== null && config.browse.enabled;
  const passThru = config.pass_thru;
  const statusOverride = config.status_code ?? 0;
  const clock = deps.clock;
  const useProcFd = procFdAvailable();
  const resolutions = createResolutionCache(MAX_RESOLUTIONS);
  const contents = createContentCache(MAX_CACHED_FILE, MAX_CACHED_TOTAL);
  const readBudget = createReadBudget(MAX_READS_IN_FLIGHT);
  const dynamicRoots = new Map<string, string>();
  /** The first root a `root` directive gave (rootOf), whose resolutions are keyed by path alone. */
  let firstRoot: string | null = null;
  deps.onDispose(() => {
    resolutions.clear();
    contents.clear();
  });

  function rootOf(ctx: RequestContext): string {
    if (staticRoot !== null) return staticRoot;
    const root = ctx.vars.root;
    if (typeof root !== 'string' || root === '') return cwdRoot;
    let abs = dynamicRoots.get(root);
    if (abs === undefined) {
      abs = path.resolve(root);
      if (dynamicRoots.size >= MAX_DYNAMIC_ROOTS) dynamicRoots.clear();
      dynamicRoots.set(root, abs);
    }
    return abs;
  }

  function notFound(next: Next): Promise<void> {
    if (passThru) return next();
    throw httpError(404, 'not found', ErrorCodes.ERR_HTTP_NOT_FOUND);
  }

  function fail(kind: FsFailure, ctx: RequestContext, next: Next): Promise<void> {
    if (kind === 'missing') return notFound(next);
    if (kind === 'forbidden') throw httpError(403, 'forbidden', ErrorCodes.ERR_HTTP_FORBIDDEN);
    // Out of descriptors or a flaky disk: ask the client to come back, as Caddy does.
    throw httpError(503, 'file temporarily unavailable', ErrorCodes.ERR_HTTP_UNAVAILABLE, { 'Retry-After': '2' });
  }

  /** Status for a successful response: the override, else the error being handled, else 200. */
  function successStatus(ctx: RequestContext): number {
    if (statusOverride !== 0) return statusOverride;
    return ctx.error !== null ? ctx.error.status : 200;
  }

  function rejectMethod(ctx: RequestContext): void {
    // In handle_errors routes the file is the error page, whatever the method (Caddy #5703).
    if (ctx.error !== null || ctx.method === 'GET' || ctx.method === 'HEAD') return;
    throw httpError(405, 'method not allowed', ErrorCodes.ERR_HTTP_METHOD_NOT_ALLOWED, { Allow: 'GET, HEAD' });
  }

  /**
   * Everything up to the body is synchronous; a whole 200 (or HEAD) of a cached file with no
   * Range and no Vary set earlier is answered right here with its precomputed head, and only
   * what needs the disk or a range goes on to sendFile.
   */
  function serveFile(ctx: RequestContext, target: FileTarget, key: string, next: Next): Promise<void> {
    if (canonicalRedirect(ctx, target.implicitIndex)) return DONE;
    rejectMethod(ctx);
    const res = ctx.res;
    const req = ctx.req;

    let file = target.file;
    let encoding: Encoding | null = null;
    let fields = target.fields;
    if (target.variants.length > 0) {
      const accepted = acceptedEncodings(headerString(req.headers['accept-encoding']), encodings);
      for (const enc of accepted) {
        const variant = target.variants.find((v) => v.encoding === enc);
        if (variant !== undefined) {
          file = variant.file;
          encoding = enc;
          fields = variant.fields;
          break;
        }
      }
    }

    // Conditionals and ranges only make sense for a plain 200; an error page or a forced status
    // is always sent whole.
    const plain = statusOverride === 0 && ctx.error === null;
    if (plain) {
      const outcome = evaluatePreconditions(req.headers, true, file.etag, file.lastModifiedSec);
      if (outcome === 412) throw httpError(412, 'precondition failed', ErrorCodes.ERR_HTTP_PRECONDITION_FAILED);
      if (outcome === 304) {
        // RFC 9110 §15.4.5: validators and Vary, no representation metadata.
        addVary(ctx, 'Accept-Encoding');
        if (file.etag !== '') res.setHeader('ETag', file.etag);
        else if (file.lastModified !== '') res.setHeader('Last-Modified', file.lastModified);
        writeHead(ctx, 304);
        res.end();
        return DONE;
      }
    }

    if ((!plain || req.headers.range === undefined) && !res.hasHeader('vary')) {
      if (ctx.method === 'HEAD') {
        writeHeadWith(ctx, successStatus(ctx), fields, file.size);
        res.end();
        return DONE;
      }
      const cached = file.size <= MAX_CACHED_FILE ? contents.get(file) : undefined;
      if (cached !== undefined) {
        writeHeadWith(ctx, successStatus(ctx), fields, file.size);
        res.end(cached);
        return DONE;
      }
    }
    return sendFile(ctx, target, key, next, file, encoding, plain);
  }

  /** The rest of serveFile: reads from disk, ranges, and heads that merge with fields set earlier. */
  async function sendFile(
    ctx: RequestContext,
    target: FileTarget,
    key: string,
    next: Next,
    file: FileInfo,
    encoding: Encoding | null,
    plain: boolean,
  ): Promise<void> {
    const res = ctx.res;
    const req = ctx.req;
    let source: BodySource = { kind: 'none' };
    let info: FileInfo = file;
    if (ctx.method !== 'HEAD') {
      const cached = file.size <= MAX_CACHED_FILE ? contents.get(file) : undefined;
      if (cached !== undefined) source = { kind: 'buffer', body: cached };
      else {
        const loaded = await load(ctx, target, file);
        if (typeof loaded === 'string') {
          resolutions.invalidate(key);
          return fail(loaded, ctx, next);
        }
        info = loaded.info;
        source = loaded.source;
        if (!sameFile(info, file)) resolutions.invalidate(key);
      }
    }

    try {
      res.setHeader('Content-Type', target.contentType);
      addVary(ctx, 'Accept-Encoding');
      if (encoding !== null) res.setHeader('Content-Encoding', encoding);
      if (info.etag !== '') res.setHeader('ETag', info.etag);
      if (info.lastModified !== '') res.setHeader('Last-Modified', info.lastModified);
      res.setHeader('Accept-Ranges', 'bytes');

      const rangeHeader = req.headers.range;
      if (plain && rangeHeader !== undefined && ifRangeAllows(headerString(req.headers['if-range']), info.etag, info.lastModifiedSec)) {
        const request = parseRange(rangeHeader, info.size);
        if (request.kind === 'unsatisfiable') {
          for (const name of ['Content-Type', 'Content-Encoding', 'ETag', 'Last-Modified', 'Accept-Ranges']) res.removeHeader(name);
          // RFC 9110 §15.5.17: a 416 names the current length.
          throw httpError(416, 'range not satisfiable', ErrorCodes.ERR_HTTP_RANGE, { 'Content-Range': `bytes */${info.size}` });
        }
        if (request.kind === 'ranges') {
          const sending = source;
          source = { kind: 'none' }; // handed over: the sender closes it
          if (request.ranges.length === 1) return await sendRange(ctx, info.size, request.ranges[0]!, sending);
          return await sendMultipart(ctx, info.size, request.ranges, target.contentType, sending);
        }
      }
      const sending = source;
      source = { kind: 'none' };
      return await sendWhole(ctx, successStatus(ctx), info.size, sending);
    } finally {
      if (source.kind === 'handle') await source.handle.close().catch(() => {});
    }
  }

  /** Opens the file (re-verified), reading cacheable ones into memory and the cache while the read budget allows. */
  async function load(ctx: RequestContext, target: FileTarget, file: FileInfo): Promise<FsFailure | { info: FileInfo; source: BodySource }> {
    let opened;
    try {
      opened = await openVerified(file.realPath, target.root, useProcFd);
    } catch (err) {
      const kind = classifyFsError(err);
      if (kind === 'unavailable') ctx.logger.warn({ err, path: ctx.path }, 'file_server: cannot open file');
      return kind;
    }
    if (opened === null) return 'missing';
    const { handle, info } = opened;
    // A response that already closed would never give its claim back ('close' has been emitted).
    if (info.size > MAX_CACHED_FILE || ctx.res.destroyed || !readBudget.take(info.size)) return { info, source: { kind: 'handle', handle } };
    const claimed = info.size;
    ctx.res.once('close', () => readBudget.give(claimed));
    try {
      const body = Buffer.allocUnsafe(info.size);
      let filled = 0;
      while (filled < info.size) {
        const { bytesRead } = await handle.read(body, filled, info.size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === info.size) {
        contents.set(info, body);
        return { info, source: { kind: 'buffer', body } };
      }
      // Shrank between fstat and read: send what is there, uncached, with its real length.
      const short = { ...info, size: filled, contentLength: String(filled), etag: '', lastModified: '', lastModifiedSec: Number.NaN };
      return { info: short, source: { kind: 'buffer', body: body.subarray(0, filled) } };
    } catch (err) {
      ctx.logger.warn({ err, path: ctx.path }, 'file_server: reading file failed');
      return 'unavailable';
    } finally {
      await handle.close().catch(() => {});
    }
  }

  async function serveDirectory(ctx: RequestContext, dir: DirTarget, rel: string, next: Next): Promise<void> {
    if (!browse) return notFound(next);
    if (canonicalRedirect(ctx, true)) return;
    rejectMethod(ctx);
    let items;
    try {
      items = await readListing(dir, rel, hidden);
    } catch (err) {
      return fail(classifyFsError(err), ctx, next);
    }
    const { sort, order, limit, offset } = listingParams(ctx.query);
    const listed = sortListing(items, sort, order, limit, offset);
    const accept = headerString(ctx.req.headers.accept) ?? '';
    const json = accept.toLowerCase().includes('application/json');
    const urlPath = ctx.path.endsWith('/') ? ctx.path : ctx.path + '/';
    const body = Buffer.from(json ? renderListingJson(listed) : renderListingHtml(urlPath, listed, sort, order));
    const res = ctx.res;
    res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8');
    res.setHeader('Content-Length', String(body.length));
    addVary(ctx, 'Accept');
    writeHead(ctx, successStatus(ctx));
    res.end(ctx.method === 'HEAD' ? undefined : body);
  }

  function serveTarget(ctx: RequestContext, target: Resolution, key: string, rel: string, next: Next): Promise<void> {
    switch (target.kind) {
      case 'file':
        return serveFile(ctx, target, key, next);
      case 'dir':
        return serveDirectory(ctx, target, rel, next);
      default:
        return fail(target.kind, ctx, next);
    }
  }

  async function resolveAndServe(ctx: RequestContext, root: string, rel: string, key: string, now: number, next: Next): Promise<void> {
    const target = await resolutions.load(key, now, () => resolveTarget(root, rel, resolveOptions));
    return serveTarget(ctx, target, key, rel, next);
  }

  // Not async: a cached file is answered without a promise of its own. Errors still reach the
  // caller as a rejected promise, as from any handler.
  return function fileServer(ctx: RequestContext, next: Next): Promise<void> {
    try {
      const rel = relativeRequestPath(ctx.path);
      if (rel === null) throw httpError(400, 'invalid file path', ErrorCodes.ERR_HTTP_BAD_REQUEST);
      const root = rootOf(ctx);
      // Keyed by the path alone for the one root most configs have (`root * /srv`): a key built
      // per request is a new string to hash. Other roots prefix theirs; a path has no NUL.
      const key = staticRoot !== null || root === (firstRoot ??= root) ? rel : root + '\0' + rel;
      const now = clock.now();
      const target = resolutions.fresh(key, now);
      if (target !== undefined) return serveTarget(ctx, target, key, rel, next);
      return resolveAndServe(ctx, root, rel, key, now, next);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/** The config file by the path given and by its real path: never served, whatever `hide` says. */
function alwaysHidden(configFile: string | null): string[] {
  if (configFile === null || configFile === '') return [];
  const abs = path.resolve(configFile);
  try {
    return [abs, realpathSync(abs)];
  } catch {
    return [abs];
  }
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Adds a field name to Vary unless it (or `*`) is already there. */
function addVary(ctx: RequestContext, name: string): void {
  const res = ctx.res;
  const existing = res.getHeader('vary');
  if (existing === undefined) {
    res.setHeader('Vary', name);
    return;
  }
  const current = Array.isArray(existing) ? existing.join(', ') : String(existing);
  const lower = name.toLowerCase();
  for (const field of current.split(',')) {
    const f = field.trim().toLowerCase();
    if (f === lower || f === '*') return;
  }
  res.setHeader('Vary', current === '' ? name : `${current}, ${name}`);
}

/**
 * Caddy's canonical URIs: a directory is served at a path ending in `/`, a file at one that does
 * not. Judged on the path the client sent, and skipped when a rewrite changed the last segment,
 * so an explicit rewrite is never fought with a redirect loop (caddyserver/caddy#4205).
 * Returns true when a 308 was sent.
 */
function canonicalRedirect(ctx: RequestContext, wantSlash: boolean): boolean {
  const current = ctx.path;
  const original = originalPath(ctx);
  if (original === null || original.endsWith('/') === wantSlash) return false;
  if (lastSegment(original) !== lastSegment(current)) return false;
  const to = wantSlash ? original + '/' : original.slice(0, -1);
  if (to === '') return false;
  redirect(ctx, to);
  return true;
}

/** The normalised path of the request as received; ctx.path itself when nothing rewrote it. */
function originalPath(ctx: RequestContext): string | null {
  const uri = ctx.originalUri;
  const raw = ctx.rawPath;
  if (uri === raw || (uri.startsWith(raw) && uri.charCodeAt(raw.length) === 63 /* ? */)) return ctx.path;
  const q = uri.indexOf('?');
  return normalizePath(q === -1 ? uri : uri.slice(0, q));
}

function lastSegment(p: string): string {
  const trimmed = p.endsWith('/') ? p.slice(0, -1) : p;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * 308 to a same-origin path. Each segment is percent-encoded, so a directory literally named
 * `\evil.com` cannot produce `Location: /\evil.com/`, which browsers read as `//evil.com/`
 * (open redirect); leading `//` is collapsed for the same reason.
 */
function redirect(ctx: RequestContext, to: string): void {
  let location = to
    .split('/')
    .map((segment) => encodeURIComponent(segment.toWellFormed()))
    .join('/');
  while (location.startsWith('//')) location = location.slice(1);
  if (ctx.query !== '') location += '?' + ctx.query.toWellFormed().replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
  const res = ctx.res;
  res.setHeader('Location', location);
  res.setHeader('Content-Length', '0');
  writeHead(ctx, 308);
  res.end();
}
