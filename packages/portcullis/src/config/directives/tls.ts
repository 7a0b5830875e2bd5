/**
 * `tls internal | <cert_file> <key_file> | <email> [{ ... }]`: how the site gets its
 * certificate. Kept in the site config for the TLS module; the block's options are checked by
 * name (and `ca`, `issuer internal`, `client_auth` read) but otherwise not used yet.
 */
import { X509Certificate } from 'node:crypto';
import type { Directive, Token } from '../ast.ts';
import type { TlsConfig } from '../types.ts';
import { argCount, eachSubdirective, where, type Dispenser } from '../dispenser.ts';

type ClientAuth = NonNullable<TlsConfig['clientAuth']>;
const CLIENT_AUTH_MODES: readonly ClientAuth['mode'][] = ['request', 'require', 'verify_if_given', 'require_and_verify'];
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A `trusted_ca_cert` value: base64 DER of one X.509 certificate, checked here so a typo is an adapt error. */
function derCertificate(disp: Dispenser, token: Token): string | null {
  const text = token.text;
  if (text.length % 4 === 0 && BASE64.test(text)) {
    try {
      new X509Certificate(Buffer.from(text, 'base64'));
      return text;
    } catch {
      // reported below
    }
  }
  disp.error(token, 'client_auth: trusted_ca_cert must be one certificate in base64 DER (a PEM body without its header lines)');
  return null;
}

/**
 * `client_auth { mode ...; trusted_ca_cert_file ...; trusted_ca_cert ... }`. As in Caddy, the
 * mode defaults to require_and_verify when CAs are given and to require otherwise; a verifying
 * mode without a CA would admit nobody, so it is an error rather than a silent lock-out.
 */
function adaptClientAuth(sub: Directive, disp: Dispenser): ClientAuth | null {
  argCount(disp, sub, sub.args, 0, 0, 'client_auth { mode <mode>; trusted_ca_cert_file <pem_file> }');
  let mode = null as ClientAuth['mode'] | null;
  const files: string[] = [];
  const inline: string[] = [];
  const before = disp.errors.errors.length;
  const modeLine = (d: Directive) => {
    if (!argCount(disp, d, d.args, 1, 1, `mode ${CLIENT_AUTH_MODES.join('|')}`)) return;
    const text = d.args[0]!.text;
    if (mode !== null) disp.error(d, 'client_auth: mode is given twice');
    else if ((CLIENT_AUTH_MODES as readonly string[]).includes(text)) mode = text as ClientAuth['mode'];
    else disp.error(d.args[0]!, `client_auth: unknown mode ${JSON.stringify(text)} (expected ${CLIENT_AUTH_MODES.join(', ')})`);
  };
  const leafLater = 'not built yet (admitting only listed leaf certificates); trust their CA with trusted_ca_cert_file';
  eachSubdirective(
    disp,
    sub,
    {
      mode: modeLine,
      trusted_ca_cert_file: (d) => {
        if (argCount(disp, d, d.args, 1, Infinity, 'trusted_ca_cert_file <pem_file>...')) files.push(...d.args.map((a) => a.text));
      },
      trusted_ca_cert: (d) => {
        if (!argCount(disp, d, d.args, 1, Infinity, 'trusted_ca_cert <base64_der>...')) return;
        for (const a of d.args) {
          const der = derCertificate(disp, a);
          if (der !== null) inline.push(der);
        }
      },
    },
    {
      trusted_leaf_cert: leafLater,
      trusted_leaf_cert_file: leafLater,
      trust_pool: 'not built yet; use trusted_ca_cert_file',
      verifier: 'not built yet',
    },
  );
  const hasCa = files.length > 0 || inline.length > 0;
  const chosen: ClientAuth['mode'] = mode ?? (hasCa ? 'require_and_verify' : 'require');
  if ((chosen === 'verify_if_given' || chosen === 'require_and_verify') && !hasCa) {
    disp.error(sub, `client_auth: mode ${chosen} needs trusted_ca_cert_file or trusted_ca_cert (the CAs client certificates must chain to)`);
  }
  if (disp.errors.errors.length !== before) return null;
  return { mode: chosen, trustedCaFiles: files, ...(inline.length > 0 ? { trustedCaCerts: inline } : {}), source: where(sub) };
}

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
    client_auth: (sub) => {
      if (tls.clientAuth !== undefined) return disp.error(sub, 'client_auth is given twice');
      const clientAuth = adaptClientAuth(sub, disp);
      if (clientAuth !== null) tls.clientAuth = clientAuth;
    },
    issuer: (sub) => {
      if (sub.args[0]?.text === 'internal' && tls.mode === 'default') tls.mode = 'internal';
      else if (sub.args[0]?.text === 'acme' && tls.mode === 'default') tls.mode = 'acme';
    },
    get_certificate: LATER,
    insecure_secrets_log: LATER,
  });
  return tls;
}
