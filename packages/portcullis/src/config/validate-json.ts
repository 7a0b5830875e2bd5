/**
 * Checks a JSON config (`--adapter json`, or a config posted to the admin API) against the
 * Config shape, with the same value checks the Caddyfile adapter makes. Every problem is
 * reported at once, named by its path and line (`config.json:14: sites[0].routes[2].handle[0]
 * .upstreams: expected a non-empty list`). Unknown fields are errors (a typo must not be
 * silently ignored). Fields a person would rather not write get their defaults: server
 * options, reverse_proxy's tuning, `source` locations (the line of the object).
 */
import { isAbsolute } from 'node:path';
import type { Config, CrowdSecConfig, IdentityClientConfig, IdentityConfig, SiteAddress } from './types.ts';
import type { Parsed } from './durations.ts';
import { ErrorCodes, ErrorList, PortcullisError, type SourceLocation } from '../kernel/errors.ts';
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import { didYouMean } from './dispenser.ts';
import { checkRegexp } from './matcher-syntax.ts';
import { adminListenProblem, CERT_LIFETIME_RANGE, defaultServerOptions, LOG_LEVELS, RENEW_INTERVAL_RANGE } from './global-options.ts';
import { clientIpHeaderProblem } from './client-ip-options.ts';
import { copyHeaderProblem } from './directives/forward-auth.ts';
import { checkZoneKey, checkZoneName, RATE_LIMIT_MAX_BURST, RATE_LIMIT_MAX_EVENTS, rateLimitZoneConflicts, zoneConflictMessage, zoneLimitProblem } from './directives/rate-limit.ts';
import { defaultTransport } from './directives/reverse-proxy.ts';
import { CIPHER_SUITES, isAcmeDirectoryUrl, KEY_TYPES, TLS_PROTOCOLS } from './directives/tls.ts';
import { eabKeyIdProblem, eabMacKeyProblem } from './acme-eab.ts';
import { DEFAULT_PROPAGATION_TIMEOUT_MS, DNS_PROVIDERS, dnsKeyNameProblem, dnsKeyProblem, dnsServerProblem, MAX_PROPAGATION_MS, MAX_TTL_SECONDS, overrideDomainProblem, resolverAddress, TSIG_KEY_ALGORITHMS } from './acme-dns.ts';
import { deriveIssuer } from './directives/identity-provider.ts';
import {
  authenticateHeaderProblems,
  authenticateSiteProblems,
  checkDenyStatus,
  checkHeaderAlias,
  checkIdentityHeaderName,
  checkRequirementKind,
  checkRequirementValue,
  DEFAULT_DENY_STATUS,
  DEFAULT_IDENTITY_HEADERS,
  requirementValuesProblems,
  type HeaderSetting,
} from './authenticate-checks.ts';
import {
  checkJwtAlgorithm,
  checkJwtAudience,
  checkJwtClaimHeader,
  checkJwtClaimName,
  checkJwtIssuer,
  checkJwtLeeway,
  checkJwtRequirementKind,
  checkJwtRequirementValue,
  checkJwtTyp,
  DEFAULT_JWT_ALGORITHMS,
  DEFAULT_JWT_LEEWAY_MS,
  fillJwtDefaults,
  jwtHandlerProblems,
  jwtRequirementValuesProblems,
} from './jwt-checks.ts';
import {
  checkAttributeName,
  checkBrand,
  checkClaimName,
  checkClientId,
  checkClientName,
  checkClientUri,
  checkColor,
  checkCookieDomain,
  checkCookieName,
  checkIssuer,
  checkLocale,
  checkLogo,
  checkScopeName,
  checkSecret,
  clientProblems,
  DEFAULT_CLIENT_SCOPES,
  DEFAULT_GRANT_TYPES,
  domainCovers,
  GRANT_TYPES,
  IDENTITY_DEFAULTS,
  issuerHost,
  knownScopes,
  SIGNING_ALGS,
  THEME_MODES,
  type ClientUriKind,
} from './identity-checks.ts';
import { defaultIdentity, defaultTheme } from './identity-options.ts';
import { checkRequestRulesJson, defaultRequestRules } from './guard-rules.ts';
import {
  CHALLENGE_DEFAULT_CLEARANCE_MS,
  CHALLENGE_DEFAULT_DIFFICULTY,
  CHALLENGE_MAX_DIFFICULTY,
  CHALLENGE_MIN_DIFFICULTY,
  checkClearanceMs,
  checkCrowdSecSecret,
  checkLapiUrl,
  checkMachineId,
  CROWDSEC_DEFAULT_POLL_MS,
  CROWDSEC_MIN_POLL_MS,
  crowdSecProblems,
} from './guard-options.ts';
import { REDACTED_SECRET } from './redact.ts';

interface Ctx {
  errors: ErrorList;
  file: string;
  lines: Map<string, number>;
}

/** Validates and normalises a value; undefined when it is unusable (already reported). */
type Check<T = unknown> = (v: unknown, path: string, ctx: Ctx) => T | undefined;

interface Field {
  check: Check;
  optional?: boolean;
  /** Value used when the field is absent. */
  fill?: (path: string, ctx: Ctx) => unknown;
}

/** Deeper nesting than this is refused before anything recurses into it. */
const MAX_DEPTH = 64;

function lineOf(ctx: Ctx, path: string): number {
  for (let p = path; ; p = parentPath(p)) {
    const line = ctx.lines.get(p);
    if (line !== undefined) return line;
    if (p === '') return 1;
  }
}

function parentPath(path: string): string {
  const i = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return i <= 0 ? '' : path.slice(0, i);
}

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function fail(ctx: Ctx, path: string, message: string): undefined {
  ctx.errors.add(ErrorCodes.ERR_CONFIG_INVALID, message, { file: ctx.file, line: lineOf(ctx, path) }, path === '' ? '(config)' : path);
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

const str =
  (nonEmpty = false): Check<string> =>
  (v, path, ctx) => {
    if (typeof v !== 'string') return fail(ctx, path, `expected a string, got ${describe(v)}`);
    if (nonEmpty && v === '') return fail(ctx, path, 'must not be empty');
    return v;
  };

const num =
  (min: number, max: number, integer = true): Check<number> =>
  (v, path, ctx) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(ctx, path, `expected a number, got ${describe(v)}`);
    if (integer && !Number.isInteger(v)) return fail(ctx, path, `expected a whole number, got ${v}`);
    if (v < min || v > max) return fail(ctx, path, `${v} is out of range (${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max})`);
    return v;
  };

const MAX = Number.MAX_SAFE_INTEGER;
const ms = num(0, MAX, false);
const count = num(0, MAX);
const port = num(0, 65535);

const bool: Check<boolean> = (v, path, ctx) => (typeof v === 'boolean' ? v : fail(ctx, path, `expected true or false, got ${describe(v)}`));

const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (v, path, ctx) =>
    typeof v === 'string' && (values as readonly string[]).includes(v)
      ? (v as T)
      : fail(ctx, path, `expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(v)}`);

