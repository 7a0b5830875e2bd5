/**
 * The adapted configuration: plain, JSON-serialisable data that `portcullis adapt` prints and
 * `--adapter json` reads back. Names follow Caddy's JSON where a Caddy user would look for them
 * (matchers, handler names, `status_code`), so someone who knows one knows the other.
 * Durations are milliseconds, sizes bytes. Nothing here is compiled; the proxy compiles it once.
 */
import type { SourceLocation } from '../kernel/errors.ts';

export interface Config {
  admin: AdminConfig;
  /** Process log level: debug | info | warn | error. */
  logLevel: string;
  server: ServerOptions;
  /** Port that sites without an explicit port or scheme listen on for plain HTTP. */
  httpPort: number;
  httpsPort: number;
  /** Global `default_bind`: interfaces sites listen on when they have no `bind`; absent = all. */
  defaultBind?: string[];
  /** Whether automatic HTTPS applies (global `auto_https`). */
  autoHttps: 'on' | 'off' | 'disable_redirects';
  /** Global `metrics` option: per-host metric labels; the endpoint itself is the `metrics` directive. */
  metrics: { perHost: boolean };
  /** Global TLS options: where certificates live and who issues them. */
  tls: GlobalTlsOptions;
  /** Global `database`: where users, clients, sessions, keys and decisions live. */
  database: DatabaseConfig;
  /** Global `identity { ... }`: the OpenID provider's settings; null when the block is absent. */
  identity: IdentityConfig | null;
  /** Global `guard { ... }`: bans, blocklists and request rules; null when the block is absent. */
  guard?: GuardConfig | null;
  sites: SiteConfig[];
}

/**
 * `database sqlite [<path>]`: the embedded store (default `<data dir>/portcullis.db`).
 * PostgreSQL joins here when several nodes share one site.
 */
export interface DatabaseConfig {
  driver: 'sqlite';
  /** Absolute path of the SQLite file; null: `portcullis.db` in the data directory. */
  path: string | null;
}

/** Global `guard { ... }` block. */
export interface GuardConfig {
  /** `allow <ranges...>`: addresses that are never banned or throttled by the guard. */
  neverBan: string[];
  /** `blocklist <file>...`: files of IPs and CIDRs (one per line, `#` comments), reloaded when they change. Absolute paths. */
  blocklists: string[];
  /** `simulate`: decide and log what would happen, enforce nothing. */
  simulate: boolean;
  /** `rules { ... }`: request rules. */
  rules: RequestRulesConfig;
  /**
   * `scenarios on|off|simulate`: the behaviour scenarios (ban scanners and brute force from
   * events). Absent: `on`. `simulate` logs what they would decide and decides nothing.
   */
  scenarios?: 'on' | 'off' | 'simulate';
  /** `crowdsec { ... }`: a CrowdSec Local API to pull decisions from and/or push ours to; absent: none. */
  crowdsec?: CrowdSecConfig;
  /** `challenge { difficulty <bits>; clearance <duration> }`: the proof-of-work challenge; absent: 16 bits, 1 hour. */
  challenge?: ChallengeConfig;
  source: SourceLocation;
}

/** `challenge { ... }` in the guard block. */
export interface ChallengeConfig {
  /** `difficulty`: leading zero bits asked of SHA-256(challenge + nonce), 8 to 24; default 16. */
  difficulty: number;
  /** `clearance`: how long a passed challenge lasts, ms, 1 minute to 30 days; default one hour. */
  clearanceMs: number;
  source: SourceLocation;
}

/**
 * `crowdsec { lapi_url <url>; api_key <key>; machine_id <id>; password <pw>; poll_interval
 * <duration>; push on|off }` in the guard block. At least one side is configured: the bouncer
 * (api_key) or the watcher (machine_id and password, with push on).
 */
export interface CrowdSecConfig {
  /** `lapi_url`: the Local API's http(s) base URL (origin and optional path prefix, no trailing slash). */
  lapiUrl: string;
  /** `api_key`: the bouncer key (`cscli bouncers add NAME`); null: do not pull CrowdSec's decisions. A secret. */
  apiKey: string | null;
  /** `machine_id`: the watcher's machine (`cscli machines add NAME --password P`); null with password. */
  machineId: string | null;
  /** `password`: the machine's password; null with machineId. A secret. */
  password: string | null;
  /** `poll_interval`: between two pulls of the decision stream, ms; default 10 s, at least 1 s. */
  pollIntervalMs: number;
  /** `push on|off`: send our decisions to the LAPI as alerts; default on when machine_id and password are set. */
  push: boolean;
  source: SourceLocation;
}

