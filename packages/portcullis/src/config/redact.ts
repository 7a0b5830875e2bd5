/**
 * What a printed config must not show: client secrets, the CrowdSec bouncer key and
 * machine password, ACME external account binding MAC keys and DNS challenge TSIG keys. The
 * adapted Config keeps them (the server needs them), so whatever prints a config for people
 * (`portcullis adapt`, the admin API's GET /config) prints `redactSecrets(config)` instead. A
 * redacted config read back is refused with a message saying so, rather than running with a
 * placeholder as the secret.
 */
import type { Config } from './types.ts';

/** Stands in for a secret; shorter than any accepted secret, and recognised by the JSON reader. */
export const REDACTED_SECRET = '(redacted)';

/** A copy of `config` with every secret replaced by REDACTED_SECRET. */
export function redactSecrets(config: Config): Config {
  return redactAcmeDns(redactAcmeEab(redactCrowdSec(redactClientSecrets(config))));
}

/** The TSIG key of the global `acme_dns` and of every site's `tls { dns rfc2136 { key ... } }`. */
function redactAcmeDns(config: Config): Config {
  const global = config.tls.acmeDns;
  const anySite = config.sites.some((s) => s.tls?.dns?.provider !== undefined);
  if (global === undefined && !anySite) return config;
  const tls = global === undefined ? config.tls : { ...config.tls, acmeDns: { ...global, key: REDACTED_SECRET } };
  const sites = config.sites.map((s) => {
    const provider = s.tls?.dns?.provider;
    return provider === undefined ? s : { ...s, tls: { ...s.tls!, dns: { ...s.tls!.dns!, provider: { ...provider, key: REDACTED_SECRET } } } };
  });
  return { ...config, tls, sites };
}

/** The global `acme_eab` and every site's `tls { eab }` MAC key (the key id is an identifier, not a secret). */
function redactAcmeEab(config: Config): Config {
  const global = config.tls.acmeEab;
  const anySite = config.sites.some((s) => s.tls?.eab !== undefined);
  if (global === undefined && !anySite) return config;
  const tls = global === undefined ? config.tls : { ...config.tls, acmeEab: { ...global, macKey: REDACTED_SECRET } };
  const sites = !anySite
    ? config.sites
    : config.sites.map((s) => (s.tls?.eab === undefined ? s : { ...s, tls: { ...s.tls, eab: { ...s.tls.eab, macKey: REDACTED_SECRET } } }));
  return { ...config, tls, sites };
}

function redactClientSecrets(config: Config): Config {
  if (config.identity === null || config.identity.clients.every((c) => c.secret === null)) return config;
  const clients = config.identity.clients.map((c) => (c.secret === null ? c : { ...c, secret: REDACTED_SECRET }));
  return { ...config, identity: { ...config.identity, clients } };
}

function redactCrowdSec(config: Config): Config {
  const crowdsec = config.guard?.crowdsec;
  if (!config.guard || !crowdsec || (crowdsec.apiKey === null && crowdsec.password === null)) return config;
  const redacted = {
    ...crowdsec,
    apiKey: crowdsec.apiKey === null ? null : REDACTED_SECRET,
    password: crowdsec.password === null ? null : REDACTED_SECRET,
  };
  return { ...config, guard: { ...config.guard, crowdsec: redacted } };
}
