/**
 * `tls internal | <cert_file> <key_file> | <email> [{ ... }]`: how the site gets its
 * certificate and which TLS settings its names get. Kept in the site config for the TLS module.
 * Every block option is either read and applied, or refused with a message saying what to do
 * instead.
 */
import { X509Certificate } from 'node:crypto';
import type { Directive, Token } from '../ast.ts';
import type { KeyType, TlsConfig } from '../types.ts';
import { argCount, didYouMean, eachSubdirective, flag, noBlock, once, singleArg, where, type Dispenser } from '../dispenser.ts';
import { adaptTlsEab } from '../acme-eab.ts';
import { adaptTlsDnsSubdirective, TLS_DNS_SUBDIRECTIVES } from '../acme-dns.ts';

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

/** Certificate key types by Caddy's names (`key_type`). */
export const KEY_TYPES: readonly KeyType[] = ['ed25519', 'p256', 'p384', 'rsa2048', 'rsa4096'];

/**
 * Whether `text` can be an ACME directory URL: an https URL (RFC 8555 section 6.1: over plain
 * HTTP anyone on the path could answer for the CA and take the account key's orders) that parses,
 * with a host and without credentials or a fragment. What passes here is what the certificate
 * manager can use (tls/acme/ca-storage.ts parses it again to name its storage): a URL that would
 * fail there is refused at its config line instead. One check for the global `acme_ca`,
 * `tls { ca }` and their JSON forms.
 */
export function isAcmeDirectoryUrl(text: string): boolean {
  if (!/^https:\/\/\S+$/.test(text)) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return url.hostname !== '' && url.username === '' && url.password === '' && url.hash === '';
}

/** `key_type <type>` (the global option and the tls subdirective): the type, or null after reporting. */
export function keyTypeArg(disp: Dispenser, d: Directive): KeyType | null {
  const t = singleArg(disp, d, `key_type ${KEY_TYPES.join('|')}`);
  if (t === null) return null;
  if ((KEY_TYPES as readonly string[]).includes(t.text)) return t.text as KeyType;
  const label = d.name === disp.directive ? '' : 'key_type: ';
  disp.error(t, `${label}unknown key type ${JSON.stringify(t.text)}${didYouMean(t.text, KEY_TYPES)} (expected ${KEY_TYPES.join(', ')})`);
  return null;
}

/** Subdirectives that only mean something to an ACME CA. */
const ACME_SUBDIRECTIVES: readonly string[] = ['ca', 'ca_root', 'eab', ...TLS_DNS_SUBDIRECTIVES];

/** Block options refused, with what to do instead. */
const REFUSED_SUBDIRECTIVES: Record<string, string> = {
  load: 'not supported: give each site its certificate and key with tls <cert_file> <key_file>',
  get_certificate: 'not supported (certificates from an external manager such as tailscale or an HTTP endpoint); use tls <cert_file> <key_file>, tls internal or ACME',
  // A server-side file of session secrets decrypts every captured connection; clients can log
  // their own (SSLKEYLOGFILE) for the connections being debugged, without touching the server.
  insecure_secrets_log: 'not supported: to decrypt captured traffic while debugging, set SSLKEYLOGFILE for the client (curl, Firefox, Chrome) instead',
};

/** `issuer internal|acme`, without options; null after reporting. */
function issuerArg(sub: Directive, disp: Dispenser): 'internal' | 'acme' | null {
  if (!argCount(disp, sub, sub.args, 1, Infinity, 'issuer internal|acme')) return null;
  const name = sub.args[0]!.text;
  if (name !== 'internal' && name !== 'acme') {
    const instead = name === 'zerossl' ? '; for ZeroSSL write ca https://acme.zerossl.com/v2/DV90 with eab <key_id> <mac_key>' : '';
    disp.error(sub.args[0]!, `issuer: ${JSON.stringify(name)} is not supported (only internal and acme)${instead}`);
    return null;
  }
  if (sub.args.length > 1 || sub.block !== null) {
    const instead = name === 'acme' ? 'write ca, ca_root, eab and tls <email> in the tls block' : 'the global cert_lifetime sets the lifetime';
    disp.error(sub, `issuer ${name}: options are not supported; ${instead}`);
    return null;
  }
  return name;
}

