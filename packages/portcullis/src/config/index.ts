/** The config module's facade. */
export { loadConfig, adaptCaddyfileText, type ConfigAdapter, type LoadOptions } from './load.ts';
export { parseCaddyfile, type ParseOptions } from './parser.ts';
export { formatCaddyfile } from './fmt.ts';
export { parseConfigJson } from './validate-json.ts';
export type { Config } from './types.ts';