/** `rules { builtin on|off; log_only; exclude <host> <rule-ids...>; rule <id> { ... } }` */
export interface RequestRulesConfig {
  /** The built-in rule set (probes for software you do not run, traversal, SQLi, XSS, scanners); default on. */
  builtin: boolean;
  /** Match and log, never block. */
  logOnly: boolean;
  /** Per-site exclusions: rules (ids or categories) that do not apply to a host (`*` wildcards as in site addresses). */
  exclusions: { host: string; rules: string[]; source: SourceLocation }[];
  custom: CustomRule[];
}

/** `rule <id> { path ...; query ...; header <name> <regexp>; user_agent <regexp>; method ...; ip ...; action block|log|challenge }` */
export interface CustomRule {
  id: string;
  /** Path patterns (Caddy path matcher syntax); any matches. */
  paths: string[];
  /** Regexps over the raw query string; any matches. */
  queryRegexps: string[];
  /** Header name -> regexp over its value. */
  headers: Record<string, string>;
  /** Regexp over User-Agent. */
  userAgent: string | null;
  methods: string[];
  /** Client IP ranges. */
  ips: string[];
  /** All given conditions must hold. */
  action: 'block' | 'log' | 'challenge';
  source: SourceLocation;
}

/** Global `identity { ... }` block. Durations in milliseconds. */
export interface IdentityConfig {
  /**
   * `issuer <url>`: the OpenID issuer (origin, no path, no query). null: derived from the one
   * site that serves `identity_provider` (its first address; https unless it says http://).
   */
  issuer: string | null;
  /** `access_token_ttl` (default 10m). */
  accessTokenTtlMs: number;
  /** `id_token_ttl` (default 1h). */
  idTokenTtlMs: number;
  /** `refresh_token_ttl` (default 30d); also bounds the grant. */
  refreshTokenTtlMs: number;
  /** `session_ttl` (default 14d): how long a browser sign-in lasts. */
  sessionTtlMs: number;
  /** `cookie { domain <d>; name <prefix> }`: the session cookie. */
  cookie: { domain: string | null; name: string };
  /** `theme { ... }`: branding of the login pages. */
  theme: IdentityTheme;
  /** `claim <name> <attribute> [scope <scope>]`: a custom claim from a user attribute. */
  claims: CustomClaim[];
  /** `client <id> { ... }` blocks. */
  clients: IdentityClientConfig[];
  /** Where the block starts, for errors found after adaptation. */
  source: SourceLocation;
}

export interface IdentityTheme {
  /** `brand <name>` (default "Portcullis"): shown in titles and headings. */
  brand: string;
  /** `logo <url>`: an image URL shown above the form; null: none. */
  logo: string | null;
  /** `color <#rrggbb>`: the accent colour of buttons and links; null: the theme's own. */
  color: string | null;
  /** `mode auto|light|dark` (default auto: follows the browser's prefers-color-scheme). */
  mode: 'auto' | 'light' | 'dark';
  /** `templates <dir>`: HTML templates in this directory override the built-in pages by name. */
  templates: string | null;
  /** `locale <tag>` (default en): the language of built-in strings. */
  locale: string;
}

export interface CustomClaim {
  /** Claim name in tokens and userinfo. */
  claim: string;
  /** User attribute it is read from. */
  attribute: string;
  /** Scope that releases it (default `profile`). */
  scope: string;
}

export interface IdentityClientConfig {
  /** The client_id. */
  id: string;
  /** `name <display name>` shown on the consent page; null: the id. */
  name: string | null;
  /** `secret <value>`; null for a `public` client. Only its hash is kept in memory. */
  secret: string | null;
  /** `public`: no secret; PKCE S256 is required. */
  public: boolean;
  /** `redirect_uri <uri>...`: exact-match list. */
  redirectUris: string[];
  /** `post_logout_redirect_uri <uri>...`. */
  postLogoutRedirectUris: string[];
  /** `scopes <scope>...` the client may ask for (default openid profile email groups). */
  scopes: string[];
  /** `grant_types <type>...` (default authorization_code refresh_token). */
  grantTypes: ('authorization_code' | 'refresh_token' | 'client_credentials')[];
  /** `first_party`: consent is not asked. */
  firstParty: boolean;
  /** `signing_alg RS256|ES256|EdDSA` for ID tokens and JWT access tokens (default RS256). */
  signingAlg: 'RS256' | 'ES256' | 'EdDSA';
  /** `backchannel_logout_uri <uri>`: told when a session that signed in here ends. */
  backchannelLogoutUri: string | null;
  source: SourceLocation;
}

