/**
 * Keeps file_server inside its root. Three layers, each enough on its own for the common attacks:
 * 1. the request path is turned into a relative path of plain segments (no `.`/`..`, no NUL, and on
 *    Windows no `\` or `:`), whatever earlier handlers did to ctx.path;
 * 2. the resolver compares the *real* path (fs.realpath, every symlink resolved) with the real root,
 *    so a symlink in the root pointing outside it is refused (CWE-59, CWE-22);
 * 3. the file is opened by that real path with O_NOFOLLOW and O_NONBLOCK, and on Linux the opened
 *    descriptor's own path (/proc/self/fd) is checked again, closing the window in which a directory
 *    could be swapped for a symlink between the check and the open (CWE-367).
 * Only regular files are ever opened for reading: FIFOs, devices and sockets are refused.
 */
import { constants, existsSync } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fileInfoFromStats, type FileInfo } from './etag.ts';

const WINDOWS = process.platform === 'win32';

/**
 * The request path as a root-relative file path (`a/b.txt`, `''` for the root), or null when it
 * cannot name a file under the root (answered 400).
 */
export function relativeRequestPath(urlPath: string): string | null {
  if (urlPath.charCodeAt(0) !== 47 /* / */) return null;
  if (urlPath.indexOf('\0') !== -1) return null;
  // On Windows `\` separates paths and `:` opens alternate data streams; Caddy refuses both there.
  if (WINDOWS && (urlPath.indexOf('\\') !== -1 || urlPath.indexOf(':') !== -1)) return null;
  if (urlPath.indexOf('/.') === -1 && urlPath.indexOf('//') === -1) {
    const end = urlPath.endsWith('/') ? urlPath.length - 1 : urlPath.length;
    return end <= 1 ? '' : urlPath.slice(1, end);
  }
  const out: string[] = [];
  for (const segment of urlPath.split('/')) {
    if (segment === '') continue;
    // createRequestContext already resolved dot segments; one surviving here came from a rewrite.
    if (segment === '.' || segment === '..') return null;
    out.push(segment);
  }
  return out.join('/');
}

/** A resolved root: the real path and the prefix every path inside it starts with. */
export interface RealRoot {
  readonly real: string;
  readonly prefix: string;
}

/** Builds the RealRoot for a real (symlink-free) directory path. */
export function realRoot(real: string): RealRoot {
  return { real, prefix: real.endsWith(path.sep) ? real : real + path.sep };
}

/** True when `real` is the root itself or lies below it. */
export function isInside(root: RealRoot, real: string): boolean {
  return real === root.real || real.startsWith(root.prefix);
}

/** Whether /proc/self/fd can tell which file a descriptor refers to (Linux). Checked once per factory. */
export function procFdAvailable(): boolean {
  return process.platform === 'linux' && existsSync('/proc/self/fd');
}

// O_NONBLOCK: opening a FIFO for reading would otherwise block a libuv thread forever.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** An open regular file and what fstat says about it. */
export interface OpenedFile {
  handle: FileHandle;
  info: FileInfo;
}

/**
 * Opens a real path already checked to be inside the root, re-verifying after the open.
 * Returns null (and closes) when the file is no longer a regular file inside the root;
 * fs errors (ENOENT, EACCES, EMFILE...) are thrown for the caller to classify.
 */
export async function openVerified(realPath: string, root: RealRoot, useProcFd: boolean): Promise<OpenedFile | null> {
  const handle = await open(realPath, OPEN_FLAGS);
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile()) {
      await handle.close();
      return null;
    }
    if (useProcFd) {
      const actual = await readlink(`/proc/self/fd/${handle.fd}`);
      if (!isInside(root, actual)) {
        await handle.close();
        return null;
      }
    }
    return { handle, info: fileInfoFromStats(realPath, st) };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** How a file system error maps to a response. */
export type FsFailure = 'missing' | 'forbidden' | 'unavailable';

/**
 * ENOENT and friends are 404 (ENOTDIR: `/file.txt/x`, golang/go#18984; ELOOP: symlink loops);
 * EACCES/EPERM are 403 as in Caddy; anything else (EMFILE under load, EIO) is 503.
 */
export function classifyFsError(err: unknown): FsFailure {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ELOOP':
    case 'ENAMETOOLONG':
    case 'EISDIR':
    case 'EINVAL':
      return 'missing';
    case 'EACCES':
    case 'EPERM':
      return 'forbidden';
    default:
      return 'unavailable';
  }
}
