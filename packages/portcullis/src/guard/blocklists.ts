/**
 * `guard { blocklist <file>... }`: files of addresses and CIDRs to refuse, one a line, `#`
 * comments, blank lines skipped. A line that is not an address is logged with its file:line
 * and skipped (a list fetched from elsewhere must not take the whole list down with one bad
 * line); a file that cannot be read, or is past the size bounds, fails the config load.
 *
 * The files outlive reloads: each is watched (its directory, so an editor's or a cron job's
 * replace-by-rename is seen too) and re-read a moment after it changes, and a config reload
 * re-reads the ones whose modification time, size or inode changed. A re-read that fails
 * keeps the previous contents and logs why.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import { formatIpPrefix, parseIpPrefix, type IpPrefix } from './ip-prefix.ts';
import { createIpSet, type IpSet } from './ip-set.ts';

/** One list's answer to the gate. */
export interface BlocklistHit {
  /** The file, as configured (absolute). */
  readonly path: string;
  /** `blocklist:<path>`, made once. */
  readonly reason: string;
}

/** The lists one config names. */
export interface Blocklists {
  /** The first list (in config order) containing `ip`, or null. Allocates nothing for IPv4. */
  match(ip: string): BlocklistHit | null;
  /** Entries across the lists. */
  readonly size: number;
}

/** The watched files, kept across reloads. */
export interface BlocklistFiles {
  /**
   * The lists at `paths`: new files are read, known ones re-read when their modification
   * time, size or inode changed; files no longer named stop being watched. Rejects with
   * ERR_CONFIG_INVALID naming the file when one cannot be read or is too large.
   */
  prepare(paths: readonly string[]): Promise<Blocklists>;
  /** Stops every watcher and timer. */
  close(): void;
}

export interface BlocklistOptions {
  logger: Logger;
  /** Watch the files and re-read them when they change; default true (false for `validate`). */
  watch?: boolean;
  /** Quiet time after a change before the file is re-read; default 250ms. */
  debounceMs?: number;
  /** Largest file read; default 64 MiB. */
  maxBytes?: number;
  /** Most entries in one file; default 2,000,000. */
  maxEntries?: number;
}

/** Lines reported one by one before the rest of a file's bad lines are only counted. */
const MAX_REPORTED_LINES = 10;
/** Lines parsed between yields to the event loop, so a large list never stalls requests. */
const LINES_PER_SLICE = 50_000;

interface ListFile extends BlocklistHit {
  table: IpSet;
  /** `mtimeMs:size:ino` when last read. */
  stamp: string;
  timer: NodeJS.Timeout | null;
  reading: Promise<void> | null;
  readAgain: boolean;
}

