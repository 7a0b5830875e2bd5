/**
 * The global options block (the first block, without addresses): admin endpoint, logging,
 * ports, automatic HTTPS, certificates, server limits, directive order, the database and the
 * identity provider (its block is read by identity-options.ts). Unknown options are errors, and
 * so are Caddy options Portcullis does not apply: a setting is either used or refused, never
 * accepted and ignored.
 */
import type { Directive, ServerBlock, Token } from './ast.ts';
import type { Config, ServerOptions } from './types.ts';
import type { ErrorList } from '../kernel/errors.ts';
import { parseIp } from '../kernel/ip-ranges.ts';
import {
  argCount,
  createDispenser,
  didYouMean,
  durationArg,
  eachSubdirective,
  flag,
  intArg,
  noBlock,
  singleArg,
  sizeArg,
  where,
  type Dispenser,
} from './dispenser.ts';
import { parseClientIpHeaders, parseTrustedProxies } from './client-ip-options.ts';
import { DEFAULT_DIRECTIVE_ORDER, moveDirective, type OrderPosition } from './directive-order.ts';
import { parseAcmeEabOption } from './acme-eab.ts';
import { parseDnsProvider } from './acme-dns.ts';
import { checkBindAddress } from './directives/bind.ts';
import { isAcmeDirectoryUrl, keyTypeArg } from './directives/tls.ts';
import { parseDatabase, parseIdentityBlock } from './identity-options.ts';
import { parseGuardBlock } from './guard-options.ts';
import { isHostName } from '../kernel/dns-names.ts';

export type GlobalOptions = Omit<Config, 'sites'> & {
  /** Directive order after `order` options. */
  order: string[];
};

/**
 * Why these defaults (Caddy leaves read and write timeouts unlimited):
 * - read_header 10s: a slowloris client dribbling headers holds a socket for at most 10s.
 * - read_body 5m: the whole request must arrive within 5 minutes (Node's own default); a slow
 *   upload of a large body still fits, an attacker trickling one byte a minute does not.
 * - write 0: responses may stream for long (downloads, server-sent events).
 * - idle 5m: Caddy's keep-alive idle timeout.
 * - max_header_size 64KiB: Node's 16KiB rejects real requests with large cookies (several
 *   OIDC/JWT cookies easily pass 16KiB); Caddy's 1MiB lets each connection pin a megabyte.
 * - grace_period 10s: a reload or shutdown waits this long for in-flight requests.
 */
export function defaultServerOptions(): ServerOptions {
  return {
    readHeaderTimeoutMs: 10_000,
    readTimeoutMs: 300_000,
    writeTimeoutMs: 0,
    idleTimeoutMs: 300_000,
    maxHeaderBytes: 64 * 1024,
    trustedProxies: [],
    gracePeriodMs: 10_000,
  };
}