/**
 * The site's certificate source once the whole block is read: `issuer` and the ACME options
 * pick ACME or the internal CA where the arguments left it open, and a contradiction (an ACME
 * option beside `tls internal` or a key file, `issuer acme` with `tls internal`, ...) is an
 * error rather than one of them silently winning.
 */
function settleMode(d: Directive, disp: Dispenser, tls: TlsConfig, issuer: Directive | null, issuerName: 'internal' | 'acme' | null): void {
  const source = () => (tls.mode === 'files' ? 'a certificate and key file' : tls.mode === 'internal' ? 'tls internal' : 'tls <email>');
  if (issuer !== null && issuerName !== null) {
    if (tls.mode === 'default' || tls.mode === issuerName) tls.mode = issuerName;
    else disp.error(issuer, `issuer ${issuerName} contradicts ${source()}`);
  }
  const acmeLine = d.block?.find((sub) => ACME_SUBDIRECTIVES.includes(sub.name)) ?? null;
  if (acmeLine !== null) {
    if (tls.mode === 'default') tls.mode = 'acme';
    else if (tls.mode !== 'acme') disp.error(acmeLine, `${acmeLine.name} is an ACME option; it cannot be used with ${source()}`);
  }
  const keyLine = d.block?.find((sub) => sub.name === 'key_type') ?? null;
  if (keyLine !== null && tls.mode === 'files') disp.error(keyLine, 'key_type cannot be used with a certificate and key file: the key is the one in the key file');
}

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
  const dnsLine = (sub: Directive) => adaptTlsDnsSubdirective(sub, disp, tls);
  let issuerLine: Directive | null = null;
  let issuerName: 'internal' | 'acme' | null = null;
  const seen = new Map<string, Directive>();
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
    ca: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'ca <acme_directory_url>') : null;
      if (t !== null && !isAcmeDirectoryUrl(t.text)) disp.error(t, `ca: ${JSON.stringify(t.text)} is not an https:// ACME directory URL`);
      else if (t !== null) tls.ca = t.text;
    },
    ca_root: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'ca_root <pem_file>') : null;
      if (t !== null) tls.caRoot = t.text;
    },
    key_type: (sub) => {
      const keyType = once(disp, seen, sub) ? keyTypeArg(disp, sub) : null;
      if (keyType !== null) tls.keyType = keyType;
    },
    dns: dnsLine,
    propagation_delay: dnsLine,
    propagation_timeout: dnsLine,
    resolvers: dnsLine,
    dns_ttl: dnsLine,
    dns_challenge_override_domain: dnsLine,
    eab: (sub) => {
      if (eabLine !== null) return disp.error(sub, `eab is given twice (first at ${eabLine.source.file}:${eabLine.source.line})`);
      eabLine = sub;
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
      // Caddy tries several issuers in turn; Portcullis has no fallback, so one is all it takes.
      if (issuerLine !== null) return disp.error(sub, `issuer is given twice (first at ${issuerLine.source.file}:${issuerLine.source.line}); there is no fallback issuer`);
      issuerLine = sub;
      issuerName = issuerArg(sub, disp);
    },
  }, REFUSED_SUBDIRECTIVES);
  settleMode(d, disp, tls, issuerLine, issuerName);
  if (tls.onDemand !== undefined && tls.mode === 'files') {
    // A fixed certificate covers fixed names; there is nothing to obtain at handshake time.
    disp.error(d.block?.find((sub) => sub.name === 'on_demand') ?? d, 'on_demand cannot be used with a certificate and key file');
    return null;
  }
  return tls;
}
