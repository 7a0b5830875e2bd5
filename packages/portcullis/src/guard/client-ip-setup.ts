/** The `servers { }` client-IP options compiled into what the proxy is handed. */
import type { ServerOptions } from '../config/types.ts';
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import { createClientIpResolver, DEFAULT_CLIENT_IP_HEADERS, type ClientIpResolver } from './client-ip.ts';
import { loadTrustedProxies, type ReadText } from './trusted-proxies.ts';

export interface ClientIpSetup {
  /** Every trusted range, sources expanded (for X-Forwarded-* toward upstreams and forward_auth). */
  trustedProxies: string[];
  /** Null when no proxy is trusted: then the peer is the client and nothing runs per request. */
  resolve: ClientIpResolver | null;
}

/** Reads the trusted-proxy sources and compiles the resolver; throws ERR_CONFIG_INVALID on a bad list. */
export function createClientIpSetup(server: ServerOptions, read?: ReadText): ClientIpSetup {
  const trustedProxies = read === undefined ? loadTrustedProxies(server) : loadTrustedProxies(server, read);
  if (trustedProxies.length === 0) return { trustedProxies, resolve: null };
  const resolve = createClientIpResolver({
    trusted: compileIpRanges(trustedProxies),
    headers: server.clientIpHeaders ?? DEFAULT_CLIENT_IP_HEADERS,
    strict: true,
  });
  return { trustedProxies, resolve };
}