export function defaultGlobalOptions(): GlobalOptions {
  return {
    admin: { listen: 'localhost:2019' },
    logLevel: 'info',
    server: defaultServerOptions(),
    httpPort: 80,
    httpsPort: 443,
    autoHttps: 'on',
    metrics: { perHost: false },
    tls: { storage: null, localCerts: false },
    database: { driver: 'sqlite', path: null },
    identity: null,
    order: [...DEFAULT_DIRECTIVE_ORDER],
  };
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Validates a log level name (any case; `WARNING` is not Caddy's and not ours). Returns it lower-cased. */
export function logLevel(disp: Dispenser, token: Token, label: string): string | null {
  const level = token.text.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level;
  disp.error(token, `${label}: unknown log level ${JSON.stringify(token.text)} (expected ${LOG_LEVELS.join(', ')})${didYouMean(level, LOG_LEVELS)}`);
  return null;
}

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/**
 * `cert_lifetime` bounds: under an hour, renewal (at two thirds of the life) would leave too
 * little time for a retry; 398 days is the longest a public CA may issue (CA/Browser Forum
 * Baseline Requirements 6.3.2). The internal CA signs for at most 7 days (tls/internal-ca.ts).
 */
export const CERT_LIFETIME_RANGE = { min: HOUR, max: 398 * DAY } as const;
/** `renew_interval` bounds: checks are cheap map scans, but a day between them is the most that makes sense. */
export const RENEW_INTERVAL_RANGE = { min: 1000, max: DAY } as const;

/** A duration option within `range`, in ms; null after reporting. */
function boundedDuration(disp: Dispenser, d: Directive, range: { min: number; max: number }, bounds: string): number | null {
  const t = singleArg(disp, d, `${d.name} <duration>`);
  const ms = t && durationArg(disp, t, d.name);
  if (t === null || ms === null) return null;
  if (ms >= range.min && ms <= range.max) return ms;
  disp.error(t, `must be between ${bounds}`);
  return null;
}

/** A name a certificate is chosen by (`default_sni`, `fallback_sni`), lower-cased, brackets off an IPv6 address; null after reporting. */
function sniName(disp: Dispenser, d: Directive): string | null {
  const t = singleArg(disp, d, `${d.name} <name>`);
  if (t === null) return null;
  const name = t.text.toLowerCase().replace(/^\[|\]$/g, '');
  // A typo here would silently match no certificate: say so at load instead.
  if (parseIp(name) !== null || isHostName(name)) return name;
  disp.error(t, `${JSON.stringify(t.text)} is not a host name or IP address`);
  return null;
}

/**
 * Caddy's TLS options that Portcullis refuses, with what to do instead. `ocsp_stapling off`
 * and `storage_clean_interval off` are accepted (they say what Portcullis does anyway).
 */
const REFUSED_TLS_OPTIONS: Record<string, string> = {
  cert_issuer: 'not supported: use local_certs for the internal CA, or acme_ca, acme_ca_root, acme_eab and email for an ACME CA (tls { ca ... } per site)',
  preferred_chains: 'not supported yet: the chain the ACME CA offers by default is served',
  ocsp_interval: 'not supported: Portcullis does not staple OCSP responses, so there is nothing to refresh; remove it',
};

const UNSUPPORTED_OPTIONS: Record<string, string> = {
  persist_config: 'not needed: Portcullis never writes its config back',
  shutdown_delay: 'not supported yet; grace_period bounds how long shutdown waits',
  filesystem: 'not supported',
  pki: 'not supported yet',
  events: 'not supported',
};

export function parseGlobalOptions(block: ServerBlock | null, errors: ErrorList): GlobalOptions {
  const options = defaultGlobalOptions();
  if (block === null) return options;
  let logLevelSet = false;
  let debug = false;
  let serversSeen: Directive | null = null;
  const onceSeen = new Map<string, Directive>();
  /** True the first time; reports later uses of an option that may appear once. */
  const firstUse = (d: Directive, disp: Dispenser): boolean => {
    const first = onceSeen.get(d.name);
    if (first === undefined) {
      onceSeen.set(d.name, d);
      return true;
    }
    disp.error(d, `already set at ${first.source.file}:${first.source.line}; write it once`);
    return false;
  };
  const table: Record<string, (d: Directive, disp: Dispenser) => void> = {
    admin: (d, disp) => parseAdmin(d, disp, options),
    debug: (d, disp) => {
      debug = flag(disp, d) || debug;
    },
    log: (d, disp) => {
      logLevelSet = parseGlobalLog(d, disp, options) || logLevelSet;
    },
    http_port: (d, disp) => {
      const t = singleArg(disp, d, 'http_port <port>');
      const port = t && intArg(disp, t, 'http_port', 0, 65535);
      if (port !== null) options.httpPort = port;
    },
    https_port: (d, disp) => {
      const t = singleArg(disp, d, 'https_port <port>');
      const port = t && intArg(disp, t, 'https_port', 0, 65535);
      if (port !== null) options.httpsPort = port;
    },
    default_bind: (d, disp) => {
      noBlock(disp, d);
      if (!argCount(disp, d, d.args, 1, Infinity, 'default_bind <hosts...>')) return;
      for (const t of d.args) if (checkBindAddress(disp, t)) (options.defaultBind ??= []).push(t.text);
    },
    auto_https: (d, disp) => parseAutoHttps(d, disp, options),
    email: (d, disp) => {
      const t = singleArg(disp, d, 'email <address>');
      if (t && !/^[^@\s]+@[^@\s]+$/.test(t.text)) disp.error(t, `${JSON.stringify(t.text)} is not an email address`);
      else if (t) options.tls.email = t.text;
    },
    acme_ca: (d, disp) => {
      const t = singleArg(disp, d, 'acme_ca <directory_url>');
      if (t && !isAcmeDirectoryUrl(t.text)) disp.error(t, `${JSON.stringify(t.text)} is not an https:// ACME directory URL`);
      else if (t) options.tls.acmeCa = t.text;
    },
    acme_ca_root: (d, disp) => {
      const t = singleArg(disp, d, 'acme_ca_root <pem_file>');
      if (t) options.tls.acmeCaRoot = t.text;
    },
    acme_eab: (d, disp) => {
      const eab = firstUse(d, disp) ? parseAcmeEabOption(d, disp) : null;
      if (eab !== null) options.tls.acmeEab = eab;
    },
    acme_dns: (d, disp) => {
      const dns = firstUse(d, disp) ? parseDnsProvider(d, disp) : null;
      if (dns !== null) options.tls.acmeDns = dns;
    },
    local_certs: (d, disp) => {
      options.tls.localCerts = flag(disp, d) || options.tls.localCerts;
    },
    default_sni: (d, disp) => {
      const name = sniName(disp, d);
      if (name !== null) options.tls.defaultSni = name;
    },
    fallback_sni: (d, disp) => {
      const name = firstUse(d, disp) ? sniName(disp, d) : null;
      if (name !== null) options.tls.fallbackSni = { name, source: where(d) };
    },
    key_type: (d, disp) => {
      const keyType = firstUse(d, disp) ? keyTypeArg(disp, d) : null;
      if (keyType !== null) options.tls.keyType = keyType;
    },
    cert_lifetime: (d, disp) => {
      const ms = firstUse(d, disp) ? boundedDuration(disp, d, CERT_LIFETIME_RANGE, '1h and 398d') : null;
      if (ms !== null) options.tls.certLifetimeMs = ms;
    },
    renew_interval: (d, disp) => {
      const ms = firstUse(d, disp) ? boundedDuration(disp, d, RENEW_INTERVAL_RANGE, '1s and 1d') : null;
      if (ms !== null) options.tls.renewIntervalMs = ms;
    },
    // True by construction: only `portcullis trust`, run by hand, installs the internal root anywhere.
    skip_install_trust: (d, disp) => {
      flag(disp, d);
    },
    ocsp_stapling: (d, disp) => {
      const t = singleArg(disp, d, 'ocsp_stapling off');
      // Portcullis staples no OCSP responses, so `off` is what it does already.
      if (t !== null && t.text !== 'off') disp.error(t, `only off is accepted: Portcullis does not staple OCSP responses (got ${JSON.stringify(t.text)})`);
    },
    storage_clean_interval: (d, disp) => {
      const t = singleArg(disp, d, 'storage_clean_interval off');
      // Nothing cleans the storage, so `off` is what happens already; an interval would be a promise not kept.
      if (t !== null && t.text !== 'off') {
        disp.error(t, 'only off is accepted: Portcullis does not clean its storage (expired certificates stay on disk and are never served; delete them by hand)');
      }
    },
    storage: (d, disp) => parseStorage(d, disp, options),
    on_demand_tls: (d, disp) => parseOnDemandTls(d, disp, options),
    servers: (d, disp) => {
      if (serversSeen !== null) {
        disp.error(d, `servers options are already set at ${serversSeen.source.file}:${serversSeen.source.line}; write them in one block`);
        return;
      }
      serversSeen = d;
      parseServers(d, disp, options.server);
    },
    grace_period: (d, disp) => {
      const t = singleArg(disp, d, 'grace_period <duration>');
      const ms = t && durationArg(disp, t, 'grace_period');
      if (ms !== null) options.server.gracePeriodMs = ms;
    },
    metrics: (d, disp) => {
      argCount(disp, d, d.args, 0, 0, 'metrics { per_host }');
      eachSubdirective(disp, d, {
        per_host: (sub) => {
          if (flag(disp, sub)) options.metrics.perHost = true;
        },
      });
    },
    order: (d, disp) => parseOrder(d, disp, options),
    database: (d, disp) => {
      const database = firstUse(d, disp) ? parseDatabase(d, disp) : null;
      if (database !== null) options.database = database;
    },
    identity: (d, disp) => {
      if (firstUse(d, disp)) options.identity = parseIdentityBlock(d, disp);
    },
    guard: (d, disp) => {
      if (firstUse(d, disp)) options.guard = parseGuardBlock(d, disp);
    },
  };
  for (const d of block.directives) {
    const disp = createDispenser(errors, d.name);
    const handler = Object.hasOwn(table, d.name) ? table[d.name] : undefined;
    if (handler) handler(d, disp);
    else if (Object.hasOwn(REFUSED_TLS_OPTIONS, d.name)) disp.error(d, REFUSED_TLS_OPTIONS[d.name]!);
    else if (Object.hasOwn(UNSUPPORTED_OPTIONS, d.name)) disp.error(d, UNSUPPORTED_OPTIONS[d.name]!);
    else disp.error(d, `unknown global option${didYouMean(d.name, Object.keys(table))}`);
  }
  if (debug && !logLevelSet) options.logLevel = 'debug';
  return options;
}

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const ip = parseIp(host);
  if (ip === null) return false;
  if ('v4' in ip) return ip.v4 >>> 24 === 127;
  return ip.v6.every((w, i) => (i < 3 ? w === 0 : w === 1));
}

/** Why `listen` cannot be the admin endpoint, or null when it can (loopback host:port, unix/path). */
export function adminListenProblem(listen: string): string | null {
  if (listen.startsWith('unix/')) return listen.length > 'unix/'.length ? null : 'a unix socket address needs a path: unix//run/portcullis.sock';
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (m === null || Number(m[3]) > 65535) return `${JSON.stringify(listen)} is not host:port (e.g. localhost:2019)`;
  // The admin API has no authentication; anyone who can reach it can reconfigure the server.
  if (!isLoopbackHost(m[1] ?? m[2] ?? '')) {
    return `${JSON.stringify(listen)}: the admin endpoint must listen on a loopback address (localhost, 127.0.0.1, [::1]) or a unix socket, since it has no authentication`;
  }
  return null;
}

function parseAdmin(d: Directive, disp: Dispenser, options: GlobalOptions): void {
  if (d.block !== null) {
    // Caddy's origins / enforce_origin guard a network-reachable endpoint; ours never is one.
    disp.error(d, 'the admin block (origins, enforce_origin, ...) is not supported: the admin endpoint listens on loopback only');
  }
  if (!argCount(disp, d, d.args, 1, 1, 'admin off | admin <host:port> | admin unix/<path>')) return;
  const t = d.args[0]!;
  if (t.text === 'off') {
    options.admin = { listen: null };
    return;
  }
  const problem = adminListenProblem(t.text);
  if (problem !== null) disp.error(t, problem);
  else options.admin = { listen: t.text };
}

function parseGlobalLog(d: Directive, disp: Dispenser, options: GlobalOptions): boolean {
  let set = false;
  if (d.args.length > 1 || (d.args.length === 1 && d.args[0]!.text !== 'default')) {
    disp.error(d, 'named loggers are not supported; configure the process log with log { level ... }');
  }
  eachSubdirective(
    disp,
    d,
    {
      level: (sub) => {
        const t = singleArg(disp, sub, 'level debug|info|warn|error');
        const level = t && logLevel(disp, t, 'level');
        if (level !== null) {
          options.logLevel = level;
          set = true;
        }
      },
    },
    {
      output: 'not supported for the process log yet (it goes to stderr); access logs take output in the site log directive',
      format: 'not supported for the process log yet (JSON lines, pretty on a terminal)',
      include: 'not supported',
      exclude: 'not supported',
      sampling: 'not supported',
    },
  );
  return set;
}

function parseAutoHttps(d: Directive, disp: Dispenser, options: GlobalOptions): void {
  noBlock(disp, d);
  const t = singleArg(disp, d, 'auto_https off|disable_redirects');
  if (t === null) return;
  if (t.text === 'off' || t.text === 'disable_redirects') options.autoHttps = t.text;
  else if (['disable_certs', 'ignore_loaded_certs', 'prefer_wildcard'].includes(t.text)) disp.error(t, `${t.text} is not supported yet`);
  else disp.error(t, `unknown value ${JSON.stringify(t.text)} (expected off or disable_redirects)`);
}

function parseServers(d: Directive, disp: Dispenser, server: ServerOptions): void {
  if (d.args.length > 0) {
    disp.error(d, 'options for one listener address are not supported yet; write servers { ... } without an address');
  }
  if (d.block === null) {
    disp.error(d, 'expected a block: servers { ... }');
    return;
  }
  eachSubdirective(
    disp,
    d,
    {
      timeouts: (sub) => {
        argCount(disp, sub, sub.args, 0, 0, 'timeouts { read_body|read_header|write|idle <duration> }');
        const timeout = (key: 'readTimeoutMs' | 'readHeaderTimeoutMs' | 'writeTimeoutMs' | 'idleTimeoutMs') => (s: Directive) => {
          const t = singleArg(disp, s, `${s.name} <duration>`);
          const ms = t && durationArg(disp, t, `timeouts ${s.name}`);
          if (ms !== null) server[key] = ms;
        };
        eachSubdirective(disp, sub, {
          read_body: timeout('readTimeoutMs'),
          read_header: timeout('readHeaderTimeoutMs'),
          write: timeout('writeTimeoutMs'),
          idle: timeout('idleTimeoutMs'),
        });
        if (sub.block === null) disp.error(sub, 'timeouts: expected a block');
      },
      max_header_size: (sub) => {
        const t = singleArg(disp, sub, 'max_header_size <size>');
        const bytes = t && sizeArg(disp, t, 'max_header_size');
        if (bytes === null || t === null) return;
        // Below 1KiB ordinary requests fail; above 16MiB each connection can pin that much memory.
        if (bytes < 1024 || bytes > 16 * 1024 * 1024) disp.error(t, 'max_header_size: must be between 1KiB and 16MiB');
        else server.maxHeaderBytes = bytes;
      },
      trusted_proxies: (sub) => parseTrustedProxies(sub, disp, server),
      client_ip_headers: (sub) => parseClientIpHeaders(sub, disp, server),
      // Caddy's opt-in to right-to-left parsing: always on here, left to right is spoofable.
      trusted_proxies_strict: (sub) => {
        flag(disp, sub);
      },
      // Caddy's switch to turn metrics on for the server; Portcullis' metrics come from the
      // metrics directive and the global metrics option, so this is accepted as a no-op.
      metrics: (sub) => {
        flag(disp, sub);
      },
      protocols: (sub) => {
        noBlock(disp, sub);
        if (!argCount(disp, sub, sub.args, 1, Infinity, 'protocols h1|h2|h2c|h3...')) return;
        for (const t of sub.args) {
          if (!['h1', 'h2', 'h2c', 'h3'].includes(t.text)) disp.error(t, `protocols: unknown protocol ${JSON.stringify(t.text)} (expected h1, h2, h2c or h3)`);
        }
      },
    },
    {
      keepalive_interval: 'not supported yet',
      log_credentials: 'not supported yet',
      strict_sni_host: 'not supported yet',
      listener_wrappers: 'not supported',
      name: 'not supported',
      enable_full_duplex: 'not supported',
    },
  );
}

function parseOrder(d: Directive, disp: Dispenser, options: GlobalOptions): void {
  noBlock(disp, d);
  if (!argCount(disp, d, d.args, 2, 3, 'order <directive> first|last|before <other>|after <other>')) return;
  const [nameTok, posTok, otherTok] = d.args as [Token, Token, Token | undefined];
  const position = posTok.text as OrderPosition;
  if (!['first', 'last', 'before', 'after'].includes(position)) {
    disp.error(posTok, `expected first, last, before or after, got ${JSON.stringify(posTok.text)}`);
    return;
  }
  const relative = position === 'before' || position === 'after';
  if (relative !== (otherTok !== undefined)) {
    disp.error(d, relative ? `${position} needs the directive to order against` : `${position} takes no other directive`);
    return;
  }
  if (!options.order.includes(nameTok.text)) {
    disp.error(nameTok, `unknown directive ${JSON.stringify(nameTok.text)}${didYouMean(nameTok.text, options.order)}`);
    return;
  }
  const moved = moveDirective(options.order, nameTok.text, position, otherTok?.text ?? null);
  if (typeof moved === 'string') disp.error(otherTok ?? d, moved);
  else options.order = moved;
}

/** An `ask` endpoint: an absolute http(s) URL without credentials or fragment. */
function askUrl(disp: Dispenser, t: Token): string | null {
  let url: URL | null = null;
  try {
    url = new URL(t.text);
  } catch {
    // reported below
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hash !== '' || url.username !== '' || url.password !== '') {
    disp.error(t, `${JSON.stringify(t.text)} is not an http:// or https:// URL (without credentials or #fragment)`);
    return null;
  }
  return t.text;
}

/**
 * `on_demand_tls { ask <url> }` (or Caddy 2.8's `permission http { endpoint <url> }`). Caddy
 * 2.6's `interval` and `burst` were removed in 2.7; they are accepted and ignored, since the
 * ask endpoint decides and Portcullis limits concurrent orders itself.
 */
function parseOnDemandTls(d: Directive, disp: Dispenser, options: GlobalOptions): void {
  argCount(disp, d, d.args, 0, 0, 'on_demand_tls { ask <url> }');
  if (options.tls.onDemand !== undefined) return disp.error(d, 'on_demand_tls is given twice');
  let ask: string | null = null;
  const setAsk = (at: Directive, t: Token | null) => {
    if (t === null) return;
    if (ask !== null) return disp.error(at, 'on_demand_tls: the ask endpoint is given twice');
    ask = askUrl(disp, t);
  };
  eachSubdirective(
    disp,
    d,
    {
      ask: (sub) => setAsk(sub, singleArg(disp, sub, 'ask <url>')),
      permission: (sub) => {
        if (!argCount(disp, sub, sub.args, 1, 1, 'permission http { endpoint <url> }')) return;
        if (sub.args[0]!.text !== 'http') return disp.error(sub.args[0]!, 'on_demand_tls: only the http permission module is supported (permission http { endpoint <url> })');
        eachSubdirective(disp, sub, { endpoint: (e) => setAsk(e, singleArg(disp, e, 'endpoint <url>')) });
        if (sub.block === null) disp.error(sub, 'permission http: expected a block with endpoint <url>');
      },
      // Removed in Caddy 2.7 (the ask endpoint is the rate limit); accepted so older Caddyfiles load.
      interval: (sub) => {
        const t = singleArg(disp, sub, 'interval <duration>');
        if (t) durationArg(disp, t, 'interval');
      },
      burst: (sub) => {
        const t = singleArg(disp, sub, 'burst <count>');
        if (t) intArg(disp, t, 'burst', 1, Number.MAX_SAFE_INTEGER);
      },
    },
  );
  if (ask !== null) options.tls.onDemand = { ask, source: where(d) };
  else if (d.block?.every((sub) => sub.name !== 'ask' && sub.name !== 'permission') ?? true) {
    // Caddy 2.7: on-demand TLS without a permission check would order certificates for any name a client sends.
    disp.error(d, 'on_demand_tls needs ask <url>: the endpoint that permits each name before a certificate is obtained');
  }
}

/** `storage file_system <path>` or `storage file_system { root <path> }` (Caddy's spelling). */
function parseStorage(d: Directive, disp: Dispenser, options: GlobalOptions): void {
  const [kind, path] = d.args;
  if (kind?.text !== 'file_system') {
    disp.error(kind ?? d, 'storage: only file_system is supported (storage file_system <path>)');
    return;
  }
  if (path !== undefined) {
    options.tls.storage = path.text;
    return;
  }
  const root = d.block?.find((sub) => sub.name === 'root');
  if (root?.args.length === 1) options.tls.storage = root.args[0]!.text;
  else disp.error(d, 'storage file_system needs a path: storage file_system <path>');
}
