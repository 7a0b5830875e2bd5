/** `portcullis fmt`: canonical formatting of a Caddyfile-syntax config. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { formatCaddyfile } from '../../config/index.ts';
import { configPath, reportError } from '../config-option.ts';

export function fmtCommand(): Command {
  return new Command('fmt')
    .description('format a config file (prints it, or rewrites it with --overwrite)')
    .argument('[file]', 'config file (default: ./Portcullisfile)')
    .option('-w, --overwrite', 'write the result back to the file')
    .option('--check', 'exit 1 when the file is not formatted')
    .action((file: string | undefined, options: { overwrite?: boolean; check?: boolean }) => {
      try {
        const path = file ?? configPath({});
        const text = readFileSync(path, 'utf8');
        const formatted = formatCaddyfile(text);
        if (options.check) {
          if (formatted !== text) {
            process.stderr.write(`${path}: not formatted\n`);
            process.exitCode = 1;
          }
          return;
        }
        if (options.overwrite) {
          if (formatted !== text) writeFileSync(path, formatted);
          return;
        }
        process.stdout.write(formatted);
      } catch (error) {
        reportError(error);
      }
    });
}
