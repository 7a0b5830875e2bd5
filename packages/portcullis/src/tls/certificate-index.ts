/**
 * SNI selection over the certificates being served: exact name, then a wildcard one label
 * deep, then the `default_sni` certificate, else none (the handshake fails rather than show a
 * certificate for another name). Built once per prepare or renewal; lookups are map reads.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { LoadedCertificate } from './certificate.ts';
import { canonicalHost, canonicalIp, canonicalServername, isIpHost, wildcardOf } from './host-names.ts';

/** A certificate with the one SecureContext built for it. */
export interface ServedCertificate {
  cert: LoadedCertificate;
  context: SecureContext;
}

export interface CertificateIndex {
  byName: ReadonlyMap<string, ServedCertificate>;
  byIp: ReadonlyMap<string, ServedCertificate>;
  fallback: ServedCertificate | null;
}

/** The context for a certificate; ALPN and protocol limits are the listener's business. */
export function serve(cert: LoadedCertificate): ServedCertificate {
  return { cert, context: createSecureContext({ cert: cert.chainPem, key: cert.keyPem }) };
}

function lookupName(byName: ReadonlyMap<string, ServedCertificate>, name: string): ServedCertificate | undefined {
  const exact = byName.get(name);
  if (exact) return exact;
  const wildcard = wildcardOf(name);
  return wildcard === null ? undefined : byName.get(wildcard);
}

/** Indexes canonical host -> certificate pairs; `defaultSni` picks the fallback when it has one. */
export function buildIndex(hosts: Iterable<[string, ServedCertificate]>, defaultSni: string | undefined): CertificateIndex {
  const byName = new Map<string, ServedCertificate>();
  const byIp = new Map<string, ServedCertificate>();
  for (const [host, served] of hosts) (isIpHost(host) ? byIp : byName).set(host, served);
  let fallback: ServedCertificate | null = null;
  const sni = defaultSni === undefined ? null : canonicalHost(defaultSni);
  if (sni !== null) fallback = (isIpHost(sni) ? byIp.get(sni) : lookupName(byName, sni)) ?? null;
  return { byName, byIp, fallback };
}

/** The context for an SNI name (any case, optional trailing dot), or null. */
export function selectByName(index: CertificateIndex, servername: string): SecureContext | null {
  // Fast path for the usual lower-case name; keys starting with `*` are never matched literally.
  if (servername.charCodeAt(0) !== 42) {
    const hit = index.byName.get(servername);
    if (hit) return hit.context;
  }
  const name = canonicalServername(servername);
  if (name === null) return index.fallback?.context ?? null;
  // RFC 6066 section 3 forbids IP literals in SNI, but some clients send them anyway.
  const served = isIpHost(name) ? index.byIp.get(name) : lookupName(index.byName, name);
  return (served ?? index.fallback)?.context ?? null;
}

/** The context for the local address a connection without SNI arrived on, or null. */
export function selectByAddress(index: CertificateIndex, localAddress: string): SecureContext | null {
  const ip = canonicalIp(localAddress);
  const served = ip === null ? undefined : index.byIp.get(ip);
  return (served ?? index.fallback)?.context ?? null;
}
