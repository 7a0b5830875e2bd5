/** The config module's facade. */
export { loadConfig, adaptCaddyfileText, type ConfigAdapter, type LoadOptions } from './load.ts';
export { parseCaddyfile, type ParseOptions } from './parser.ts';
export { formatCaddyfile } from './fmt.ts';
export { parseConfigJson } from './validate-json.ts';
export type { Config } from './types.ts';
export { identityIssuer } from './directives/identity-provider.ts';
export { redactSecrets } from './redact.ts';
export { CHALLENGE_DEFAULT_CLEARANCE_MS, CHALLENGE_DEFAULT_DIFFICULTY } from './guard-options.ts';
export {
  checkClientId,
  checkClientName,
  checkClientUri,
  checkScopeName,
  clientProblems,
  DEFAULT_CLIENT_SCOPES,
  DEFAULT_GRANT_TYPES,
  GRANT_TYPES,
  knownScopes,
  type ClientUriKind,
} from './identity-checks.ts';
export type { Parsed } from './durations.ts';
export type { IdentityClientConfig } from './types.ts';
export { HEADER_ALIASES, headerKey } from './authenticate-checks.ts';
export { parseDuration } from './durations.ts';
export { DEFAULT_DNS_TTL_SECONDS, DEFAULT_PROPAGATION_TIMEOUT_MS, parseHostPort } from './acme-dns.ts';
export { CIPHER_SUITES } from './directives/tls.ts';
