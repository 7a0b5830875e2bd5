/**
 * What the proxy needs from other modules, declared here so the proxy never imports them
 * (DESIGN.md: main.ts hands in objects that satisfy these).
 */
import type { SecureContext } from 'node:tls';

/** Certificates for HTTPS listeners, by SNI name; implemented by the TLS module. */
export interface CertificateProvider {
  /**
   * The context for a server name the client sent (SNI, lower-cased). null: no certificate
   * for that name, and the handshake fails with an alert rather than show a wrong certificate.
   */
  contextFor(servername: string): SecureContext | null | Promise<SecureContext | null>;
  /**
   * For clients that send no SNI (URLs with an IP address): the context for the address the
   * connection arrived on, or the `default_sni` certificate; null fails the handshake.
   */
  contextForAddress(localAddress: string): SecureContext | null;
  /** ACME HTTP-01: the key authorization for `/.well-known/acme-challenge/<token>`, or null. */
  httpChallenge(host: string, path: string): string | null;
  /** ACME TLS-ALPN-01 (RFC 8737): the challenge certificate for a handshake offering `acme-tls/1`, or null. */
  alpnChallengeContext(servername: string): SecureContext | null;
}
