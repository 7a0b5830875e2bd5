/**
 * Answers to ACME challenges while an order is in flight: HTTP-01 key authorizations by host
 * and token (RFC 8555 section 8.3), TLS-ALPN-01 certificates by server name (RFC 8737). The
 * listeners read it on every request to /.well-known/acme-challenge/ and every handshake that
 * offers `acme-tls/1`, so lookups are map reads over names canonicalised once.
 */
import type { SecureContext } from 'node:tls';
import { canonicalHost, canonicalServername } from '../host-names.ts';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** RFC 8555 section 8.3: the token is base64url; nothing else may reach the map or a response. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export interface ChallengeStore {
  /** The key authorization for an HTTP-01 request (`host` as in the Host header), or null. */
  httpAnswer(host: string, path: string): string | null;
  /** The challenge certificate's context for a TLS-ALPN-01 handshake, or null. */
  alpnContext(servername: string): SecureContext | null;
  /** Publishes an HTTP-01 answer; the returned function withdraws it. */
  putHttp(host: string, token: string, keyAuthorization: string): () => void;
  /** Publishes a TLS-ALPN-01 context; the returned function withdraws it. */
  putAlpn(host: string, context: SecureContext): () => void;
}

/** The host part of a Host header value (`name`, `name:port`, `[v6]:port`), canonical, or null. */
function hostOfHeader(header: string): string | null {
  let host = header;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return null;
    host = host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(':');
    // More than one colon without brackets is not a valid Host header (RFC 9110 section 7.2).
    if (colon >= 0 && host.indexOf(':', colon + 1) >= 0) return null;
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.includes('*')) return null;
  return canonicalHost(host);
}

/** An empty store; one per certificate manager. */
export function createChallengeStore(): ChallengeStore {
  const http = new Map<string, string>();
  const alpn = new Map<string, SecureContext>();
  const httpKey = (host: string, token: string): string => `${host}/${token}`;

  return {
    httpAnswer(hostHeader, path) {
      if (http.size === 0 || !path.startsWith(CHALLENGE_PREFIX)) return null;
      const query = path.indexOf('?');
      const token = path.slice(CHALLENGE_PREFIX.length, query < 0 ? undefined : query);
      if (!TOKEN.test(token)) return null;
      const host = hostOfHeader(hostHeader);
      // The host must match too, so one name's validation never answers for another (certmagic checks the same).
      return host === null ? null : (http.get(httpKey(host, token)) ?? null);
    },
    alpnContext(servername) {
      if (alpn.size === 0) return null;
      const name = canonicalServername(servername);
      return name === null ? null : (alpn.get(name) ?? null);
    },
    putHttp(host, token, keyAuthorization) {
      if (!TOKEN.test(token)) throw new Error('the ACME server sent a malformed challenge token');
      const key = httpKey(host, token);
      http.set(key, keyAuthorization);
      return () => void http.delete(key);
    },
    putAlpn(host, context) {
      alpn.set(host, context);
      return () => {
        if (alpn.get(host) === context) alpn.delete(host);
      };
    },
  };
}
