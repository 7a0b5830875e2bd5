/** A pino logger that keeps every line it writes, parsed, for tests to assert on. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/kernel/logger.ts';

export function recordingLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