const list =
  <T>(item: Check<T>, nonEmpty = false): Check<T[]> =>
  (v, path, ctx) => {
    if (!Array.isArray(v)) return fail(ctx, path, `expected a list, got ${describe(v)}`);
    if (nonEmpty && v.length === 0) return fail(ctx, path, 'expected a non-empty list');
    const out: T[] = [];
    v.forEach((x, i) => {
      const r = item(x, child(path, i), ctx);
      if (r !== undefined) out.push(r);
    });
    return out;
  };

function plainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const record =
  <T>(item: Check<T>): Check<Record<string, T>> =>
  (v, path, ctx) => {
    if (!plainObject(v)) return fail(ctx, path, `expected an object, got ${describe(v)}`);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = item(x, child(path, k), ctx);
      if (r !== undefined) out[k] = r;
    }
    return out;
  };

const nullable =
  <T>(c: Check<T>): Check<T | null> =>
  (v, path, ctx) =>
    v === null ? null : c(v, path, ctx);

const obj =
  (fields: Record<string, Field | Check>, extra?: (out: Record<string, unknown>, path: string, ctx: Ctx) => void): Check<Record<string, unknown>> =>
  (v, path, ctx) => {
    if (!plainObject(v)) return fail(ctx, path, `expected an object, got ${describe(v)}`);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      if (!Object.hasOwn(fields, key)) fail(ctx, child(path, key), `unknown field${didYouMean(key, Object.keys(fields))}`);
    }
    for (const [key, spec] of Object.entries(fields)) {
      const field: Field = typeof spec === 'function' ? { check: spec } : spec;
      const p = child(path, key);
      if (v[key] !== undefined) {
        const r = field.check(v[key], p, ctx);
        if (r !== undefined) out[key] = r;
      } else if (field.fill) out[key] = field.fill(p, ctx);
      else if (!field.optional) fail(ctx, path, `missing field ${JSON.stringify(key)}`);
    }
    extra?.(out, path, ctx);
    return out;
  };

const opt = (check: Check): Field => ({ check, optional: true });
const withDefault = (check: Check, value: () => unknown): Field => ({ check, fill: () => value() });

const source = obj({ file: str(true), line: num(0, MAX) }) as unknown as Check<SourceLocation>;
const sourceField: Field = { check: source, fill: (path, ctx) => ({ file: ctx.file, line: lineOf(ctx, parentPath(path)) }) };

const regexpPattern: Check<string> = (v, path, ctx) => {
  const s = str(true)(v, path, ctx);
  if (s === undefined) return undefined;
  const problem = checkRegexp(s);
  return problem === null ? s : fail(ctx, path, problem);
};

const regexpMatcher = obj({ name: opt(str()), pattern: regexpPattern });

const ranges: Check<string[]> = (v, path, ctx) => {
  const items = list(str(true))(v, path, ctx);
  if (items === undefined) return undefined;
  items.forEach((r, i) => {
    try {
      compileIpRanges([r]);
    } catch {
      fail(ctx, child(path, i), `${JSON.stringify(r)} is not an IP address or CIDR range`);
    }
  });
  return items;
};

const stringList = list(str());
const headerValues = record(list(str()));

function matcherSet(v: unknown, path: string, ctx: Ctx): Record<string, unknown> | undefined {
  return obj({
    host: opt(list(str(true), true)),
    path: opt(list(str(true), true)),
    path_regexp: opt(regexpMatcher),
    method: opt(list(str(true), true)),
    header: opt(record(nullable(list(str())))),
    header_regexp: opt(record(regexpMatcher)),
    query: opt(record(list(str()))),
    protocol: opt(str(true)),
    remote_ip: opt(obj({ ranges })),
    client_ip: opt(obj({ ranges })),
    not: opt(list(matcherSet, true)),
  })(v, path, ctx);
}

const headerOpsFields: Record<string, Field> = {
  set: opt(headerValues),
  add: opt(headerValues),
  delete: opt(list(str(true))),
  replace: opt(
    record(
      list(
        obj(
          { search: opt(str(true)), search_regexp: opt(regexpPattern), replace: str() },
          (out, path, ctx) => {
            if ((out.search === undefined) === (out.search_regexp === undefined)) fail(ctx, path, 'give exactly one of search and search_regexp');
          },
        ),
      ),
    ),
  ),
  default: opt(headerValues),
};
const headerOps = obj(headerOpsFields);

/** A status code, or a `{placeholder}` producing one. */
const statusOrPlaceholder: Check<number | string> = (v, path, ctx) => {
  if (typeof v === 'string') return /^\{[^{}]+\}$/.test(v) ? v : fail(ctx, path, `expected a status code or a {placeholder}, got ${describe(v)}`);
  return num(100, 999)(v, path, ctx);
};

/** A string run through a shared check that may normalise it. */
function checkedBy<T>(check: (text: string) => Parsed<T>): Check<T> {
  return (v, path, ctx) => {
    const s = str()(v, path, ctx);
    if (s === undefined) return undefined;
    const r = check(s);
    return r.ok ? r.value : fail(ctx, path, r.error);
  };
}

const identityHeaderName = checkedBy(checkIdentityHeaderName);

const authRequirement = obj({ kind: checkedBy(checkRequirementKind), values: list(str(), true) }, (out, path, ctx) => {
  const kind = out.kind as Parameters<typeof checkRequirementValue>[0] | undefined;
  const values = out.values as string[] | undefined;
  if (kind === undefined || values === undefined) return;
  const at = (i: number) => child(child(path, 'values'), i);
  let good = true;
  values.forEach((value, i) => {
    const r = checkRequirementValue(kind, value);
    if (r.ok) return;
    fail(ctx, at(i), r.error);
    good = false;
  });
  if (good) for (const p of requirementValuesProblems(kind, values)) fail(ctx, at(p.index), p.message);
});

const denyStatus: Check<number> = (v, path, ctx) => {
  const n = num(100, 599)(v, path, ctx);
  if (n === undefined) return undefined;
  const r = checkDenyStatus(n);
  return r.ok ? r.value : fail(ctx, path, r.error);
};

const authenticateFields: Record<string, Field | Check> = {
  require: withDefault(list(authRequirement), () => []),
  denyStatus: withDefault(denyStatus, () => DEFAULT_DENY_STATUS),
  headers: withDefault(
    obj({
      user: withDefault(identityHeaderName, () => DEFAULT_IDENTITY_HEADERS.user),
      email: withDefault(identityHeaderName, () => DEFAULT_IDENTITY_HEADERS.email),
      name: withDefault(identityHeaderName, () => DEFAULT_IDENTITY_HEADERS.name),
      groups: withDefault(identityHeaderName, () => DEFAULT_IDENTITY_HEADERS.groups),
    }),
    () => ({ ...DEFAULT_IDENTITY_HEADERS }),
  ),
  aliases: withDefault(list(checkedBy(checkHeaderAlias)), () => []),
  assertionHeader: withDefault(nullable(identityHeaderName), () => null),
};