/** Certificate key types by Caddy's names: Ed25519, ECDSA P-256 / P-384, RSA 2048 / 4096 bits. */
export type KeyType = 'ed25519' | 'p256' | 'p384' | 'rsa2048' | 'rsa4096';

export interface GlobalTlsOptions {
  /** Directory for certificates, keys and the internal CA (`storage file_system <path>`); null: the default data dir. */
  storage: string | null;
  /** ACME account email (`email`). */
  email?: string;
  /** ACME directory URL (`acme_ca`); Let's Encrypt when absent. */
  acmeCa?: string;
  /** PEM file of the ACME server's root, for private ACME servers (`acme_ca_root`). */
  acmeCaRoot?: string;
  /** `acme_eab { key_id ...; mac_key ... }`: external account binding for new ACME accounts. */
  acmeEab?: AcmeEabConfig;
  /** `acme_dns rfc2136 { ... }`: the DNS challenge (DNS-01) for every site whose certificate comes from an ACME CA. */
  acmeDns?: AcmeDnsProviderConfig;
  /** `local_certs`: every HTTPS site gets its certificate from the internal CA. */
  localCerts: boolean;
  /** The certificate for clients that send no SNI or an unknown name (`default_sni`). */
  defaultSni?: string;
  /**
   * `fallback_sni <name>`: the certificate for SNI names no site has (before `default_sni`);
   * `source` is the option's line, for the error when no site covers the name.
   */
  fallbackSni?: { name: string; source: SourceLocation };
  /** `key_type`: the key of certificates Portcullis obtains (internal CA and ACME); absent: p256. */
  keyType?: KeyType;
  /**
   * `cert_lifetime`: the lifetime of internal-CA certificates and the one asked of ACME CAs (RFC
   * 8555 section 7.4 `notAfter`); absent: 12 hours internal, the ACME CA's choice.
   */
  certLifetimeMs?: number;
  /** `renew_interval`: how often managed certificates are checked for renewal; absent: 10 minutes. */
  renewIntervalMs?: number;
  /**
   * `on_demand_tls { ask <url> }`: the endpoint asked (`GET <ask>?domain=<name>`, 2xx permits)
   * before a site with `tls { on_demand }` gets or loads a certificate for a name at handshake
   * time. `source` is the `on_demand_tls` line.
   */
  onDemand?: { ask: string; source: SourceLocation };
}

/**
 * ACME external account binding (RFC 8555 section 7.3.4): the key id and base64url MAC key a
 * CA (ZeroSSL, Google Trust Services, step-ca, ...) gives out. The MAC key is a secret: printed
 * configs show it redacted (redact.ts). `source` is the line that set it.
 */
export interface AcmeEabConfig {
  keyId: string;
  macKey: string;
  source: SourceLocation;
}

/**
 * A DNS provider for the ACME DNS challenge (`acme_dns rfc2136 { ... }`, `tls { dns rfc2136
 * { ... } }`): RFC 2136 dynamic updates to `server` signed with the TSIG key `keyName`. The key
 * is a secret: printed configs show it redacted (redact.ts). `source` is the line that set it.
 */
export interface AcmeDnsProviderConfig {
  provider: 'rfc2136';
  /** The key's name, lower-cased, without a trailing dot. */
  keyName: string;
  keyAlg: 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha1' | 'hmac-md5';
  /** The base64 TSIG secret. */
  key: string;
  /** host:port (`[v6]:port`) of the server that takes the updates. */
  server: string;
  source: SourceLocation;
}

