/**
 * One acme-client Client per CA and account, with what the library leaves global made
 * per-client: the trust roots for the CA's HTTPS (`acme_ca_root`), a timeout on every request
 * (axios has none by default, and a CA that accepts and hangs would stall issuance forever),
 * an abort signal for shutdown, and no library-level retries (its interceptor sleeps up to 75 s
 * on a refused connection; our own backoff in acme-maintainer.ts decides when to try again).
 * acme-client is imported on first use, so a process without ACME sites never loads it.
 */
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Client } from 'acme-client';

export type AcmeLibrary = typeof import('acme-client');

/**
 * External account binding (RFC 8555 section 7.3.4): the key id and MAC key a CA such as
 * ZeroSSL or Google Trust Services hands out, so a new account is tied to a customer account.
 * The MAC key is base64url, as the CA gives it (Node's base64 decoder reads both alphabets).
 */
export interface AcmeEab {
  keyId: string;
  macKey: string;
}

export interface AcmeConnection {
  directoryUrl: string;
  /** Extra trusted root (PEM) for the CA's HTTPS, added to Node's bundled roots; null: those only. */
  caRootPem: string | null;
  requestTimeoutMs: number;
  /** First and longest wait between polls of a pending authorization or order. */
  pollMinMs: number;
  pollMaxMs: number;
  /** Aborts every request in flight (shutdown). */
  signal: AbortSignal;
}

/** Loads acme-client (cached by the module system after the first call). */
export function loadAcmeLibrary(): Promise<AcmeLibrary> {
  return import('acme-client');
}

interface HttpClientInternals {
  request(url: string, method: string, opts?: Record<string, unknown>): Promise<unknown>;
}

/** A client for `connection`, signing with `accountKeyPem`; `eab` goes with the new-account request. */
export async function createAcmeClient(connection: AcmeConnection, accountKeyPem: string, eab: AcmeEab | null = null): Promise<Client> {
  const acme = await loadAcmeLibrary();
  const client = new acme.Client({
    directoryUrl: connection.directoryUrl,
    accountKey: accountKeyPem,
    // acme-client signs the binding only for newAccount without onlyReturnExisting (its api.js).
    ...(eab === null ? {} : { externalAccountBinding: { kid: eab.keyId, hmacKey: eab.macKey } }),
    backoffAttempts: 10,
    backoffMin: connection.pollMinMs,
    backoffMax: connection.pollMaxMs,
  });
  const agent = new Agent({
    keepAlive: true,
    ...(connection.caRootPem === null ? {} : { ca: [...rootCertificates, connection.caRootPem] }),
  });
  // acme-client 5 sends every request through `client.http.request`; the axios options it
  // forwards are the only per-client hook for agent, timeout and signal.
  const http = (client as unknown as { http: HttpClientInternals }).http;
  const request = http.request.bind(http);
  http.request = (url, method, opts = {}) =>
    request(url, method, {
      ...opts,
      httpsAgent: agent,
      timeout: connection.requestTimeoutMs,
      signal: connection.signal,
      // Above the library's retryMaxAttempts, so its interceptor never retries.
      retryAttempt: Number.MAX_SAFE_INTEGER,
      maxRedirects: 0,
      proxy: false,
    });
  return client;
}
