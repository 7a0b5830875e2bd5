/** The guard module's facade: the client's address through trusted proxies. */
export { createClientIpResolver, DEFAULT_CLIENT_IP_HEADERS, type ClientIpOptions, type ClientIpResolver } from './client-ip.ts';
export { createClientIpSetup, type ClientIpSetup } from './client-ip-setup.ts';
export { loadTrustedProxies, readRangeList, SHIPPED_CLOUDFLARE_LIST } from './trusted-proxies.ts';