/** A site's DNS challenge settings (`tls { dns ...; propagation_timeout ...; ... }`); unset fields take the defaults. */
export interface TlsDnsChallengeConfig {
  /** `dns rfc2136 { ... }`; absent: the global `acme_dns`. */
  provider?: AcmeDnsProviderConfig;
  /** `propagation_delay`: wait before the first propagation check (default 0). */
  propagationDelayMs?: number;
  /** `propagation_timeout`: how long the record may take to be visible (default 2m; 0: the default, as in Caddy); -1: not checked. */
  propagationTimeoutMs?: number;
  /** `resolvers`: `ip:port` servers asked whether the record is visible (default: the provider's server). */
  resolvers?: string[];
  /** `dns_ttl`: the TTL of the challenge record in seconds (default 120). */
  ttlSeconds?: number;
  /** `dns_challenge_override_domain`: the whole name of the TXT record, as in Caddy (`_acme-challenge.<name>` is a CNAME to it). */
  overrideDomain?: string;
  /** The first DNS challenge line of the tls block. */
  source: SourceLocation;
}

export interface AdminConfig {
  /** host:port on loopback (or unix/PATH) for the admin API; null when `admin off`. */
  listen: string | null;
}

/** Global `servers { ... }` options: limits that protect against slow or abusive clients. */
export interface ServerOptions {
  /** Time allowed to receive the request head (slowloris). */
  readHeaderTimeoutMs: number;
  /** Time allowed to receive the whole request, head and body. */
  readTimeoutMs: number;
  /** Time allowed to write a response; 0 = none (streams may be long). */
  writeTimeoutMs: number;
  /** Keep-alive connections idle longer than this are closed. */
  idleTimeoutMs: number;
  /** Largest request head accepted; larger gets 431. */
  maxHeaderBytes: number;
  /** CIDRs whose X-Forwarded-* headers are believed (`trusted_proxies static`, expanded). Empty: none are. */
  trustedProxies: string[];
  /**
   * `trusted_proxies cloudflare [file <path>]`: Cloudflare's ranges are trusted too, from the
   * list shipped with Portcullis (file null) or an absolute path. Absent: not trusted.
   */
  trustedProxiesCloudflare?: { file: string | null };
  /** `client_ip_headers`: where trusted proxies name the client, first present wins. Absent: X-Forwarded-For. */
  clientIpHeaders?: string[];
  /** How long shutdown and reload wait for in-flight requests. */
  gracePeriodMs: number;
}

export interface SiteAddress {
  /** As written, for messages and logs. */
  original: string;
  /** '' when the address gave none (then the port and host decide, as in Caddy). */
  scheme: '' | 'http' | 'https';
  /** Lower-cased host, '*.example.com' wildcards allowed; '' matches any host. */
  host: string;
  /** null when the address gave none. */
  port: number | null;
  /** Path prefix from the address (`example.com/api`), '' when none. */
  path: string;
}

export interface SiteConfig {
  /** The addresses as written, joined; names the site in logs and metrics. */
  name: string;
  addresses: SiteAddress[];
  /** Interfaces to listen on (`bind`); empty means all. */
  bind: string[];
  /** Routes in evaluation order (already sorted by directive order). */
  routes: RouteConfig[];
  /** `handle_errors` routes, run when a handler fails. */
  errorRoutes: RouteConfig[];
  log: LogConfig | null;
  tls: TlsConfig | null;
  source: SourceLocation;
}

/** Site `tls` directive, kept for the TLS module (automatic HTTPS issue). */
export interface TlsConfig {
  mode: 'internal' | 'files' | 'acme' | 'default';
  certFile?: string;
  keyFile?: string;
  email?: string;
  /**
   * `client_auth { ... }`: TLS client certificates for this site's names (mutual TLS). Caddy's
   * modes: request = ask, neither require nor verify; require = must be sent, not verified;
   * verify_if_given = verified when sent; require_and_verify = must be sent and chain to a
   * trusted CA. `source` is the `client_auth` line.
   */
  clientAuth?: {
    mode: 'request' | 'require' | 'verify_if_given' | 'require_and_verify';
    /** PEM files of the CAs client certificates must chain to (`trusted_ca_cert_file`). */
    trustedCaFiles: string[];
    /** Base64 DER CA certificates written inline (`trusted_ca_cert`). */
    trustedCaCerts?: string[];
    source: SourceLocation;
  };
  /** `on_demand`: certificates for this site's names are obtained at handshake time; `source` is that line. */
  onDemand?: { source: SourceLocation };
  /** `protocols <min> [<max>]`: TLS versions for this site's names. */
  protocols?: { min: 'tls1.2' | 'tls1.3'; max: 'tls1.2' | 'tls1.3' };
  /** `ciphers`: TLS 1.2 cipher suites by Caddy's (IANA) names, in preference order. */
  ciphers?: string[];
  /** `alpn`: accepted for Caddy compatibility, not applied per site (the listener negotiates h2, http/1.1). */
  alpn?: string[];
  /** `eab <key_id> <mac_key>`: this site's ACME external account binding, instead of the global `acme_eab`. */
  eab?: AcmeEabConfig;
  /** The DNS challenge (DNS-01) for this site's names, and how its record is checked. */
  dns?: TlsDnsChallengeConfig;
  /** `ca <directory_url>`: this site's ACME directory, instead of the global `acme_ca`. */
  ca?: string;
  /** `ca_root <pem_file>`: a root trusted for this site's ACME directory's HTTPS, besides the global `acme_ca_root`. */
  caRoot?: string;
  /** `key_type`: this site's certificate key, instead of the global `key_type`. */
  keyType?: KeyType;
  source: SourceLocation;
}

