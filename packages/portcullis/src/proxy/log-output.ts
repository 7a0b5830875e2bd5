/**
 * Where access log lines go: stdout, stderr, nowhere, or a file rolled by size (Caddy's
 * `roll_size` / `roll_keep`): `access.log` moves to `access.log.1`, `.1` to `.2`, and the
 * oldest beyond `roll_keep` is deleted.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, write } from 'node:fs';
import { dirname } from 'node:path';
import type { LogConfig } from '../config/types.ts';

export interface LogOutput {
  write(line: string): void;
  close(): Promise<void>;
}

const DEFAULT_ROLL_SIZE = 100 * 1024 * 1024;
const DEFAULT_ROLL_KEEP = 10;

export function openLogOutput(config: LogConfig): LogOutput {
  switch (config.output) {
    case 'discard':
      return { write() {}, close: () => Promise.resolve() };
    case 'stdout':
      return { write: (line) => void process.stdout.write(line), close: () => Promise.resolve() };
    case 'stderr':
      return { write: (line) => void process.stderr.write(line), close: () => Promise.resolve() };
    case 'file':
      return openRolledFile(config.file ?? 'access.log', config.rollSizeBytes ?? DEFAULT_ROLL_SIZE, config.rollKeep ?? DEFAULT_ROLL_KEEP);
  }
}

/** Lines waiting beyond this are dropped (and counted) rather than let a stuck disk eat memory. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * Appends with one asynchronous write in flight at a time, batching lines that arrive
 * meanwhile; rolling happens between writes, synchronously, so no line lands in the wrong file
 * and the request path never waits for the disk.
 */
function openRolledFile(path: string, rollSize: number, keep: number): LogOutput {
  mkdirSync(dirname(path), { recursive: true });
  let fd = openSync(path, 'a', 0o640);
  let size = fstatSync(fd).size;
  let pending: string[] = [];
  let pendingBytes = 0;
  let writing = false;
  let dropped = 0;
  let idle: (() => void)[] = [];

  function roll(): void {
    closeSync(fd);
    for (let i = keep - 1; i >= 1; i--) {
      if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    }
    if (keep >= 1) renameSync(path, `${path}.1`);
    rmSync(keep >= 1 ? `${path}.${keep + 1}` : path, { force: true });
    fd = openSync(path, 'a', 0o640);
    size = 0;
  }

  function flush(): void {
    if (pending.length === 0) {
      writing = false;
      const waiters = idle;
      idle = [];
      for (const resolve of waiters) resolve();
      return;
    }
    writing = true;
    if (dropped > 0) {
      pending.push(JSON.stringify({ level: 'warn', ts: Date.now() / 1000, logger: 'http.log.access', msg: `dropped ${dropped} access log lines: the disk is not keeping up` }) + '\n');
      dropped = 0;
    }
    const chunk = Buffer.from(pending.join(''));
    pending = [];
    pendingBytes = 0;
    if (size > 0 && size + chunk.length > rollSize) roll();
    writeAll(chunk, 0);
  }

  function writeAll(chunk: Buffer, offset: number): void {
    write(fd, chunk, offset, chunk.length - offset, null, (error, written) => {
      if (error) {
        process.stderr.write(`access log ${path}: ${error.message}\n`);
        size += chunk.length - offset;
        flush();
        return;
      }
      size += written;
      if (offset + written < chunk.length) writeAll(chunk, offset + written);
      else flush();
    });
  }

  return {
    write(line) {
      if (pendingBytes + line.length > MAX_PENDING_BYTES) {
        dropped++;
        return;
      }
      pending.push(line);
      pendingBytes += line.length;
      if (!writing) flush();
    },
    close: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          closeSync(fd);
          resolve();
        };
        if (writing) idle.push(done);
        else done();
      }),
  };
}
