/**
 * `log { output stdout|stderr|discard|file <path> { roll_size <size>; roll_keep <n> };
 * format json|console; level <level> }`: the site's access log. Defaults: stderr, JSON, info.
 */
import type { Directive } from '../ast.ts';
import type { LogConfig } from '../types.ts';
import { argCount, eachSubdirective, intArg, noBlock, singleArg, sizeArg, type Dispenser } from '../dispenser.ts';
import { logLevel } from '../global-options.ts';

/** Caddy's rolling defaults for file outputs. */
const DEFAULT_ROLL_SIZE = 100 * 1024 * 1024;
const DEFAULT_ROLL_KEEP = 10;

export function adaptLog(d: Directive, disp: Dispenser): LogConfig | null {
  if (d.args.length > 0) {
    disp.error(d.args[0]!, 'named access loggers are not supported yet; write log { ... }');
  }
  const log: LogConfig = { output: 'stderr', format: 'json', level: 'info' };
  let good = true;
  eachSubdirective(
    disp,
    d,
    {
      output: (sub) => {
        if (!argCount(disp, sub, sub.args, 1, 2, 'output stdout|stderr|discard|file <path>')) return void (good = false);
        const kind = sub.args[0]!;
        if (kind.text === 'stdout' || kind.text === 'stderr' || kind.text === 'discard') {
          noBlock(disp, sub);
          if (sub.args.length > 1) disp.error(sub.args[1]!, `output: ${kind.text} takes no argument`);
          log.output = kind.text;
          return;
        }
        if (kind.text !== 'file') {
          disp.error(kind, `output: ${JSON.stringify(kind.text)} is not supported (expected stdout, stderr, discard or file)`);
          good = false;
          return;
        }
        if (sub.args.length !== 2) return void disp.error(sub, 'output: file needs a path: output file /var/log/site.log');
        log.output = 'file';
        log.file = sub.args[1]!.text;
        log.rollSizeBytes = DEFAULT_ROLL_SIZE;
        log.rollKeep = DEFAULT_ROLL_KEEP;
        eachSubdirective(
          disp,
          sub,
          {
            roll_size: (s) => {
              const t = singleArg(disp, s, 'roll_size <size>');
              const bytes = t && sizeArg(disp, t, 'roll_size');
              if (bytes !== null) log.rollSizeBytes = bytes;
            },
            roll_keep: (s) => {
              const t = singleArg(disp, s, 'roll_keep <count>');
              const n = t && intArg(disp, t, 'roll_keep', 0, 10_000);
              if (n !== null) log.rollKeep = n;
            },
          },
          {
            roll_disabled: 'not supported yet',
            roll_uncompressed: 'not supported yet',
            roll_local_time: 'not supported yet',
            roll_keep_for: 'not supported yet; use roll_keep',
            mode: 'not supported yet',
          },
        );
      },
      format: (sub) => {
        noBlock(disp, sub);
        const t = singleArg(disp, sub, 'format json|console');
        if (t === null) return;
        if (t.text === 'json' || t.text === 'console') log.format = t.text;
        else disp.error(t, `format: ${JSON.stringify(t.text)} is not supported (expected json or console)`);
      },
      level: (sub) => {
        const t = singleArg(disp, sub, 'level debug|info|warn|error');
        const level = t && logLevel(disp, t, 'level');
        if (level !== null) log.level = level;
      },
    },
    {
      hostnames: 'not supported yet',
      no_hostname: 'not supported yet',
      sampling: 'not supported yet',
    },
  );
  return good ? log : null;
}
