/**
 * Client certificates per SNI name. Node offers `requestCert` / `rejectUnauthorized` only for
 * a whole server, and asking every client for a certificate makes browsers prompt on sites
 * that do not use one; so the SNI callback switches them on for the names whose site has
 * `tls { client_auth }`, through the private API Node's own TLSSocket init uses.
 * test/tls-client-auth.test.ts ("Node private API") fails if Node changes it.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { ClientAuthPolicy } from './ports.ts';

const ADMITTED = Symbol('client_auth policy id');

/** The parts of a server TLSSocket (lib/_tls_wrap.js) this file relies on. */
interface NodeTlsSocketInternals {
  /** TLSWrap: setVerifyMode(requestCert, rejectUnauthorized) calls OpenSSL's SSL_set_verify. */
  _handle: { setVerifyMode?: (requestCert: boolean, rejectUnauthorized: boolean) => void } | null;
  /** Read by onServerSocketSecure: record authorized / authorizationError. */
  _requestCert: boolean;
  /** Read by onServerSocketSecure: destroy the socket on a verification error, before 'secureConnection'. */
  _rejectUnauthorized: boolean;
  [ADMITTED]?: string;
}

/**
 * Makes this handshake ask for a client certificate under `policy`; call from the SNICallback
 * (OpenSSL's certificate callback, before the server's flight is written). false when the
 * socket does not have the private API: the caller must then fail the handshake.
 *
 * - A missing certificate under requireCertificate fails inside OpenSSL
 *   (SSL_VERIFY_FAIL_IF_NO_PEER_CERT; TLS 1.3 alert certificate_required).
 * - An untrusted certificate under verifyCertificate: Node's OpenSSL verify callback accepts
 *   every chain and leaves the verdict to JavaScript, which destroys the socket when the
 *   handshake completes, before the HTTP server ever sees it.
 */
export function requestClientCertificate(socket: TLSSocket, policy: ClientAuthPolicy): boolean {
  const internals = socket as unknown as NodeTlsSocketInternals;
  const handle = internals._handle;
  if (handle === null || typeof handle.setVerifyMode !== 'function') return false;
  // SSL_VERIFY_PEER, plus SSL_VERIFY_FAIL_IF_NO_PEER_CERT when the second argument is true.
  handle.setVerifyMode(true, policy.requireCertificate);
  internals._requestCert = true;
  internals._rejectUnauthorized = policy.verifyCertificate;
  // Runs before Node's own 'secure' listener, which applies _rejectUnauthorized.
  socket.prependOnceListener('secure', () => {
    // verify_if_given: sending none is allowed, though Node counts it as a verification error.
    if (!policy.requireCertificate && socket.getPeerX509Certificate() === undefined) internals._rejectUnauthorized = false;
    internals[ADMITTED] = policy.id;
  });
  return true;
}

/**
 * Whether a request on `socket` may reach a site whose names have client_auth `policy` (null:
 * none): the connection's handshake must have applied an equal policy. This is what stops a
 * client from handshaking for another name (or without SNI, or by resuming a session, none of
 * which ask for a certificate) and then naming the client_auth site in Host or :authority
 * (Caddy turns on strict_sni_host for the same reason).
 */
export function admittedBy(socket: TLSSocket, policy: ClientAuthPolicy | null): boolean {
  return policy === null || (socket as unknown as NodeTlsSocketInternals)[ADMITTED] === policy.id;
}

/** The TLS connection a request came on: HTTP/1.1's socket, or the HTTP/2 session's (not the compat API's proxy). */
export function tlsSocketOf(req: IncomingMessage | Http2ServerRequest): TLSSocket {
  const stream = (req as Http2ServerRequest).stream;
  return (stream?.session?.socket ?? req.socket) as TLSSocket;
}