/** The authenticate handler's rules between its header settings (as in the Caddyfile). */
function checkAuthenticate(out: Record<string, unknown>, path: string, ctx: Ctx): void {
  const where = (s: HeaderSetting) =>
    s.kind === 'name' ? child(child(path, 'headers'), s.role) : s.kind === 'alias' ? child(child(path, 'aliases'), s.index) : child(path, 'assertionHeader');
  const handler = out as unknown as Parameters<typeof authenticateHeaderProblems>[0];
  for (const p of authenticateHeaderProblems(handler)) fail(ctx, where(p.setting), p.message);
}

const jwtRequirement = obj(
  { kind: checkedBy(checkJwtRequirementKind), claim: opt(checkedBy(checkJwtClaimName)), values: list(str(), true) },
  (out, path, ctx) => {
    const kind = out.kind as Parameters<typeof checkJwtRequirementValue>[0] | undefined;
    const values = out.values as string[] | undefined;
    if (kind === 'claim' && out.claim === undefined) fail(ctx, path, 'a claim requirement needs the claim name in "claim"');
    if (kind !== undefined && kind !== 'claim' && out.claim !== undefined) fail(ctx, child(path, 'claim'), `only claim requirements name a claim, not ${kind}`);
    if (kind === undefined || values === undefined) return;
    let good = true;
    values.forEach((value, i) => {
      const r = checkJwtRequirementValue(kind, value);
      if (r.ok) return;
      fail(ctx, child(child(path, 'values'), i), r.error);
      good = false;
    });
    if (good) for (const p of jwtRequirementValuesProblems(values)) fail(ctx, child(child(path, 'values'), p.index), p.message);
  },
);

const jwtLeeway: Check<number> = (v, path, ctx) => {
  const n = ms(v, path, ctx);
  if (n === undefined) return undefined;
  const r = checkJwtLeeway(n);
  return r.ok ? r.value : fail(ctx, path, r.error);
};

const jwtFields: Record<string, Field | Check> = {
  // '' until checkJwtSites gives it the identity provider's issuer.
  issuer: withDefault(checkedBy(checkJwtIssuer), () => ''),
  audience: withDefault(list(checkedBy(checkJwtAudience)), () => []),
  algorithms: withDefault(list(checkedBy(checkJwtAlgorithm), true), () => [...DEFAULT_JWT_ALGORITHMS]),
  leewayMs: withDefault(jwtLeeway, () => DEFAULT_JWT_LEEWAY_MS),
  typ: withDefault(nullable(checkedBy(checkJwtTyp)), () => null),
  require: withDefault(list(jwtRequirement), () => []),
  claimHeaders: withDefault(list(obj({ claim: checkedBy(checkJwtClaimName), header: checkedBy(checkJwtClaimHeader) })), () => []),
  stripAuthorization: withDefault(bool, () => false),
};

/** The jwt handler's rules between its settings (as in the Caddyfile). */
function checkJwt(out: Record<string, unknown>, path: string, ctx: Ctx): void {
  for (const p of jwtHandlerProblems(out)) fail(ctx, child(child(path, p.setting.kind), p.setting.index), p.message);
}

const rateLimitZone = obj(
  {
    name: checkedBy(checkZoneName),
    key: checkedBy(checkZoneKey),
    events: num(1, RATE_LIMIT_MAX_EVENTS),
    windowMs: ms,
    burst: withDefault(num(0, RATE_LIMIT_MAX_BURST), () => 0),
  },
  (out, path, ctx) => {
    const problem = typeof out.events === 'number' && typeof out.windowMs === 'number' ? zoneLimitProblem(out.events, out.windowMs) : null;
    if (problem !== null) fail(ctx, child(path, 'windowMs'), problem);
  },
);

/** Zone names within one rate_limit handler are unique (as in the Caddyfile). */
function checkRateLimit(out: Record<string, unknown>, path: string, ctx: Ctx): void {
  const seen = new Set<string>();
  ((out.zones as { name?: string }[] | undefined) ?? []).forEach((zone, i) => {
    if (zone.name === undefined) return;
    if (seen.has(zone.name)) fail(ctx, child(child(path, 'zones'), i), `zone ${zone.name} is already defined in this handler`);
    seen.add(zone.name);
  });
}

const HANDLERS: Record<string, Record<string, Field | Check>> = {
  vars: { vars: record(str()) },
  headers: {
    request: opt(headerOps),
    response: opt(
      obj({
        ...headerOpsFields,
        require: opt(obj({ status_code: opt(list(num(1, 999), true)), headers: opt(headerValues) })),
        deferred: opt(bool),
      }),
    ),
  },
  static_response: { status_code: opt(statusOrPlaceholder), body: opt(str()), headers: opt(headerValues), close: opt(bool), abort: opt(bool) },
  rewrite: {
    method: opt(str(true)),
    uri: opt(str(true)),
    strip_path_prefix: opt(str(true)),
    strip_path_suffix: opt(str(true)),
    uri_substring: opt(list(obj({ find: str(true), replace: str(), limit: opt(count) }))),
    path_regexp: opt(list(obj({ find: regexpPattern, replace: str() }))),
  },
  subroute: { routes: (v, p, c) => routes(v, p, c), kind: opt(oneOf(['handle', 'handle_path', 'route'])) },
  encode: {
    encodings: list(oneOf(['gzip', 'br', 'zstd']), true),
    minimum_length: withDefault(count, () => 512),
    levels: opt(obj({ gzip: opt(num(1, 9)), zstd: opt(num(1, 22)), br: opt(num(0, 11)) })),
  },
  request_body: { max_size: count },
  error: { status_code: withDefault(statusOrPlaceholder, () => 500), error: withDefault(str(), () => '') },
  file_server: {
    root: opt(str(true)),
    index_names: withDefault(stringList, () => ['index.html', 'index.txt']),
    browse: withDefault(nullable(obj({ enabled: bool })), () => null),
    hide: withDefault(stringList, () => []),
    precompressed: withDefault(list(oneOf(['br', 'gzip', 'zstd'])), () => []),
    status_code: opt(num(100, 599)),
    pass_thru: withDefault(bool, () => false),
  },
  reverse_proxy: {
    upstreams: list(obj({ dial: str(true), scheme: withDefault(oneOf(['http', 'https']), () => 'http') }), true),
    load_balancing: withDefault(
      obj({
        policy: withDefault(oneOf(['random', 'round_robin', 'least_conn', 'ip_hash', 'first', 'header', 'cookie', 'uri_hash', 'random_choose']), () => 'random'),
        policy_key: opt(str(true)),
        policy_secret: opt(str()),
        try_duration_ms: withDefault(ms, () => 0),
        try_interval_ms: withDefault(ms, () => 250),
        retry_match: opt(list(matcherSet)),
      }),
      () => ({ policy: 'random', try_duration_ms: 0, try_interval_ms: 250 }),
    ),
    health_checks: withDefault(
      obj({
        active: withDefault(
          nullable(
            obj({
              uri: withDefault(str(true), () => '/'),
              port: opt(num(1, 65535)),
              interval_ms: withDefault(ms, () => 30_000),
              timeout_ms: withDefault(ms, () => 5000),
              expect_status: opt(num(1, 599)),
              expect_body: opt(regexpPattern),
              headers: opt(headerValues),
            }),
          ),
          () => null,
        ),
        passive: withDefault(
          nullable(
            obj({
              fail_duration_ms: ms,
              max_fails: withDefault(num(1, MAX), () => 1),
              unhealthy_status: withDefault(list(num(1, 599)), () => []),
              unhealthy_latency_ms: opt(ms),
              unhealthy_request_count: opt(num(1, MAX)),
            }),
          ),
          () => null,
        ),
      }),
      () => ({ active: null, passive: null }),
    ),
    headers: withDefault(obj({ request: opt(headerOps), response: opt(headerOps) }), () => ({})),
    transport: withDefault(
      obj({
        dial_timeout_ms: withDefault(ms, () => 3000),
        response_header_timeout_ms: withDefault(ms, () => 0),
        read_timeout_ms: withDefault(ms, () => 0),
        write_timeout_ms: withDefault(ms, () => 0),
        keepalive_idle_ms: withDefault(ms, () => 120_000),
        max_conns_per_host: withDefault(count, () => 0),
        tls: withDefault(nullable(obj({ insecure_skip_verify: withDefault(bool, () => false), server_name: opt(str(true)), ca_files: opt(list(str(true))) })), () => null),
      }),
      defaultTransport,
    ),
    flush_interval_ms: withDefault(num(-1, MAX, false), () => 0),
    request_buffers: withDefault(count, () => 0),
  },
  metrics: {},
  identity_provider: {},
  authenticate: authenticateFields,
  jwt: jwtFields,
  rate_limit: { zones: list(rateLimitZone, true) },
};