/** The blocklist files of one process. */
export function createBlocklistFiles(options: BlocklistOptions): BlocklistFiles {
  const { logger } = options;
  const watching = options.watch ?? true;
  const debounceMs = options.debounceMs ?? 250;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxEntries = options.maxEntries ?? 2_000_000;
  const files = new Map<string, ListFile>();
  const watchers = new Map<string, FSWatcher>();
  let closed = false;

  /** Reads and parses a file into a new table; throws ERR_CONFIG_INVALID on what cannot be used. */
  async function load(path: string): Promise<{ table: IpSet; stamp: string }> {
    let text: string;
    let stamp: string;
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `guard blocklist: ${path} is not a file`);
      if (info.size > maxBytes) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `guard blocklist: ${path} is larger than ${maxBytes} bytes`);
      stamp = stampOf(info);
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (error instanceof PortcullisError) throw error;
      const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `guard blocklist: cannot read ${path}: ${why}`, { cause: error });
    }
    // The file may have grown between stat and read.
    if (text.length > maxBytes) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `guard blocklist: ${path} is larger than ${maxBytes} bytes`);
    return { table: await parseList(path, text), stamp };
  }

  async function parseList(path: string, text: string): Promise<IpSet> {
    const prefixes: IpPrefix[] = [];
    let bad = 0;
    let line = 0;
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      line++;
      // The comment sign is looked for within the line only: searched from `start` to the end of
      // the text, a list without comments was scanned to its end once per line (quadratic).
      const row = text.slice(start, end);
      const hash = row.indexOf('#');
      const entry = (hash === -1 ? row : row.slice(0, hash)).trim();
      start = end + 1;
      if (entry !== '') {
        const prefix = parseIpPrefix(entry);
        const wrong = prefix === null ? 'is not an IP address or CIDR range' : implausibleRange(entry, prefix);
        if (wrong !== null) {
          if (++bad <= MAX_REPORTED_LINES) logger.warn({ file: path, line }, `guard blocklist: ${path}:${line}: ${JSON.stringify(entry.slice(0, 80))} ${wrong}; skipped`);
        } else if (prefix !== null) {
          prefixes.push(prefix);
          if (prefixes.length > maxEntries) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `guard blocklist: ${path} has more than ${maxEntries} entries`);
        }
      }
      if (line % LINES_PER_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (bad > MAX_REPORTED_LINES) logger.warn({ file: path, skipped: bad }, `guard blocklist: ${path}: ${bad} lines are not IP addresses or CIDR ranges, or are ranges no list means; skipped`);
    return createIpSet(prefixes);
  }

  /** Re-reads a watched file; on failure the previous contents stay. Serialised per file. */
  function reread(file: ListFile): Promise<void> {
    if (file.reading !== null) {
      file.readAgain = true;
      return file.reading;
    }
    file.reading = (async () => {
      do {
        file.readAgain = false;
        try {
          const { table, stamp } = await load(file.path);
          if (closed || files.get(file.path) !== file) return;
          file.table = table;
          file.stamp = stamp;
          logger.info({ file: file.path, entries: table.size }, 'guard blocklist reloaded');
        } catch (error) {
          logger.warn({ file: file.path, err: (error as Error).message }, 'guard blocklist: re-reading failed; the previous contents stay in force');
        }
      } while (file.readAgain && !closed);
    })().finally(() => {
      file.reading = null;
    });
    return file.reading;
  }

  function changed(file: ListFile): void {
    if (closed) return;
    if (file.timer !== null) clearTimeout(file.timer);
    file.timer = setTimeout(() => {
      file.timer = null;
      void reread(file);
    }, debounceMs);
    file.timer.unref();
  }

  function watchDirectory(dir: string): void {
    if (!watching || watchers.has(dir)) return;
    try {
      // Not persistent: watching a list must never keep the process alive.
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null) {
          for (const file of files.values()) if (dirname(file.path) === dir) changed(file);
          return;
        }
        const file = files.get(join(dir, name));
        if (file !== undefined) changed(file);
      });
      watcher.on('error', (error) => {
        logger.warn({ dir, err: error.message }, 'guard blocklist: watching stopped; a config reload re-reads changed lists');
        watcher.close();
        watchers.delete(dir);
      });
      watchers.set(dir, watcher);
    } catch (error) {
      logger.warn({ dir, err: (error as Error).message }, 'guard blocklist: cannot watch; a config reload re-reads changed lists');
    }
  }

  function forget(path: string): void {
    const file = files.get(path);
    if (file === undefined) return;
    if (file.timer !== null) clearTimeout(file.timer);
    files.delete(path);
    const dir = dirname(path);
    if ([...files.keys()].every((other) => dirname(other) !== dir)) {
      watchers.get(dir)?.close();
      watchers.delete(dir);
    }
  }

  return {
    async prepare(paths) {
      const wanted = [...new Set(paths)];
      // Read everything first: a file that fails leaves every list as it was.
      const fresh = new Map<string, { table: IpSet; stamp: string }>();
      for (const path of wanted) {
        const known = files.get(path);
        if (known !== undefined && (await currentStamp(path)) === known.stamp) continue;
        fresh.set(path, await load(path));
      }
      for (const path of [...files.keys()]) if (!wanted.includes(path)) forget(path);
      for (const [path, { table, stamp }] of fresh) {
        const known = files.get(path);
        if (known !== undefined) {
          known.table = table;
          known.stamp = stamp;
          continue;
        }
        files.set(path, { path, reason: `blocklist:${path}`, table, stamp, timer: null, reading: null, readAgain: false });
        watchDirectory(dirname(path));
      }
      return listsOf(wanted.map((path) => files.get(path)!));
    },
    close() {
      closed = true;
      for (const path of [...files.keys()]) forget(path);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/** The lists, in order; each file's table is read at lookup, so a re-read applies at once. */
function listsOf(lists: readonly ListFile[]): Blocklists {
  return {
    match(ip) {
      for (let i = 0; i < lists.length; i++) {
        const file = lists[i]!;
        if (file.table.size > 0 && file.table.has(ip)) return file;
      }
      return null;
    },
    get size() {
      let total = 0;
      for (const file of lists) total += file.table.size;
      return total;
    },
  };
}

function stampOf(info: { mtimeMs: number; size: number; ino: number }): string {
  return `${info.mtimeMs}:${info.size}:${info.ino}`;
}

async function currentStamp(path: string): Promise<string | null> {
  try {
    return stampOf(await stat(path));
  } catch {
    return null;
  }
}


/**
 * Why a parsed range is one no list means, or null. A /0 (`0.0.0.0/0`, `::/0`,
 * `::ffff:0.0.0.0/96`) refuses every client; an address with bits set past its prefix length
 * (`1.2.3.4/1`) is a typo for a narrower range that would refuse half the Internet. Lists are
 * often fetched from third parties, so one such line must not take the site off the air.
 */
function implausibleRange(entry: string, prefix: IpPrefix): string | null {
  if (prefix.bits === 0) return 'covers every address';
  const slash = entry.indexOf('/');
  if (slash === -1) return null;
  const address = parseIpPrefix(entry.slice(0, slash));
  if (address === null || address.family !== prefix.family) return null;
  const same = address.family === 4 ? address.net === prefix.net : address.net.every((word, i) => word === (prefix.net as Uint32Array)[i]);
  return same ? null : `has address bits set past its /${entry.slice(slash + 1)} (a typo? it would cover ${formatIpPrefix(prefix)})`;
}