export interface LogConfig {
  /** 'stdout' | 'stderr' | 'discard' | a file path. */
  output: 'stdout' | 'stderr' | 'discard' | 'file';
  file?: string;
  /** Rolling for file outputs (Caddy's `roll_size`, `roll_keep`). */
  rollSizeBytes?: number;
  rollKeep?: number;
  format: 'json' | 'console';
  level: string;
}

export interface RouteConfig {
  /** OR across sets; within a set every matcher must match. Absent: always matches. */
  match?: MatcherSet[];
  handle: HandlerConfig[];
  /** Only the first matching route of a group runs (`handle` blocks). */
  group?: string;
  /** No routes after this one run (the end of a site, `handle`). */
  terminal?: boolean;
  source?: SourceLocation;
}

/** One set of matchers, all of which must match. Keys as in Caddy's JSON. */
export interface MatcherSet {
  host?: string[];
  path?: string[];
  path_regexp?: RegexpMatcher;
  method?: string[];
  /** Header name -> accepted values (wildcards `*` at ends; empty list = present). null value: must be absent. */
  header?: Record<string, string[] | null>;
  header_regexp?: Record<string, RegexpMatcher>;
  /** Query key -> accepted values (`*` = any value). */
  query?: Record<string, string[]>;
  protocol?: string;
  remote_ip?: { ranges: string[] };
  client_ip?: { ranges: string[] };
  /** True when none of the sets match (each set is ANDed, sets ORed, then negated). */
  not?: MatcherSet[];
}

export interface RegexpMatcher {
  /** Name under which captures are available as {re.NAME.GROUP}. */
  name?: string;
  pattern: string;
}

export type HandlerConfig =
  | VarsHandler
  | HeadersHandler
  | StaticResponseHandler
  | RewriteHandler
  | SubrouteHandler
  | EncodeHandler
  | RequestBodyHandler
  | ErrorHandler
  | FileServerHandler
  | ReverseProxyHandler
  | ForwardAuthHandler
  | MetricsHandler
  | IdentityProviderHandler
  | AuthenticateHandler
  | RateLimitHandler
  | JwtHandler;

export interface VarsHandler {
  handler: 'vars';
  vars: Record<string, string>;
}

export interface HeaderOps {
  /** Replace every value of the header. */
  set?: Record<string, string[]>;
  add?: Record<string, string[]>;
  /** Names to remove; `*` wildcards at either end allowed (`X-*`). */
  delete?: string[];
  /** Substring or regexp replacements within existing values. */
  replace?: Record<string, { search?: string; search_regexp?: string; replace: string }[]>;
  /** Set only when the header is not already set (`?Name value`). */
  default?: Record<string, string[]>;
}

export interface HeadersHandler {
  handler: 'headers';
  request?: HeaderOps;
  response?: HeaderOps & {
    /** Apply only when the response matches (Caddy's `header ... { match { ... } }`, response matcher). */
    require?: { status_code?: number[]; headers?: Record<string, string[]> };
    /** Applied when the response head is written (always true here; kept for Caddy's JSON shape). */
    deferred?: boolean;
  };
}