const copyField: Check<string> = (v, path, ctx) => {
  const name = str(true)(v, path, ctx);
  if (name === undefined) return undefined;
  const problem = copyHeaderProblem(name);
  return problem === null ? name : fail(ctx, path, problem);
};

const authUri: Check<string> = (v, path, ctx) => {
  const uri = str(true)(v, path, ctx);
  if (uri === undefined) return undefined;
  // eslint-disable-next-line no-control-regex
  return uri.startsWith('/') && !/[\s\0-\x1f\x7f#]/.test(uri) ? uri : fail(ctx, path, 'expected a path starting with / (no spaces, control characters or #)');
};

// forward_auth: reverse_proxy's settings for its one GET (no body, nothing to stream), plus its own.
const { flush_interval_ms: _flush, request_buffers: _buffers, ...authRequestFields } = HANDLERS.reverse_proxy!;
HANDLERS.forward_auth = {
  uri: authUri,
  copy_headers: withDefault(list(obj({ from: copyField, to: copyField })), () => []),
  ...authRequestFields,
};

function checkForwardAuth(out: Record<string, unknown>, path: string, ctx: Ctx): void {
  const seen = new Set<string>();
  for (const [i, copy] of ((out.copy_headers as { to?: string }[] | undefined) ?? []).entries()) {
    const to = copy.to?.toLowerCase();
    if (to === undefined) continue;
    if (seen.has(to)) fail(ctx, child(child(path, 'copy_headers'), i), `${copy.to} is already set from another field`);
    seen.add(to);
  }
  const lb = out.load_balancing as { policy?: string; retry_match?: unknown } | undefined;
  if (lb?.policy === 'cookie') fail(ctx, child(path, 'load_balancing'), 'the cookie policy is not supported by forward_auth');
  if (lb?.retry_match !== undefined) fail(ctx, child(path, 'load_balancing'), 'retry_match does not apply to forward_auth: its GET is always retried within try_duration_ms');
}

const handler: Check = (v, path, ctx) => {
  if (!plainObject(v)) return fail(ctx, path, `expected a handler object, got ${describe(v)}`);
  const name = v.handler;
  if (typeof name !== 'string' || !Object.hasOwn(HANDLERS, name)) {
    return fail(ctx, child(path, 'handler'), `unknown handler ${describe(name)}${typeof name === 'string' ? didYouMean(name, Object.keys(HANDLERS)) : ''} (expected one of ${Object.keys(HANDLERS).join(', ')})`);
  }
  const out = obj({ handler: str(), ...HANDLERS[name] })(v, path, ctx);
  if (out !== undefined && (name === 'reverse_proxy' || name === 'forward_auth')) checkReverseProxy(out, path, ctx);
  if (out !== undefined && name === 'forward_auth') checkForwardAuth(out, path, ctx);
  if (out !== undefined && name === 'authenticate') checkAuthenticate(out, path, ctx);
  if (out !== undefined && name === 'jwt') checkJwt(out, path, ctx);
  if (out !== undefined && name === 'rate_limit') checkRateLimit(out, path, ctx);
  return out;
};

function checkReverseProxy(out: Record<string, unknown>, path: string, ctx: Ctx): void {
  const lb = out.load_balancing as { policy?: string; policy_key?: string } | undefined;
  if (lb?.policy === 'header' && !lb.policy_key) fail(ctx, child(path, 'load_balancing'), 'the header policy needs policy_key (the header name)');
  const ups = (out.upstreams as { scheme: string }[] | undefined) ?? [];
  if (new Set(ups.map((u) => u.scheme)).size > 1) fail(ctx, child(path, 'upstreams'), 'upstreams mix http and https');
}

const route = obj({
  match: opt(list(matcherSet)),
  handle: list(handler),
  group: opt(str(true)),
  terminal: opt(bool),
  source: opt(source),
});

function routes(v: unknown, path: string, ctx: Ctx): unknown[] | undefined {
  return list(route)(v, path, ctx);
}

const siteAddress = obj({
  original: str(true),
  scheme: withDefault(oneOf(['', 'http', 'https']), () => ''),
  host: withDefault(str(), () => ''),
  port: withDefault(nullable(port), () => null),
  path: withDefault(str(), () => ''),
});

const logConfig = obj(
  {
    output: withDefault(oneOf(['stdout', 'stderr', 'discard', 'file']), () => 'stderr'),
    file: opt(str(true)),
    rollSizeBytes: opt(count),
    rollKeep: opt(count),
    format: withDefault(oneOf(['json', 'console']), () => 'json'),
    level: withDefault(oneOf(LOG_LEVELS), () => 'info'),
  },
  (out, path, ctx) => {
    if (out.output === 'file' && out.file === undefined) fail(ctx, path, 'output "file" needs a file path');
  },
);

/** A string `problem` finds nothing wrong with (the Caddyfile's check, acme-eab.ts). */
const eabString =
  (problem: (text: string) => string | null): Check<string> =>
  (v, path, ctx) => {
    const s = str()(v, path, ctx);
    const found = s === undefined ? null : problem(s);
    return found === null ? s : fail(ctx, path, found);
  };

/** `acmeCa` and a site's `ca`: an https:// ACME directory URL (directives/tls.ts). */
const acmeDirectoryUrl: Check<string> = (v, path, ctx) => {
  const text = str(true)(v, path, ctx);
  return text === undefined || isAcmeDirectoryUrl(text) ? text : fail(ctx, path, 'expected an https:// ACME directory URL');
};

/** An ACME external account binding; the MAC key is a secret, refused when read back redacted. */
const acmeEab = obj({
  keyId: eabString(eabKeyIdProblem),
  macKey: (v, path, ctx) => (v === REDACTED_SECRET ? fail(ctx, path, 'this secret was redacted when the config was printed; put the real MAC key here') : eabString(eabMacKeyProblem)(v, path, ctx)),
  source: sourceField,
});

/** A DNS challenge provider (acme-dns.ts); the TSIG key is a secret, refused when read back redacted. */
const acmeDnsProvider = obj({
  provider: oneOf(DNS_PROVIDERS),
  keyName: eabString(dnsKeyNameProblem),
  keyAlg: oneOf(TSIG_KEY_ALGORITHMS),
  key: (v, path, ctx) => (v === REDACTED_SECRET ? fail(ctx, path, 'this secret was redacted when the config was printed; put the real TSIG key here') : eabString(dnsKeyProblem)(v, path, ctx)),
  server: eabString(dnsServerProblem),
  source: sourceField,
});

const propagationMs = num(0, MAX_PROPAGATION_MS, false);

/** A site's DNS challenge settings, in the Caddyfile's ranges (acme-dns.ts). */
const tlsDnsChallenge = obj({
  provider: opt(acmeDnsProvider),
  propagationDelayMs: opt(propagationMs),
  // -1: no check; 0: the default, as the Caddyfile reads it (certmagic's meaning).
  propagationTimeoutMs: opt((v, path, ctx) => (v === -1 ? -1 : v === 0 ? DEFAULT_PROPAGATION_TIMEOUT_MS : propagationMs(v, path, ctx))),
  resolvers: opt(
    list((v, path, ctx) => {
      const s = str(true)(v, path, ctx);
      return s === undefined || resolverAddress(s) === s ? s : fail(ctx, path, `expected ip:port or [ipv6]:port, got ${JSON.stringify(s)}`);
    }, true),
  ),
  ttlSeconds: opt(num(0, MAX_TTL_SECONDS)),
  overrideDomain: opt(eabString(overrideDomainProblem)),
  source: sourceField,
});

const tlsConfig = obj({
  mode: oneOf(['internal', 'files', 'acme', 'default']),
  certFile: opt(str(true)),
  keyFile: opt(str(true)),
  email: opt(str(true)),
  clientAuth: opt(
    obj(
      {
        mode: oneOf(['request', 'require', 'verify_if_given', 'require_and_verify']),
        trustedCaFiles: withDefault(list(str(true)), () => []),
        trustedCaCerts: opt(list(str(true))),
        source: sourceField,
      },
      (out, path, ctx) => {
        const cas = (out.trustedCaFiles as string[] | undefined)?.length ?? 0;
        const inline = (out.trustedCaCerts as string[] | undefined)?.length ?? 0;
        if ((out.mode === 'verify_if_given' || out.mode === 'require_and_verify') && cas + inline === 0) {
          fail(ctx, path, `mode ${String(out.mode)} needs trustedCaFiles or trustedCaCerts`);
        }
      },
    ),
  ),
  onDemand: opt(obj({ source: sourceField })),
  protocols: opt(
    obj({ min: oneOf(TLS_PROTOCOLS), max: withDefault(oneOf(TLS_PROTOCOLS), () => 'tls1.3') }, (out, path, ctx) => {
      if (TLS_PROTOCOLS.indexOf(out.min as 'tls1.2') > TLS_PROTOCOLS.indexOf(out.max as 'tls1.2')) fail(ctx, path, 'min is above max');
    }),
  ),
  ciphers: opt(list(oneOf(Object.keys(CIPHER_SUITES)), true)),
  alpn: opt(list(str(true), true)),
  eab: opt(acmeEab),
  dns: opt(tlsDnsChallenge),
  ca: opt(acmeDirectoryUrl),
  caRoot: opt(str(true)),
  keyType: opt(oneOf(KEY_TYPES)),
  source: sourceField,
}, (out, path, ctx) => {
  // As in the Caddyfile: a setting its certificate source cannot use is an error, not ignored.
  // The Caddyfile makes such a site an ACME one; a JSON config says so itself (under "default" a
  // local name would go to the internal CA and these settings be dropped).
  const acmeOnly = ['ca', 'caRoot', 'eab', 'dns'].filter((key) => out[key] !== undefined);
  if (acmeOnly.length > 0 && (out.mode === 'internal' || out.mode === 'files')) fail(ctx, path, `${acmeOnly.join(', ')} cannot be used with mode ${JSON.stringify(out.mode)}: they are ACME settings`);
  else if (acmeOnly.length > 0 && out.mode !== 'acme') fail(ctx, path, `${acmeOnly.join(', ')} need mode "acme", not ${JSON.stringify(out.mode ?? 'default')}: they are ACME settings`);
  if (out.keyType !== undefined && out.mode === 'files') fail(ctx, path, 'keyType cannot be used with mode "files": the key is the one in the key file');
});

const site = obj(
  {
    name: opt(str()),
    addresses: list(siteAddress, true),
    bind: withDefault(list(str(true)), () => []),
    routes: withDefault(routes, () => []),
    errorRoutes: withDefault(routes, () => []),
    log: withDefault(nullable(logConfig), () => null),
    tls: withDefault(nullable(tlsConfig), () => null),
    source: sourceField,
  },
  (out) => {
    if (out.name === undefined) out.name = ((out.addresses as { original: string }[] | undefined) ?? []).map((a) => a.original).join(', ');
  },
);

const adminListen: Check<string | null> = (v, path, ctx) => {
  if (v === null) return null;
  const s = str(true)(v, path, ctx);
  if (s === undefined) return undefined;
  const problem = adminListenProblem(s);
  return problem === null ? s : fail(ctx, path, problem);
};

/** A string run through one of the identity checks (which may return it normalised). */
const checkedString =
  <T>(check: (text: string) => Parsed<T>): Check<T> =>
  (v, path, ctx) => {
    const s = str()(v, path, ctx);
    if (s === undefined) return undefined;
    const r = check(s);
    return r.ok ? r.value : fail(ctx, path, r.error);
  };

const absolutePath: Check<string> = (v, path, ctx) => {
  const s = str(true)(v, path, ctx);
  return s === undefined || isAbsolute(s) ? s : fail(ctx, path, `expected an absolute path, got ${JSON.stringify(s)}`);
};

const positiveMs: Check<number> = (v, path, ctx) => {
  const n = ms(v, path, ctx);
  return n === undefined || n > 0 ? n : fail(ctx, path, 'must be longer than 0');
};

const database = obj({ driver: oneOf(['sqlite']), path: withDefault(nullable(absolutePath), () => null) });

/** `guard.rules`, with the Caddyfile's checks (guard-rules.ts). */
const requestRules: Check = (v, path, ctx) =>
  checkRequestRulesJson(v, path, { fail: (at, message) => fail(ctx, at, message), sourceAt: (at) => ({ file: ctx.file, line: lineOf(ctx, at) }) });

const blocklistFiles: Check<string[]> = (v, path, ctx) => {
  const files = list(absolutePath)(v, path, ctx);
  if (files !== undefined && Array.isArray(v)) {
    v.forEach((file, i) => {
      if (typeof file === 'string' && v.indexOf(file) < i) fail(ctx, child(path, i), `${file} is listed twice`);
    });
  }
  return files;
};

const guardConfig = obj({
  neverBan: withDefault(ranges, () => []),
  blocklists: withDefault(blocklistFiles, () => []),
  simulate: withDefault(bool, () => false),
  rules: withDefault(requestRules, () => defaultRequestRules()),
  scenarios: opt(oneOf(['on', 'off', 'simulate'])),
  // `crowdsec { ... }`, with the Caddyfile's checks (guard-options.ts); the key and the password
  // are secrets, which a printed config shows redacted and which cannot be read back so.
  crowdsec: opt(
    obj(
      {
        lapiUrl: checkedString(checkLapiUrl),
        apiKey: withDefault(
          nullable((v, path, ctx) => (v === REDACTED_SECRET ? fail(ctx, path, 'this secret was redacted when the config was printed; put the real key here') : checkedString((t) => checkCrowdSecSecret('the key', t))(v, path, ctx))),
          () => null,
        ),
        machineId: withDefault(nullable(checkedString(checkMachineId)), () => null),
        password: withDefault(
          nullable((v, path, ctx) => (v === REDACTED_SECRET ? fail(ctx, path, 'this secret was redacted when the config was printed; put the real password here') : checkedString((t) => checkCrowdSecSecret('the password', t))(v, path, ctx))),
          () => null,
        ),
        pollIntervalMs: withDefault((v, path, ctx) => {
          const n = ms(v, path, ctx);
          return n === undefined || n >= CROWDSEC_MIN_POLL_MS ? n : fail(ctx, path, `must be at least ${CROWDSEC_MIN_POLL_MS} (1s)`);
        }, () => CROWDSEC_DEFAULT_POLL_MS),
        push: opt(bool),
        source: sourceField,
      },
      (out, path, ctx) => {
        if (!('lapiUrl' in out) || !('apiKey' in out) || !('machineId' in out) || !('password' in out)) return;
        const c = out as unknown as CrowdSecConfig;
        if (out.push === undefined) c.push = c.machineId !== null && c.password !== null;
        for (const problem of crowdSecProblems(c)) fail(ctx, path, problem);
      },
    ),
  ),
  // `challenge { difficulty; clearance }`, in the Caddyfile's ranges (guard-options.ts).
  challenge: opt(
    obj({
      difficulty: withDefault(num(CHALLENGE_MIN_DIFFICULTY, CHALLENGE_MAX_DIFFICULTY), () => CHALLENGE_DEFAULT_DIFFICULTY),
      clearanceMs: withDefault((v, path, ctx) => {
        const n = ms(v, path, ctx);
        if (n === undefined) return undefined;
        const r = checkClearanceMs(n);
        return r.ok ? r.value : fail(ctx, path, `${n} is ${r.error}`);
      }, () => CHALLENGE_DEFAULT_CLEARANCE_MS),
      source: sourceField,
    }),
  ),
  source: sourceField,
});

const clientSecret: Check<string> = (v, path, ctx) => {
  if (v === REDACTED_SECRET) return fail(ctx, path, 'this secret was redacted when the config was printed; put the real secret here');
  return checkedString(checkSecret)(v, path, ctx);
};

const clientFields: Record<string, Field | Check> = {
  id: checkedString(checkClientId),
  name: withDefault(nullable(checkedString(checkClientName)), () => null),
  secret: withDefault(nullable(clientSecret), () => null),
  public: withDefault(bool, () => false),
  redirectUris: withDefault(list(str()), () => []),
  postLogoutRedirectUris: withDefault(list(str()), () => []),
  scopes: withDefault(list(checkedString(checkScopeName), true), () => [...DEFAULT_CLIENT_SCOPES]),
  grantTypes: withDefault(list(oneOf(GRANT_TYPES), true), () => [...DEFAULT_GRANT_TYPES]),
  firstParty: withDefault(bool, () => false),
  signingAlg: withDefault(oneOf(SIGNING_ALGS), () => 'RS256'),
  backchannelLogoutUri: withDefault(nullable(str()), () => null),
  source: sourceField,
};

/** The JSON field of each client setting the rules between settings read. */
const CLIENT_FIELD_OF: Record<string, string> = { secret: 'secret', public: 'public', grant_types: 'grantTypes', redirect_uri: 'redirectUris', scopes: 'scopes' };

const identityClient = obj(clientFields, (out, path, ctx) => {
  const client = out as unknown as IdentityClientConfig;
  const uris = (key: 'redirectUris' | 'postLogoutRedirectUris', kind: ClientUriKind) => {
    (client[key] ?? []).forEach((uri, i) => {
      const problem = client[key].indexOf(uri) < i ? `${kind} ${JSON.stringify(uri)} is listed twice` : checkClientUri(uri, kind, client.public === true);
      if (problem !== null) fail(ctx, child(child(path, key), i), problem);
    });
  };
  uris('redirectUris', 'redirect_uri');
  uris('postLogoutRedirectUris', 'post_logout_redirect_uri');
  if (typeof client.backchannelLogoutUri === 'string') {
    const problem = checkClientUri(client.backchannelLogoutUri, 'backchannel_logout_uri', client.public === true);
    if (problem !== null) fail(ctx, child(path, 'backchannelLogoutUri'), problem);
  }
  // A rule between fields is checked only when the fields it reads were accepted (as in the Caddyfile).
  const refused = (setting: string) => out[CLIENT_FIELD_OF[setting]!] === undefined;
  for (const problem of clientProblems(client)) if (!problem.reads.some(refused)) fail(ctx, path, problem.message);
});

const identityConfig = obj(
  {
    issuer: withDefault(nullable(checkedString(checkIssuer)), () => null),
    accessTokenTtlMs: withDefault(positiveMs, () => IDENTITY_DEFAULTS.accessTokenTtlMs),
    idTokenTtlMs: withDefault(positiveMs, () => IDENTITY_DEFAULTS.idTokenTtlMs),
    refreshTokenTtlMs: withDefault(positiveMs, () => IDENTITY_DEFAULTS.refreshTokenTtlMs),
    sessionTtlMs: withDefault(positiveMs, () => IDENTITY_DEFAULTS.sessionTtlMs),
    cookie: withDefault(
      obj({
        domain: withDefault(nullable(checkedString(checkCookieDomain)), () => null),
        name: withDefault(checkedString(checkCookieName), () => IDENTITY_DEFAULTS.cookieName),
      }),
      () => ({ domain: null, name: IDENTITY_DEFAULTS.cookieName }),
    ),
    theme: withDefault(
      obj({
        brand: withDefault(checkedString(checkBrand), () => IDENTITY_DEFAULTS.brand),
        logo: withDefault(nullable(checkedString(checkLogo)), () => null),
        color: withDefault(nullable(checkedString(checkColor)), () => null),
        mode: withDefault(oneOf(THEME_MODES), () => 'auto'),
        templates: withDefault(nullable(absolutePath), () => null),
        locale: withDefault(checkedString(checkLocale), () => IDENTITY_DEFAULTS.locale),
      }),
      defaultTheme,
    ),
    claims: withDefault(
      list(
        obj({ claim: checkedString(checkClaimName), attribute: opt(checkedString(checkAttributeName)), scope: withDefault(checkedString(checkScopeName), () => 'profile') }, (out) => {
          // Same default as `claim <name>` in a Caddyfile: the attribute of the same name.
          if (out.attribute === undefined && typeof out.claim === 'string') out.attribute = out.claim;
        }),
      ),
      () => [],
    ),
    clients: withDefault(list(identityClient), () => []),
    source: sourceField,
  },
  (out, path, ctx) => checkIdentityWhole(out as unknown as IdentityConfig, path, ctx),
);

/** The identity block's rules between fields (the Caddyfile adapter makes the same ones). */
function checkIdentityWhole(identity: IdentityConfig, path: string, ctx: Ctx): void {
  if (identity.refreshTokenTtlMs < identity.accessTokenTtlMs) fail(ctx, child(path, 'refreshTokenTtlMs'), 'must not be shorter than accessTokenTtlMs');
  const domain = identity.cookie?.domain ?? null;
  if (domain !== null && typeof identity.issuer === 'string' && !domainCovers(domain, issuerHost(identity.issuer))) {
    fail(ctx, child(child(path, 'cookie'), 'domain'), `cookie domain ${domain} does not cover the issuer's host ${issuerHost(identity.issuer)}: browsers would refuse the cookie`);
  }
  const claims = identity.claims ?? [];
  claims.forEach((c, i) => {
    if (claims.findIndex((o) => o.claim === c.claim) < i) fail(ctx, child(child(path, 'claims'), i), `claim ${c.claim} is defined twice`);
  });
  const scopes = knownScopes(claims);
  (identity.clients ?? []).forEach((client, i) => {
    const at = child(child(path, 'clients'), i);
    if (identity.clients.findIndex((o) => o.id === client.id) < i) fail(ctx, at, `client ${client.id} is defined twice`);
    // client_credentials tokens carry API scopes, which only the APIs define.
    if ((client.grantTypes ?? []).includes('client_credentials')) return;
    (client.scopes ?? []).forEach((scope, j) => {
      if (!scopes.includes(scope)) fail(ctx, child(child(at, 'scopes'), j), `unknown scope ${JSON.stringify(scope)}${didYouMean(scope, scopes)} (custom scopes come from claims)`);
    });
  });
}

/** True when routes (or the subroutes inside them) use the identity_provider handler. */
function servesIdentityProvider(routes: unknown): boolean {
  if (!Array.isArray(routes)) return false;
  return routes.some((r) =>
    ((r as { handle?: unknown[] }).handle ?? []).some((h) => {
      const handler = h as { handler?: string; routes?: unknown };
      return handler.handler === 'identity_provider' || (handler.handler === 'subroute' && servesIdentityProvider(handler.routes));
    }),
  );
}

/**
 * The identity block against the sites that serve identity_provider, as the Caddyfile adapter
 * checks them; fills in the default identity settings when a site serves it without a block.
 */
function checkIdentitySites(out: Record<string, unknown>, _path: string, ctx: Ctx): void {
  const sites = (out.sites as { routes?: unknown; addresses?: SiteAddress[]; source?: SourceLocation }[] | undefined) ?? [];
  const using = sites.map((s, i) => ({ site: s, path: child('sites', i) })).filter((u) => servesIdentityProvider(u.site.routes));
  const identity = out.identity as IdentityConfig | null | undefined;
  if (identity === undefined) return;
  const first = using[0];
  if (first === undefined) {
    if (identity !== null && identity.clients?.length > 0) fail(ctx, 'identity', 'no site serves identity_provider, so its clients could never sign in: add the identity_provider handler to the site of the issuer');
    return;
  }
  for (const u of using) {
    for (const a of u.site.addresses ?? []) {
      if (a.path !== '' && a.path !== '/') fail(ctx, child(u.path, 'addresses'), `the site's address ${a.original} has a path, but identity_provider serves the root of the host`);
    }
  }
  if (identity === null) out.identity = defaultIdentity(first.site.source ?? { file: ctx.file, line: lineOf(ctx, first.path) });
  if (identity !== null && identity.issuer !== null) return;
  if (using.length > 1) {
    for (const u of using.slice(1)) fail(ctx, u.path, `set identity.issuer: several sites serve identity_provider (also ${first.path})`);
    return;
  }
  const address = first.site.addresses?.[0];
  if (address === undefined) return;
  const derived = deriveIssuer(address, (out.httpPort as number | undefined) ?? 80, (out.httpsPort as number | undefined) ?? 443);
  const checked = derived === null ? null : checkIssuer(derived);
  const problem = checked === null ? `its first address ${address.original} names no single host` : checked.ok ? null : `the issuer derived from ${address.original} is not usable: ${checked.error}`;
  if (problem !== null) fail(ctx, first.path, `set identity.issuer: this site serves identity_provider and ${problem}`);
}

/** The sites using authenticate against the identity provider, as the Caddyfile adapter checks them. */
function checkAuthenticateSites(out: Record<string, unknown>, ctx: Ctx): void {
  const input = {
    identity: out.identity as IdentityConfig | null | undefined,
    sites: (out.sites as Parameters<typeof authenticateSiteProblems>[0]['sites'] | undefined) ?? [],
    httpPort: (out.httpPort as number | undefined) ?? 80,
    httpsPort: (out.httpsPort as number | undefined) ?? 443,
  };
  for (const p of authenticateSiteProblems(input)) {
    const site = child('sites', p.site);
    fail(ctx, p.address === null ? `${site}.${p.use.path}` : child(child(site, 'addresses'), p.address), `authenticate: ${p.message}`);
  }
}

/** Every jwt handler without an issuer gets the identity provider's, as in the Caddyfile adapter. */
function checkJwtSites(out: Record<string, unknown>, ctx: Ctx): void {
  const input = {
    identity: out.identity as IdentityConfig | null | undefined,
    sites: (out.sites as Parameters<typeof fillJwtDefaults>[0]['sites'] | undefined) ?? [],
    httpPort: (out.httpPort as number | undefined) ?? 80,
    httpsPort: (out.httpsPort as number | undefined) ?? 443,
  };
  for (const p of fillJwtDefaults(input)) fail(ctx, `${child('sites', p.site)}.${p.use.path}`, `jwt: ${p.message}`);
}

const clientIpHeader: Check<string> = (v, path, ctx) => {
  const s = str(true)(v, path, ctx);
  const problem = s === undefined ? null : clientIpHeaderProblem(s);
  return problem === null ? s : fail(ctx, path, problem);
};

const defaults = defaultServerOptions();
const config = obj({
  admin: withDefault(obj({ listen: adminListen }), () => ({ listen: 'localhost:2019' })),
  logLevel: withDefault(oneOf(LOG_LEVELS), () => 'info'),
  server: withDefault(
    obj({
      readHeaderTimeoutMs: withDefault(ms, () => defaults.readHeaderTimeoutMs),
      readTimeoutMs: withDefault(ms, () => defaults.readTimeoutMs),
      writeTimeoutMs: withDefault(ms, () => defaults.writeTimeoutMs),
      idleTimeoutMs: withDefault(ms, () => defaults.idleTimeoutMs),
      maxHeaderBytes: withDefault(num(1024, 16 * 1024 * 1024), () => defaults.maxHeaderBytes),
      trustedProxies: withDefault(ranges, () => []),
      trustedProxiesCloudflare: opt(obj({ file: withDefault(nullable(absolutePath), () => null) })),
      clientIpHeaders: opt(list(clientIpHeader, true)),
      gracePeriodMs: withDefault(ms, () => defaults.gracePeriodMs),
    }),
    () => defaultServerOptions(),
  ),
  httpPort: withDefault(port, () => 80),
  httpsPort: withDefault(port, () => 443),
  defaultBind: opt(list(str(true))),
  autoHttps: withDefault(oneOf(['on', 'off', 'disable_redirects']), () => 'on'),
  metrics: withDefault(obj({ perHost: withDefault(bool, () => false) }), () => ({ perHost: false })),
  tls: withDefault(
    obj({
      storage: withDefault(nullable(str(true)), () => null),
      email: opt(str(true)),
      acmeCa: opt(acmeDirectoryUrl),
      acmeCaRoot: opt(str(true)),
      acmeEab: opt(acmeEab),
      acmeDns: opt(acmeDnsProvider),
      localCerts: withDefault(bool, () => false),
      defaultSni: opt(str(true)),
      fallbackSni: opt(obj({ name: str(true), source: sourceField })),
      keyType: opt(oneOf(KEY_TYPES)),
      certLifetimeMs: opt(num(CERT_LIFETIME_RANGE.min, CERT_LIFETIME_RANGE.max)),
      renewIntervalMs: opt(num(RENEW_INTERVAL_RANGE.min, RENEW_INTERVAL_RANGE.max)),
      onDemand: opt(
        obj({
          ask: (v, path, ctx) => {
            const text = str(true)(v, path, ctx);
            return text === undefined || /^https?:\/\/[^\s#]+$/.test(text) ? text : fail(ctx, path, 'expected an http:// or https:// URL');
          },
          source: sourceField,
        }),
      ),
    }),
    () => ({ storage: null, localCerts: false }),
  ),
  database: withDefault(database, () => ({ driver: 'sqlite', path: null })),
  identity: withDefault(nullable(identityConfig), () => null),
  guard: opt(nullable(guardConfig)),
  sites: list(site),
}, (out, path, ctx) => {
  checkIdentitySites(out, path, ctx);
  checkAuthenticateSites(out, ctx);
  checkJwtSites(out, ctx);
  for (const { use, first } of rateLimitZoneConflicts((out.sites as Parameters<typeof rateLimitZoneConflicts>[0] | undefined) ?? [])) {
    fail(ctx, `${child('sites', use.site)}.${use.path}`, `rate_limit: ${zoneConflictMessage(use.zone.name!, `${child('sites', first.site)}.${first.path}`)}`);
  }
});

/** Deepest object/array nesting in JSON text (strings skipped), to refuse absurd inputs early. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

/** Maps each value's path (`sites[0].routes[1]`) to the line it starts on. Expects valid JSON. */
function indexLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let i = 0;
  let line = 1;
  const ws = () => {
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '\n') line++;
      else if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\ufeff') return;
    }
  };
  const string = (): string => {
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    const raw = text.slice(i, j + 1);
    i = j + 1;
    return JSON.parse(raw) as string;
  };
  const value = (path: string): void => {
    ws();
    lines.set(path, line);
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (let k = 0; i < text.length; k++) {
        ws();
        let p: string;
        if (c === '{') {
          p = child(path, string());
          ws();
          i++; // the colon
        } else p = child(path, k);
        value(p);
        ws();
        if (text[i++] !== ',') return;
      }
    } else if (c === '"') string();
    else while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
  };
  value('');
  return lines;
}

