/**
 * Loading a config file: read, then either parse and adapt the Caddyfile or read and check the
 * JSON. Every problem is reported at once as ConfigErrors naming file:line; the result is
 * deep-frozen, so no part of the running server can change the config it was built from.
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Config } from './types.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { parseCaddyfile } from './parser.ts';
import { adaptCaddyfile } from './adapt.ts';
import { parseConfigJson } from './validate-json.ts';

export type ConfigAdapter = 'caddyfile' | 'json';

export interface LoadOptions {
  adapter?: ConfigAdapter;
  env?: Record<string, string | undefined>;
}

/** Reads, parses, adapts and validates a config file; throws ConfigErrors naming file:line for every problem. The result is deep-frozen. */
export function loadConfig(path: string, options: LoadOptions = {}): Config {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_NOT_FOUND, `cannot read config file ${file}: ${why}`, { cause: err });
  }
  const adapter = options.adapter ?? (extname(file).toLowerCase() === '.json' ? 'json' : 'caddyfile');
  if (adapter === 'json') return deepFreeze(parseConfigJson(text, file));
  return adaptCaddyfileText(text, file, options);
}

/** Parses and adapts Caddyfile text (`file` names it in errors and resolves its imports). The result is deep-frozen. */
export function adaptCaddyfileText(text: string, file: string, options: LoadOptions = {}): Config {
  const parsed = parseCaddyfile(text, file, options.env !== undefined ? { env: options.env } : {});
  return deepFreeze(adaptCaddyfile(parsed));
}

/** Freezes an object graph (plain data: objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