/** `respond`, `redir` and `abort` adapt to this, as in Caddy. */
export interface StaticResponseHandler {
  handler: 'static_response';
  /** A number or a placeholder template producing one. */
  status_code?: number | string;
  body?: string;
  headers?: Record<string, string[]>;
  /** Close the connection after responding. */
  close?: boolean;
  /** Drop the connection without a response. */
  abort?: boolean;
}

export interface RewriteHandler {
  handler: 'rewrite';
  method?: string;
  /** New URI (path and optional ?query), with placeholders. */
  uri?: string;
  strip_path_prefix?: string;
  strip_path_suffix?: string;
  uri_substring?: { find: string; replace: string; limit?: number }[];
  path_regexp?: { find: string; replace: string }[];
}

export interface SubrouteHandler {
  handler: 'subroute';
  routes: RouteConfig[];
  /** `handle_errors`-style or `route` blocks keep literal order; documented for readers only. */
  kind?: 'handle' | 'handle_path' | 'route';
}

export interface EncodeHandler {
  handler: 'encode';
  /** In order of preference when the client accepts several equally. */
  encodings: ('gzip' | 'br' | 'zstd')[];
  /** Bodies shorter than this are sent as they are. */
  minimum_length: number;
  /** gzip/br/zstd levels; absent = the library default. */
  levels?: Partial<Record<'gzip' | 'br' | 'zstd', number>>;
}

export interface RequestBodyHandler {
  handler: 'request_body';
  max_size: number;
}

export interface ErrorHandler {
  handler: 'error';
  status_code: number | string;
  error: string;
}

export interface FileServerHandler {
  handler: 'file_server';
  /** Absent: the `root` var set by the `root` directive, else the working directory. */
  root?: string;
  index_names: string[];
  browse: { enabled: boolean } | null;
  /** Names or globs never served or listed; the config file itself is always hidden. */
  hide: string[];
  precompressed: ('br' | 'gzip' | 'zstd')[];
  /** Status to use for successful responses instead of 200 (Caddy's `status`). */
  status_code?: number;
  /** 404 goes to the next handler instead of being an error. */
  pass_thru: boolean;
}

export interface UpstreamConfig {
  /** host:port, or unix//path for unix sockets. */
  dial: string;
  /** 'http' or 'https' to the upstream. */
  scheme: 'http' | 'https';
}

export interface ReverseProxyHandler {
  handler: 'reverse_proxy';
  upstreams: UpstreamConfig[];
  load_balancing: {
    policy: 'random' | 'round_robin' | 'least_conn' | 'ip_hash' | 'first' | 'header' | 'cookie' | 'uri_hash' | 'random_choose';
    /** Header or cookie name for those policies. */
    policy_key?: string;
    /** HMAC secret for cookie policy. */
    policy_secret?: string;
    try_duration_ms: number;
    try_interval_ms: number;
    /** Which requests may be retried on another upstream; Caddy retries only when safe. */
    retry_match?: MatcherSet[];
  };
  health_checks: {
    active: {
      uri: string;
      port?: number;
      interval_ms: number;
      timeout_ms: number;
      expect_status?: number;
      expect_body?: string;
      headers?: Record<string, string[]>;
    } | null;
    passive: {
      fail_duration_ms: number;
      max_fails: number;
      unhealthy_status: number[];
      unhealthy_latency_ms?: number;
      unhealthy_request_count?: number;
    } | null;
  };
  headers: { request?: HeaderOps; response?: HeaderOps };
  transport: {
    dial_timeout_ms: number;
    response_header_timeout_ms: number;
    read_timeout_ms: number;
    write_timeout_ms: number;
    keepalive_idle_ms: number;
    max_conns_per_host: number;
    tls: { insecure_skip_verify: boolean; server_name?: string; ca_files?: string[] } | null;
  };
  /** ms between flushes; -1 flushes at once (streaming); 0 = default (flush as data arrives). */
  flush_interval_ms: number;
  /** Body size buffered for retries (Caddy's `request_buffers`); 0 streams. */
  request_buffers: number;
}

/**
 * `forward_auth`: asks an auth server (a GET to `uri` on its upstreams, reverse_proxy's
 * settings) before the request goes on. 2xx: `copy_headers` are copied from its answer onto
 * the request and the chain continues; anything else is relayed to the client as it is.
 */
