/**
 * `tls internal | <cert_file> <key_file> | <email> [{ ... }]`: how the site gets its
 * certificate and which TLS settings its names get. Kept in the site config for the TLS module;
 * `protocols`, `ciphers`, `curves`, `alpn`, `on_demand`, `client_auth`, `ca`, `eab` and `issuer`
 * are read, the other block options are checked by name but not used yet.
 */
import { X509Certificate } from 'node:crypto';
import type { Directive, Token } from '../ast.ts';
import type { TlsConfig } from '../types.ts';
import { argCount, didYouMean, eachSubdirective, flag, noBlock, where, type Dispenser } from '../dispenser.ts';
import { adaptTlsEab } from '../acme-eab.ts';

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

/** TLS versions by Caddy's names, in order (TLS 1.0 and 1.1 are not offered, as in Caddy). */
export const TLS_PROTOCOLS = ['tls1.2', 'tls1.3'] as const;
type TlsProtocol = (typeof TLS_PROTOCOLS)[number];

/**
 * TLS 1.2 cipher suites Caddy (Go's crypto/tls) accepts, by IANA name, with OpenSSL's name.
 * TLS 1.3 suites are not configurable, as in Caddy; 3DES and RC4 suites are left out (SWEET32,
 * RFC 7465).
 */
export const CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
};

/** Key exchange groups by Caddy's names, with OpenSSL's. */
export const CURVES: Readonly<Record<string, string>> = {
  x25519: 'X25519',
  secp256r1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
  x25519mlkem768: 'X25519MLKEM768',
};

/** ALPN protocol ids Caddy's `alpn` accepts. */
const ALPN_IDS = ['h2', 'http/1.1', 'h3', 'http/1.0'];

/** `protocols <min> [<max>]`; the max defaults to tls1.3. */
function adaptProtocols(sub: Directive, disp: Dispenser): TlsConfig['protocols'] | null {
  if (!argCount(disp, sub, sub.args, 1, 2, `protocols <min> [<max>] (${TLS_PROTOCOLS.join(', ')})`)) return null;
  const versions: TlsProtocol[] = [];
  for (const t of sub.args) {
    if ((TLS_PROTOCOLS as readonly string[]).includes(t.text)) versions.push(t.text as TlsProtocol);
    else disp.error(t, `protocols: unknown protocol ${JSON.stringify(t.text)} (expected ${TLS_PROTOCOLS.join(' or ')})${didYouMean(t.text, TLS_PROTOCOLS)}`);
  }
  if (versions.length !== sub.args.length) return null;
  const min = versions[0]!;
  const max = versions[1] ?? 'tls1.3';
  if (TLS_PROTOCOLS.indexOf(min) > TLS_PROTOCOLS.indexOf(max)) {
    disp.error(sub, `protocols: the minimum ${min} is above the maximum ${max}`);
    return null;
  }
  return { min, max };
}

/** A list subdirective whose values must be keys of `known`; null after reporting any unknown one. */
function namesFrom(sub: Directive, disp: Dispenser, known: readonly string[], usage: string): string[] | null {
  noBlock(disp, sub);
  if (!argCount(disp, sub, sub.args, 1, Infinity, usage)) return null;
  let ok = true;
  for (const t of sub.args) {
    if (known.includes(t.text)) continue;
    ok = false;
    disp.error(t, `${sub.name}: unknown value ${JSON.stringify(t.text)}${didYouMean(t.text, known)} (expected one of ${known.join(', ')})`);
  }
  const values = sub.args.map((t) => t.text);
  if (ok && new Set(values).size !== values.length) {
    disp.error(sub, `${sub.name}: a value is listed twice`);
    return null;
  }
  return ok ? values : null;
}

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
  let eabLine: Directive | null = null;
  eachSubdirective(disp, d, {
    protocols: (sub) => {
      noBlock(disp, sub);
      const protocols = adaptProtocols(sub, disp);
      if (protocols) tls.protocols = protocols;
    },
    ciphers: (sub) => {
      const ciphers = namesFrom(sub, disp, Object.keys(CIPHER_SUITES), 'ciphers <cipher_suites...>');
      if (ciphers) tls.ciphers = ciphers;
    },
    curves: (sub) => {
      // Refused rather than accepted and ignored: Node fixes the key exchange groups before the
      // SNI callback can pick a site's context, so a per-site choice would silently not apply.
      if (namesFrom(sub, disp, Object.keys(CURVES), 'curves <curves...>')) {
        disp.error(sub, 'curves is not supported yet: the key exchange group cannot be chosen per site');
      }
    },
    alpn: (sub) => {
      const alpn = namesFrom(sub, disp, ALPN_IDS, 'alpn <protocols...>');
      if (alpn) tls.alpn = alpn;
    },
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
    eab: (sub) => {
      if (eabLine !== null) return disp.error(sub, `eab is given twice (first at ${eabLine.source.file}:${eabLine.source.line})`);
      eabLine = sub;
      // Like `ca`: an external account binding only means something to an ACME CA.
      if (tls.mode === 'default') tls.mode = 'acme';
      const eab = adaptTlsEab(sub, disp);
      if (eab !== null) tls.eab = eab;
    },
    on_demand: (sub) => {
      if (flag(disp, sub)) tls.onDemand = { source: where(sub) };
    },
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
  if (tls.onDemand !== undefined && tls.mode === 'files') {
    // A fixed certificate covers fixed names; there is nothing to obtain at handshake time.
    disp.error(d.block?.find((sub) => sub.name === 'on_demand') ?? d, 'on_demand cannot be used with a certificate and key file');
    return null;
  }
  return tls;
}
