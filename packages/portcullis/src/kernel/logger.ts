import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

/** The logger every module receives. pino's, so JSON lines with levels and child bindings. */
export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: string;
  /** Pretty, human lines; defaults to whether stderr is a terminal. */
  pretty?: boolean;
  /** Where lines go; stderr by default (stdout is kept for access logs and command output). */
  destination?: DestinationStream;
}

/** Builds the process logger: JSON lines, or pretty ones when a person is watching. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.PORTCULLIS_LOG_LEVEL ?? 'info';
  if (options.destination) return pino({ level, base: undefined }, options.destination);
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({
      level,
      base: undefined,
      transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  return pino(
    {
      level,
      base: undefined,
      // Level names and ISO times read better in `journalctl` and match the access log's style.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that writes nothing; for tests and for commands that must print only their output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