export interface ForwardAuthHandler extends Omit<ReverseProxyHandler, 'handler' | 'flush_interval_ms' | 'request_buffers'> {
  handler: 'forward_auth';
  /** Path and optional query of the auth request, with placeholders. */
  uri: string;
  /** Auth response field `from` -> request field `to`; every `to` is removed from the client's request. */
  copy_headers: { from: string; to: string }[];
}

export interface MetricsHandler {
  handler: 'metrics';
}

/**
 * `authenticate [<matcher>] { ... }`: only signed-in users pass (others are sent to sign in),
 * and only those the policy admits (others get `denyStatus`). The identity goes upstream in
 * headers; client-sent copies of those headers are removed on every route of the site.
 */
export interface AuthenticateHandler {
  handler: 'authenticate';
  /** `require ...` lines: all must hold. Empty: any signed-in user. */
  require: AuthRequirement[];
  /** `deny_status <code>` (default 403): what a signed-in user who fails the policy gets. */
  denyStatus: number;
  /** `header_names { user <h>; email <h>; name <h>; groups <h> }` (defaults Remote-User, Remote-Email, Remote-Name, Remote-Groups). */
  headers: { user: string; email: string; name: string; groups: string };
  /**
   * `header_aliases authentik|oauth2-proxy...`: the same identity also under
   * X-Authentik-Username/-Email/-Name/-Groups or X-Auth-Request-User/-Email/-Preferred-Username/-Groups.
   */
  aliases: ('authentik' | 'oauth2-proxy')[];
  /** `assertion [<header>]`: a short-lived signed JWT with the identity in this header (default X-Portcullis-Assertion); null: none. */
  assertionHeader: string | null;
}

/**
 * One `require` line. `user a b`: the username is one of them; `group a b`: member of every
 * listed group; `any_group a b`: member of at least one; `email *@example.com ...`: the
 * (verified or not) email matches one of the patterns (`*` = any run of characters, case-insensitive).
 */
export interface AuthRequirement {
  kind: 'user' | 'group' | 'any_group' | 'email';
  values: string[];
}

/**
 * `jwt [<matcher>] { ... }`: only requests with a valid `Authorization: Bearer` JWT from
 * `issuer` (checked locally against its JWKS) go on, and only those whose claims the `require`
 * lines admit; chosen claims go upstream in headers, whose client-sent copies are removed on
 * every route of the site.
 */
export interface JwtHandler {
  handler: 'jwt';
  /**
   * The issuer URL exactly as its discovery document names it (`iss` is compared byte for
   * byte). Default: the config's identity provider; '' only until the adapter fills that in.
   */
  issuer: string;
  /** Accepted `aud` values, any one suffices. Default: the issuer (RFC 9068 access tokens of Portcullis). */
  audience: string[];
  /** Accepted signature algorithms, asymmetric only. Default RS256, ES256, EdDSA. */
  algorithms: string[];
  /** Clock skew allowed on `exp` and `nbf`, in ms. Default 30 000, at most 300 000. */
  leewayMs: number;
  /** Required `typ` header (`at+jwt`), or null: not checked. */
  typ: string | null;
  /** `require ...` lines: every one must hold. */
  require: JwtRequirement[];
  /** `claim_header <claim> <header>`: claims sent upstream (arrays joined with `,`). */
  claimHeaders: { claim: string; header: string }[];
  /** `strip_authorization`: the token itself does not go upstream. */
  stripAuthorization: boolean;
}

/**
 * One `require` line of `jwt`. `scope a b`: the token grants every one; `group a b`: its
 * `groups` has at least one; `claim <name> a b`: the claim equals one of them (a string,
 * number or boolean, by its text) or, as a list, contains one.
 */
export type JwtRequirement = { kind: 'scope' | 'group'; values: string[] } | { kind: 'claim'; claim: string; values: string[] };

/**
 * `rate_limit { zone <name> { key <placeholder>; events <n>; window <duration>; burst <n> } ... }`
 * (the caddy-ratelimit plugin's syntax): every zone's limit must allow the request, else 429
 * with Retry-After. Counters are kept by zone name and survive reloads.
 */
export interface RateLimitHandler {
  handler: 'rate_limit';
  zones: { name: string; key: string; events: number; windowMs: number; burst: number }[];
}

/** `identity_provider`: serves the OpenID provider and its login pages on this site. */
export interface IdentityProviderHandler {
  handler: 'identity_provider';
}
