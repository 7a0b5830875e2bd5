/**
 * Where access log lines go: stdout, stderr, nowhere, or a file rolled by size (Caddy's
 * `roll_size` / `roll_keep`): `access.log` moves to `access.log.1`, `.1` to `.2`, and the
 * oldest beyond `roll_keep` is deleted.
 */
import { createWriteStream, existsSync, renameSync, rmSync, statSync, mkdirSync, type WriteStream } from 'node:fs';
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

function openRolledFile(path: string, rollSize: number, keep: number): LogOutput {
  mkdirSync(dirname(path), { recursive: true });
  let size = existsSync(path) ? statSync(path).size : 0;
  let stream: WriteStream = createWriteStream(path, { flags: 'a', mode: 0o640 });

  function roll(): void {
    stream.end();
    for (let i = keep - 1; i >= 1; i--) {
      if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    }
    if (keep >= 1) renameSync(path, `${path}.1`);
    else rmSync(path, { force: true });
    rmSync(`${path}.${keep + 1}`, { force: true });
    stream = createWriteStream(path, { flags: 'a', mode: 0o640 });
    size = 0;
  }

  return {
    write(line) {
      const bytes = Buffer.byteLength(line);
      if (size > 0 && size + bytes > rollSize) roll();
      size += bytes;
      stream.write(line);
    },
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}
