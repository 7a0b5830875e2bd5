/** The `--config` / `--adapter` options every command shares, and how errors are printed. */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigErrors, PortcullisError } from '../kernel/errors.ts';
import type { ConfigAdapter } from '../config/index.ts';

export interface ConfigOptions {
  config?: string;
  adapter?: string;
}

export function addConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file (default: ./Portcullisfile, else ./Caddyfile)')
    .option('--adapter <name>', 'config format: caddyfile or json (default: json for *.json files)');
}

/** The config file to use: the flag, else ./Portcullisfile, else a Caddyfile brought along. */
export function configPath(options: ConfigOptions): string {
  if (options.config) return options.config;
  if (!existsSync('Portcullisfile') && existsSync('Caddyfile')) return 'Caddyfile';
  return 'Portcullisfile';
}

export function adapterOf(options: ConfigOptions): ConfigAdapter | undefined {
  if (options.adapter === undefined) return undefined;
  if (options.adapter !== 'caddyfile' && options.adapter !== 'json') {
    throw new Error(`unknown adapter ${JSON.stringify(options.adapter)}: use caddyfile or json`);
  }
  return options.adapter;
}

/** Prints every config error on its own line (`file:line: directive: message`) and sets exit code 1. */
export function reportError(error: unknown): void {
  if (error instanceof ConfigErrors) {
    for (const e of error.errors) process.stderr.write(`${e.describe()}\n`);
    process.stderr.write(`${error.errors.length} error${error.errors.length === 1 ? '' : 's'} in config\n`);
  } else if (error instanceof PortcullisError) {
    process.stderr.write(`${error.code}: ${error.describe()}\n`);
  } else {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  }
  process.exitCode = 1;
}
