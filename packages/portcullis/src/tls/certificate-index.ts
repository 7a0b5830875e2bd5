/**
 * SNI selection over the certificates being served: exact name, then a wildcard one label
 * deep, then the `fallback_sni` certificate, then the `default_sni` one, else none (the
 * handshake fails rather than show a certificate for another name). A client that sends no
 * name gets the certificate for the address it reached, else `default_sni`'s, else
 * `fallback_sni`'s. Built once per prepare or renewal; lookups are map reads.
 */
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ClientAuthPolicy } from '../proxy/ports.ts';
import type { LoadedCertificate } from './certificate.ts';
import type { SiteClientAuth } from './client-auth.ts';
import type { TlsSettings } from './tls-settings.ts';
import { canonicalHost, canonicalIp, canonicalServername, isIpHost, wildcardOf } from './host-names.ts';

/** A certificate with the one SecureContext built for it. */
export interface ServedCertificate {
  cert: LoadedCertificate;
  context: SecureContext;
}

/** What one name (or address) is served with. */
export interface IndexEntry {
  /** The context after SNI: the certificate, plus the trusted client CAs under client_auth. */
  context: SecureContext;
  clientAuth: ClientAuthPolicy | null;
  /**
   * The context a connection starts with before SNI is known (the listener's default), or
   * null to fail clients that send no SNI. See addressContext().
   */
  addressContext: SecureContext | null;
}

export interface CertificateIndex {
  byName: ReadonlyMap<string, IndexEntry>;
  byIp: ReadonlyMap<string, IndexEntry>;
  /** The `default_sni` certificate: for clients without SNI, and for unknown names unless `fallback_sni` is set. */
  fallback: IndexEntry | null;
  /** The certificate for SNI names no certificate is held for: `fallback_sni`'s, else `default_sni`'s. */
  unmatched: IndexEntry | null;
  /** The certificate for clients that send no SNI and reached an address without one: `default_sni`'s, else `fallback_sni`'s. */
  noSni: IndexEntry | null;
}

/** The context for a certificate; ALPN and protocol limits are the listener's business. */
export function serve(cert: LoadedCertificate): ServedCertificate {
  return { cert, context: createSecureContext({ cert: cert.chainPem, key: cert.keyPem }) };
}

/**
 * The context a connection starts with. Two holes are closed here when any name uses
 * client_auth. Clients without SNI never reach the SNI callback, so nothing would ask them for
 * a certificate: a name under client_auth gets none (the handshake fails). And TLS session
 * resumption skips the SNI callback too (OpenSSL calls the certificate callback only for full
 * handshakes), while tickets are sealed with the keys of this starting context: a ticket from
 * another name's handshake, resumed with a client_auth name's SNI, would skip client
 * authentication. So the starting context issues no tickets (SSL_OP_NO_TICKET; Node keeps no
 * server-side session cache unless asked), and every client_auth handshake is a full one.
 */
function addressContext(served: ServedCertificate, context: SecureContext, settings: TlsSettings | undefined, clientAuth: ClientAuthPolicy | null, anyClientAuth: boolean): SecureContext | null {
  if (clientAuth !== null) return null;
  if (!anyClientAuth) return context;
  return createSecureContext({ cert: served.cert.chainPem, key: served.cert.keyPem, ...settings?.options, secureOptions: constants.SSL_OP_NO_TICKET });
}

/** The context for a certificate under a site's TLS settings (protocols, ciphers, curves). */
export function contextWith(served: ServedCertificate, settings: TlsSettings | undefined): SecureContext {
  return settings === undefined ? served.context : createSecureContext({ cert: served.cert.chainPem, key: served.cert.keyPem, ...settings.options });
}

function entryFor(served: ServedCertificate, auth: SiteClientAuth | undefined, settings: TlsSettings | undefined, anyClientAuth: boolean): IndexEntry {
  if (auth === undefined) {
    const context = contextWith(served, settings);
    return { context, clientAuth: null, addressContext: addressContext(served, context, settings, null, anyClientAuth) };
  }
  // The `ca` option also becomes the CertificateRequest's list of acceptable CA names, which
  // lets a browser offer only the matching certificates (RFC 8446 section 4.2.4).
  const context = createSecureContext({ cert: served.cert.chainPem, key: served.cert.keyPem, ca: auth.caPem || undefined, ...settings?.options });
  return { context, clientAuth: auth.policy, addressContext: null };
}

function lookupName(byName: ReadonlyMap<string, IndexEntry>, name: string): IndexEntry | undefined {
  const exact = byName.get(name);
  if (exact) return exact;
  const wildcard = wildcardOf(name);
  return wildcard === null ? undefined : byName.get(wildcard);
}

/**
 * Indexes canonical host -> certificate pairs; `defaultSni` and `fallbackSni` pick the
 * certificates for clients without SNI and for unknown names when they have one; `clientAuth`
 * (canonical host -> the site's client authentication) adds the trusted CAs and the policy to
 * those hosts' entries.
 */
export function buildIndex(
  hosts: Iterable<[string, ServedCertificate]>,
  defaultSni: string | undefined,
  clientAuth: ReadonlyMap<string, SiteClientAuth> = new Map(),
  settings: ReadonlyMap<string, TlsSettings> = new Map(),
  fallbackSni?: string,
): CertificateIndex {
  const byName = new Map<string, IndexEntry>();
  const byIp = new Map<string, IndexEntry>();
  const anyClientAuth = clientAuth.size > 0;
  for (const [host, served] of hosts) (isIpHost(host) ? byIp : byName).set(host, entryFor(served, clientAuth.get(host), settings.get(host), anyClientAuth));
  const held = (name: string | undefined): IndexEntry | null => {
    const sni = name === undefined ? null : canonicalHost(name);
    if (sni === null) return null;
    return (isIpHost(sni) ? byIp.get(sni) : lookupName(byName, sni)) ?? null;
  };
  const fallback = held(defaultSni);
  const unknown = held(fallbackSni);
  return { byName, byIp, fallback, unmatched: unknown ?? fallback, noSni: fallback ?? unknown };
}

/** The entry of a certificate held for an SNI name (any case, optional trailing dot), not the fallback; or null. */
export function entryHeldFor(index: CertificateIndex, servername: string): IndexEntry | null {
  // Fast path for the usual lower-case name; keys starting with `*` are never matched literally.
  if (servername.charCodeAt(0) !== 42) {
    // IP literals too: canonical addresses are their own keys (a request to https://127.0.0.1 asks per request).
    const hit = index.byName.get(servername) ?? index.byIp.get(servername);
    if (hit) return hit;
  }
  const name = canonicalServername(servername);
  if (name === null) return null;
  // RFC 6066 section 3 forbids IP literals in SNI, but some clients send them anyway.
  return (isIpHost(name) ? index.byIp.get(name) : lookupName(index.byName, name)) ?? null;
}

/** The entry for an SNI name (any case, optional trailing dot), else the one for unknown names, or null. */
export function entryByName(index: CertificateIndex, servername: string): IndexEntry | null {
  return entryHeldFor(index, servername) ?? index.unmatched;
}

/** The context for an SNI name, or null. */
export function selectByName(index: CertificateIndex, servername: string): SecureContext | null {
  return entryByName(index, servername)?.context ?? null;
}

/** The starting context for the local address a connection arrived on (used as is when it sends no SNI), or null. */
export function selectByAddress(index: CertificateIndex, localAddress: string): SecureContext | null {
  const ip = canonicalIp(localAddress);
  const entry = ip === null ? undefined : index.byIp.get(ip);
  return (entry ?? index.noSni)?.addressContext ?? null;
}
