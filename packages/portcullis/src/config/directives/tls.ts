/**
 * `tls internal | <cert_file> <key_file> | <email> [{ ... }]`: how the site gets its
 * certificate. Kept in the site config for the TLS module; the block's options are checked by
 * name (and `ca`, `issuer internal` read) but otherwise not used yet.
 */
import type { Directive } from '../ast.ts';
import type { TlsConfig } from '../types.ts';
import { argCount, eachSubdirective, type Dispenser } from '../dispenser.ts';

const LATER = () => undefined;

export function adaptTls(d: Directive, disp: Dispenser): TlsConfig | null {
  if (!argCount(disp, d, d.args, 0, 2, 'tls internal | tls <cert_file> <key_file> | tls <email>')) return null;
  const tls: TlsConfig = { mode: 'default', source: d.source };
  const [a, b] = d.args;
  if (d.args.length === 2) {
    tls.mode = 'files';
    tls.certFile = a!.text;
    tls.keyFile = b!.text;
  } else if (a !== undefined) {
    if (a.text === 'internal') tls.mode = 'internal';
    else if (/^[^@\s]+@[^@\s]+$/.test(a.text)) {
      tls.mode = 'acme';
      tls.email = a.text;
    } else {
      disp.error(a, `a single argument must be internal or an email address (got ${JSON.stringify(a.text)})`);
      return null;
    }
  } else if (d.block === null) {
    disp.error(d, 'expected internal, a certificate and key file, an email address, or a block');
    return null;
  }
  eachSubdirective(disp, d, {
    protocols: LATER,
    ciphers: LATER,
    curves: LATER,
    alpn: LATER,
    load: LATER,
    ca: (sub) => {
      if (tls.mode === 'default') tls.mode = 'acme';
      argCount(disp, sub, sub.args, 1, 1, 'ca <acme_directory_url>');
    },
    ca_root: LATER,
    key_type: LATER,
    dns: LATER,
    propagation_delay: LATER,
    propagation_timeout: LATER,
    resolvers: LATER,
    dns_ttl: LATER,
    dns_challenge_override_domain: LATER,
    eab: LATER,
    on_demand: LATER,
    client_auth: LATER,
    issuer: (sub) => {
      if (sub.args[0]?.text === 'internal' && tls.mode === 'default') tls.mode = 'internal';
      else if (sub.args[0]?.text === 'acme' && tls.mode === 'default') tls.mode = 'acme';
    },
    get_certificate: LATER,
    insecure_secrets_log: LATER,
  });
  return tls;
}
