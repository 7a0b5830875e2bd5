/**
 * Maps a request path to what file_server will answer with: a regular file (maybe a directory's
 * index, with its precompressed sidecars), a directory to list, or nothing. Every candidate is
 * resolved to its real path and must stay inside the real root and not be hidden. The result is
 * cached by the caller for up to a second, so this runs at most once per second per path.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileInfoFromStats, type FileInfo } from './etag.ts';
import type { HideCandidate, HidePredicate } from './hide.ts';
import { contentTypeFor } from './mime.ts';
import { SIDECAR_SUFFIX, type Encoding } from './precompressed.ts';
import { classifyFsError, isInside, realRoot, type FsFailure, type RealRoot } from './safe-path.ts';

/** A precompressed sidecar of a file. */
export interface Variant {
  readonly encoding: Encoding;
  readonly file: FileInfo;
  /** The head of a whole 200 of this sidecar (see wholeResponseFields). */
  readonly fields: readonly string[];
}

export interface FileTarget {
  readonly kind: 'file';
  readonly root: RealRoot;
  readonly file: FileInfo;
  /** From the requested (lexical) name, so a symlink `a.css -> blob` is still text/css. */
  readonly contentType: string;
  /** True when the directory's index file was chosen. */
  readonly implicitIndex: boolean;
  /** Existing sidecars, in configured order. */
  readonly variants: readonly Variant[];
  /** The head of a whole 200 of `file` (see wholeResponseFields). */
  readonly fields: readonly string[];
}

export interface DirTarget {
  readonly kind: 'dir';
  readonly root: RealRoot;
  /** Absolute lexical path (root joined with the request path). */
  readonly lexicalPath: string;
  readonly realPath: string;
}

export type Resolution = FileTarget | DirTarget | { readonly kind: FsFailure };

export interface ResolveOptions {
  readonly indexNames: readonly string[];
  readonly encodings: readonly Encoding[];
  readonly hidden: HidePredicate;
}

const MISSING: Resolution = { kind: 'missing' };

/** Resolves `rel` (from relativeRequestPath) under the absolute root directory `rootAbs`. */
export async function resolveTarget(rootAbs: string, rel: string, options: ResolveOptions): Promise<Resolution> {
  let root: RealRoot;
  try {
    root = realRoot(await realpath(rootAbs));
  } catch (err) {
    return { kind: classifyFsError(err) };
  }
  const lexical = rel === '' ? rootAbs : path.join(rootAbs, rel);
  if (options.hidden({ abs: lexical, rel })) return MISSING;
  let real: string;
  let st;
  try {
    real = await realpath(lexical);
    if (!isInside(root, real)) return MISSING;
    if (options.hidden({ abs: real, rel: relativeTo(root, real) })) return MISSING;
    st = await stat(real, { bigint: true });
  } catch (err) {
    return { kind: classifyFsError(err) };
  }
  if (st.isDirectory()) {
    for (const name of options.indexNames) {
      const candidate = { abs: path.join(lexical, name), rel: rel === '' ? name : rel + '/' + name };
      const index = await resolveFile(root, candidate, options.hidden);
      if (index !== null) return fileTarget(root, index, candidate, true, options);
    }
    return { kind: 'dir', root, lexicalPath: lexical, realPath: real };
  }
  if (!st.isFile()) return MISSING; // FIFOs, sockets, devices are never served
  return fileTarget(root, fileInfoFromStats(real, st), { abs: lexical, rel }, false, options);
}

/** Path of `real` relative to the root, with `/` separators. */
export function relativeTo(root: RealRoot, real: string): string {
  const rel = real === root.real ? '' : real.slice(root.prefix.length);
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

/** A regular, visible file inside the root at `lexical`, or null (any error counts as absent). */
async function resolveFile(root: RealRoot, lexical: HideCandidate, hidden: HidePredicate): Promise<FileInfo | null> {
  if (hidden(lexical)) return null;
  try {
    const real = await realpath(lexical.abs);
    if (!isInside(root, real)) return null;
    if (hidden({ abs: real, rel: relativeTo(root, real) })) return null;
    const st = await stat(real, { bigint: true });
    return st.isFile() ? fileInfoFromStats(real, st) : null;
  } catch {
    return null;
  }
}

async function fileTarget(
  root: RealRoot,
  file: FileInfo,
  lexical: HideCandidate,
  implicitIndex: boolean,
  options: ResolveOptions,
): Promise<FileTarget> {
  const contentType = contentTypeFor(path.basename(lexical.abs));
  const variants: Variant[] = [];
  for (const encoding of options.encodings) {
    const suffix = SIDECAR_SUFFIX[encoding];
    const sidecar = await resolveFile(root, { abs: lexical.abs + suffix, rel: lexical.rel + suffix }, options.hidden);
    if (sidecar !== null) variants.push({ encoding, file: sidecar, fields: wholeResponseFields(contentType, encoding, sidecar) });
  }
  return { kind: 'file', root, file, contentType, implicitIndex, variants, fields: wholeResponseFields(contentType, null, file) };
}

/**
 * The fields of a whole-file response, as a flat `[name, value, ...]` list computed once per stat
 * instead of per request: the same fields, in the same order, that file_server sets one by one
 * on its other paths (Vary assumes no earlier handler set one).
 */
export function wholeResponseFields(contentType: string, encoding: Encoding | null, file: FileInfo): string[] {
  const fields = ['Content-Type', contentType, 'Vary', 'Accept-Encoding'];
  if (encoding !== null) fields.push('Content-Encoding', encoding);
  if (file.etag !== '') fields.push('ETag', file.etag);
  if (file.lastModified !== '') fields.push('Last-Modified', file.lastModified);
  fields.push('Accept-Ranges', 'bytes', 'Content-Length', file.contentLength);
  return fields;
}
