/** A pino logger that keeps every line it writes, parsed, for tests to assert on. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/kernel/logger.ts';

export function recordingLogger<Line = Record<string, unknown>>(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Line);
      callback();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