/**
 * Parses and checks a JSON config (text, or an already parsed value); `file` names it in
 * errors. Throws ConfigErrors listing every problem; returns the config with defaults filled in.
 */
export function parseConfigJson(input: unknown, file = '<json>'): Config {
  const errors = new ErrorList();
  let value = input;
  let lines = new Map<string, number>();
  if (typeof input === 'string') {
    const text = input.replace(/^\ufeff/, '');
    try {
      value = JSON.parse(text);
    } catch (err) {
      const message = (err as Error).message;
      // V8 names the place for most errors ("... at position 17 (line 3 column 1)"), not all.
      const lineAt = /\(line (\d+)/.exec(message);
      const at = /position (\d+)/.exec(message);
      const line = lineAt ? Number(lineAt[1]) : at ? text.slice(0, Number(at[1])).split('\n').length : 1;
      errors.add(ErrorCodes.ERR_CONFIG_SYNTAX, `invalid JSON: ${message}`, { file, line }, 'json');
      errors.throwIfAny();
    }
    if (nestingDepth(text) > MAX_DEPTH) {
      throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `${file}: JSON nested more than ${MAX_DEPTH} levels deep`);
    }
    lines = indexLines(text);
  } else if (nestingDepth(JSON.stringify(input) ?? '') > MAX_DEPTH) {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `${file}: JSON nested more than ${MAX_DEPTH} levels deep`);
  }
  const ctx: Ctx = { errors, file, lines };
  const out = config(value, '', ctx);
  errors.throwIfAny();
  return out as unknown as Config;
}

/** Checks an already adapted Config (tests use it to prove the adapter's output is valid). */
export function validateConfig(value: Config, file = '<config>'): Config {
  return parseConfigJson(JSON.parse(JSON.stringify(value)), file);
}
