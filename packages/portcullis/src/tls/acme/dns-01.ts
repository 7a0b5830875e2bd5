/**
 * The DNS-01 challenge (RFC 8555 section 8.4): publish the key authorization's digest as the
 * TXT record `_acme-challenge.<domain>` (or at the override domain) through the DNS provider,
 * wait until the resolvers see it (so the CA, which looks it up once, does too), and remove it
 * again once the CA is done.
 */
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseHostPort } from '../../config/index.ts';
import { ErrorCodes, PortcullisError, type ErrorCode } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/logger.ts';
import { createRfc2136Client, type Rfc2136Client } from './dns-rfc2136.ts';
import type { TsigAlgorithm } from './dns-tsig.ts';

/** A challenge record that never became visible to the resolvers. */
export const DNS_NOT_PROPAGATED: ErrorCode = ErrorCodes.ERR_ACME_DNS_PROPAGATION;

/** How a site's DNS challenge is answered: the provider and the propagation settings, defaults applied. */
export interface Dns01Settings {
  provider: 'rfc2136';
  /** host:port of the server that takes the updates. */
  server: string;
  keyName: string;
  keyAlgorithm: TsigAlgorithm;
  /** The base64 TSIG secret. */
  keySecret: string;
  propagationDelayMs: number;
  /** How long the record may take to be visible; negative: not checked. */
  propagationTimeoutMs: number;
  /** `ip:port` servers asked whether the record is visible; empty: the provider's server. */
  resolvers: string[];
  ttlSeconds: number;
  /** The whole name the record goes to instead (CNAME delegation), as certmagic's OverrideDomain; null: `_acme-challenge.<domain>`. */
  overrideDomain: string | null;
}

export interface Dns01Options {
  log: Logger;
  /** Aborts updates and waits in flight (shutdown); the record is still removed. */
  signal?: AbortSignal;
  /** Wait between propagation checks (default 2 s, as certmagic). */
  pollMs?: number;
  /** Per DNS message (default 10 s). */
  timeoutMs?: number;
}

export interface Dns01Solver {
  /**
   * Publishes `digest` (the dns-01 key authorization) for the authorization's `domain` (without
   * `*.`) and waits until it is visible; resolves with the function that removes it. Throws,
   * with the record already removed, when it cannot be published or never becomes visible.
   */
  present(domain: string, digest: string): Promise<() => Promise<void>>;
}

/**
 * `_acme-challenge.<domain>`, or the override domain itself: the target of a CNAME at
 * `_acme-challenge.<domain>`. Caddy (certmagic's DNS01Solver) uses the override as the whole
 * owner name, so a Caddyfile written for it publishes at the same name here.
 */
export function challengeRecordName(domain: string, overrideDomain: string | null): string {
  return overrideDomain ?? `_acme-challenge.${domain}`;
}

/** node:dns servers for the propagation check: the resolvers, else the provider's server (its name looked up). */
async function propagationServers(settings: Dns01Settings, server: { host: string; port: number }): Promise<string[]> {
  if (settings.resolvers.length > 0) return settings.resolvers;
  const address = isIP(server.host) !== 0 ? server.host : (await lookup(server.host)).address;
  return [address.includes(':') ? `[${address}]:${server.port}` : `${address}:${server.port}`];
}

/** Whether `servers` answer `name` with a TXT record whose text is `value`; the error text when they cannot say. */
async function visible(servers: string[], name: string, value: string, timeoutMs: number): Promise<true | string> {
  // A fresh resolver each time: c-ares may cache answers, and an early NXDOMAIN must not stick.
  const resolver = new Resolver({ timeout: Math.min(timeoutMs, 5000), tries: 2 });
  resolver.setServers(servers);
  try {
    const records = await resolver.resolveTxt(name);
    return records.some((chunks) => chunks.join('') === value) ? true : 'the record is not there yet';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/** A solver for one site's settings, used for one order. */
export function createDns01Solver(settings: Dns01Settings, options: Dns01Options): Dns01Solver {
  const { log, signal } = options;
  const pollMs = options.pollMs ?? 2000;
  const server = parseHostPort(settings.server);
  // The config reader checked it; a hand-built settings object is refused rather than guessed at.
  if (server === null) throw new Error(`the DNS server ${JSON.stringify(settings.server)} is not host:port`);
  const clientOptions = {
    server,
    key: { name: settings.keyName, algorithm: settings.keyAlgorithm, secret: Buffer.from(settings.keySecret, 'base64') },
    timeoutMs: options.timeoutMs ?? 10_000,
  };
  const client: Rfc2136Client = createRfc2136Client({ ...clientOptions, ...(signal ? { signal } : {}) });
  // Removal runs after a shutdown began too: a challenge record left behind would linger in the zone.
  const cleanupClient: Rfc2136Client = createRfc2136Client(clientOptions);

  const waitForPropagation = async (zone: string, name: string, digest: string): Promise<void> => {
    if (settings.propagationDelayMs > 0) await sleep(settings.propagationDelayMs, undefined, signal ? { signal } : {});
    if (settings.propagationTimeoutMs < 0) return;
    const servers = await propagationServers(settings, server);
    const deadline = Date.now() + settings.propagationTimeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const seen = await visible(servers, name, digest, clientOptions.timeoutMs);
      if (seen === true) return;
      if (Date.now() + pollMs > deadline) {
        throw new PortcullisError(
          DNS_NOT_PROPAGATED,
          `the TXT record ${name} (zone ${zone}) was added on ${client.server} but ${servers.join(', ')} did not show it within ${settings.propagationTimeoutMs / 1000} s (last answer: ${seen}); raise propagation_timeout or check resolvers`,
        );
      }
      await sleep(pollMs, undefined, signal ? { signal } : {});
    }
  };

  return {
    async present(domain, digest) {
      const name = challengeRecordName(domain, settings.overrideDomain);
      const zone = await client.findZone(name);
      try {
        await client.addTxt(zone, name, digest, settings.ttlSeconds);
      } catch (error) {
        // The server may have applied an update whose answer was lost (timeout, shutdown) or
        // did not verify (signature, time, malformed, another id); else each retry would leave
        // one more value behind. Deleting a record that is not there changes nothing (RFC 2136
        // section 3.4.2.4), so the delete is sent whatever the failure was.
        await cleanupClient
          .deleteTxt(zone, name, digest)
          .catch((cleanup: unknown) => log.warn({ record: name, zone, error: (cleanup as Error).message }, 'removing the ACME DNS challenge record after a failed add failed'));
        throw error;
      }
      log.info({ record: name, zone, server: client.server }, 'added the ACME DNS challenge record');
      const remove = async () => {
        await cleanupClient.deleteTxt(zone, name, digest);
        log.info({ record: name, zone, server: client.server }, 'removed the ACME DNS challenge record');
      };
      try {
        await waitForPropagation(zone, name, digest);
      } catch (error) {
        await remove().catch((cleanup: unknown) => log.warn({ record: name, zone, error: (cleanup as Error).message }, 'removing the ACME DNS challenge record failed'));
        throw error;
      }
      return remove;
    },
  };
}
