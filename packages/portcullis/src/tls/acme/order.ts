/**
 * One ACME order for one host (RFC 8555 section 7.4): authorize each identifier with the
 * first enabled challenge type the CA offers, publish the answer (in the challenge store, or
 * as a DNS record for DNS-01) only while the CA validates it, then finalize with a fresh
 * P-256 key and download the chain.
 */
import { createSecureContext } from 'node:tls';
import type { Authorization, Client } from 'acme-client';
import type { Logger } from '../../kernel/logger.ts';
import { isIpHost } from '../host-names.ts';
import type { AcmeLibrary } from './acme-client.ts';
import type { ChallengeStore } from './challenge-store.ts';
import type { Dns01Solver } from './dns-01.ts';

/** The challenge types this client can answer. */
export type ChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';

export interface OrderRequest {
  acme: AcmeLibrary;
  client: Client;
  host: string;
  /** Enabled challenge types, most preferred first. */
  challenges: readonly ChallengeType[];
  store: ChallengeStore;
  log: Logger;
  /** Publishes DNS-01 answers; needed when `challenges` has dns-01. */
  dns?: Dns01Solver;
  /** The new certificate's private key (PEM, RSA or ECDSA; `key_type`); absent: a fresh P-256 key. */
  keyPem?: string;
  /** RFC 8555 section 7.4 `notAfter` to ask for (`cert_lifetime`, RFC 3339); absent: the CA's default. */
  notAfter?: string;
}

export interface OrderedCertificate {
  chainPem: string;
  keyPem: string;
}

type Challenge = Authorization['challenges'][number];

function pickChallenge(authz: Authorization, preference: readonly ChallengeType[]): Challenge | null {
  for (const type of preference) {
    const found = authz.challenges.find((c) => c.type === type);
    if (found) return found;
  }
  return null;
}

/** Publishes the answer for `challenge`; returns the function that withdraws it. */
async function publish(request: OrderRequest, authz: Authorization, challenge: Challenge, keyAuthorization: string): Promise<() => void | Promise<void>> {
  const { acme, host, store } = request;
  if (challenge.type === 'http-01') return store.putHttp(host, challenge.token, keyAuthorization);
  if (challenge.type === 'dns-01') {
    if (request.dns === undefined) throw new Error(`no DNS provider is configured to answer dns-01 for ${host}`);
    // For dns-01 acme-client's key authorization is already the digest the TXT record holds (RFC 8555 section 8.4).
    return request.dns.present(authz.identifier.value.toLowerCase(), keyAuthorization);
  }
  // RFC 8737 section 3: a self-signed certificate naming the host, carrying the SHA-256 of
  // the key authorization in the critical acmeIdentifier extension; built by acme-client.
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  const [, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, key);
  return store.putAlpn(host, createSecureContext({ key, cert }));
}

async function authorize(request: OrderRequest, authz: Authorization): Promise<void> {
  const { client, host, challenges, log } = request;
  // One identifier per order, so the CA must ask about exactly that one (a CA that asks about
  // another name must not make us answer for it). A wildcard's authorization names the base
  // domain and says `wildcard: true` (RFC 8555 section 7.1.4).
  const wildcard = host.startsWith('*.');
  if (authz.identifier.value.toLowerCase() !== (wildcard ? host.slice(2) : host) || (authz.wildcard === true) !== wildcard) {
    throw new Error(`the ACME server asked to authorize ${authz.wildcard === true ? '*.' : ''}${authz.identifier.value}, not ${host}`);
  }
  if (authz.status === 'valid') return; // reused from an earlier order (RFC 8555 section 7.1.4)
  const challenge = pickChallenge(authz, challenges);
  if (challenge === null) {
    const offered = authz.challenges.map((c) => c.type).join(', ');
    throw new Error(`the ACME server offers ${offered} for ${host}, none of which is enabled here (${challenges.join(', ')})`);
  }
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
  const withdraw = await publish(request, authz, challenge, keyAuthorization);
  try {
    log.info({ host, challenge: challenge.type }, 'answering an ACME challenge');
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
  } finally {
    // A record that cannot be removed must not hide whether the challenge passed.
    await Promise.resolve()
      .then(withdraw)
      .catch((error: unknown) => log.warn({ host, challenge: challenge.type, error: (error as Error).message }, 'withdrawing an ACME challenge answer failed'));
  }
}

/** Orders a certificate for `request.host`; throws with the CA's problem detail on failure. */
export async function orderCertificate(request: OrderRequest): Promise<OrderedCertificate> {
  const { acme, client, host } = request;
  const identifier = { type: isIpHost(host) ? 'ip' : 'dns', value: host };
  const order = await client.createOrder({ identifiers: [identifier], ...(request.notAfter === undefined ? {} : { notAfter: request.notAfter }) });
  for (const authz of await client.getAuthorizations(order)) await authorize(request, authz);
  const keyPem = request.keyPem ?? (await acme.crypto.createPrivateEcdsaKey('P-256')).toString('utf8');
  // Names in the SAN only: a common name is optional (RFC 8555 section 7.4) and IPs never belong there.
  const [, csr] = await acme.crypto.createCsr({ altNames: [host] }, keyPem);
  const finalized = await client.finalizeOrder(order, csr);
  const chainPem = await client.getCertificate(finalized);
  return { chainPem, keyPem };
}
