/**
 * `reverse_proxy [<matcher>] [<upstreams...>] { ... }`: forwards requests to upstreams, with
 * load balancing, retries, active and passive health checks, header edits and an HTTP
 * transport. Syntax and defaults are Caddy's (dial timeout 3s, keep-alive 2m, try interval
 * 250ms, no health checks, no retries).
 *
 * Upstream addresses: `host:port`, `:port`, `host` (port 80), `http://host[:port]`,
 * `https://host[:port]` (port 443, TLS to the upstream), `[::1]:8080`, `unix//path.sock`,
 * `host:8001-8003` (a range of ports). A URL with a path is an error, as in Caddy: the request
 * path is what is sent; rewrite it with `rewrite`, `uri` or `handle_path`.
 */
import type { Directive, Token } from '../ast.ts';
import type { HeaderOps, ReverseProxyHandler, RouteConfig, UpstreamConfig } from '../types.ts';
import { parseIp } from '../../kernel/ip-ranges.ts';
import { argCount, durationArg, eachSubdirective, flag, intArg, noBlock, singleArg, sizeArg, type Dispenser } from '../dispenser.ts';
import { checkRegexp, entryFromArgs, parseMatcherSet } from '../matcher-syntax.ts';
import { parseDuration } from '../durations.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';
import { applyHeaderOp } from './header.ts';

type Policy = ReverseProxyHandler['load_balancing']['policy'];

const POLICIES: readonly Policy[] = ['random', 'random_choose', 'least_conn', 'round_robin', 'first', 'ip_hash', 'uri_hash', 'header', 'cookie'];

const UNSUPPORTED_POLICIES: Record<string, string> = {
  weighted_round_robin: 'weighted_round_robin is not supported yet',
  client_ip_hash: 'client_ip_hash is not supported yet (ip_hash hashes the connection address)',
  query: 'the query policy is not supported yet',
};

/** Most upstreams one port range may expand to; more is almost surely a typo. */
const MAX_PORT_RANGE = 100;

interface ParsedUpstreams {
  upstreams: { dial: string; scheme: '' | 'http' | 'https'; token: Token }[];
}

function invalid(disp: Dispenser, token: Token, why: string): null {
  disp.error(token, `invalid upstream address ${JSON.stringify(token.text)}: ${why}`);
  return null;
}

function validHost(host: string): boolean {
  if (host === '') return true;
  if (host.includes(':') || /^[\d.]+$/.test(host)) return parseIp(host) !== null;
  return /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(host) && host.length <= 253;
}

/** Parses one upstream address token into one or more dial addresses (port ranges expand). */
function parseUpstream(disp: Dispenser, token: Token, out: ParsedUpstreams): void {
  const text = token.text;
  if (text.includes('{')) {
    invalid(disp, token, 'placeholders (dynamic upstreams) are not supported yet');
    return;
  }
  if (text.startsWith('unix/')) {
    if (text.length <= 'unix/'.length) invalid(disp, token, 'empty unix socket path');
    else out.upstreams.push({ dial: text, scheme: '', token });
    return;
  }
  let scheme: '' | 'http' | 'https' = '';
  let rest = text;
  const sep = text.indexOf('://');
  if (sep !== -1) {
    const s = text.slice(0, sep).toLowerCase();
    if (s !== 'http' && s !== 'https') {
      invalid(disp, token, s === 'h2c' ? 'h2c upstreams are not supported yet' : `unsupported scheme ${s}:// (use http:// or https://)`);
      return;
    }
    scheme = s;
    rest = text.slice(sep + 3);
    const cut = rest.search(/[/?#]/);
    if (cut !== -1) {
      // Caddy refuses this too: a path here would silently not be used.
      invalid(disp, token, 'upstream addresses cannot have a path, query or fragment; use rewrite, uri or handle_path to change the path');
      return;
    }
  } else if (/[/?#]/.test(text)) {
    invalid(disp, token, 'expected host:port, http://host:port, https://host or unix//path');
    return;
  }
  let host: string;
  let port: string;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] ?? '';
    if (parseIp(host) === null) return void invalid(disp, token, `${JSON.stringify(host)} is not an IPv6 address`);
  } else {
    if ((rest.match(/:/g) ?? []).length > 1) return void invalid(disp, token, 'IPv6 addresses must be in brackets: [::1]:8080');
    const colon = rest.lastIndexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    port = colon === -1 ? '' : rest.slice(colon + 1);
    if (!validHost(host)) return void invalid(disp, token, `${JSON.stringify(host)} is not a host name or IP address`);
  }
  if (host === '' && port === '') return void invalid(disp, token, 'expected a host or a port');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  if (port === '') {
    out.upstreams.push({ dial: `${hostPart}:${scheme === 'https' ? 443 : 80}`, scheme, token });
    return;
  }
  const range = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(port);
  const low = range ? Number(range[1]) : NaN;
  const high = range ? Number(range[2] ?? range[1]) : NaN;
  if (!(low >= 1 && high <= 65535 && low <= high)) return void invalid(disp, token, `invalid port ${JSON.stringify(port)}`);
  if (high - low + 1 > MAX_PORT_RANGE) return void invalid(disp, token, `a port range may cover at most ${MAX_PORT_RANGE} ports`);
  for (let p = low; p <= high; p++) out.upstreams.push({ dial: `${hostPart}:${p}`, scheme, token });
}

/** `2xx` is Caddy's status class, written in the JSON as the digit 2. */
function statusOrClass(disp: Dispenser, token: Token, label: string): number | null {
  const m = /^([1-5])xx$|^([1-5]\d\d)$/.exec(token.text.toLowerCase());
  if (m !== null) return Number(m[1] ?? m[2]);
  disp.error(token, `${label}: ${JSON.stringify(token.text)} is not a status code or class (e.g. 200, 5xx)`);
  return null;
}

function defaultHandler(): ReverseProxyHandler {
  return {
    handler: 'reverse_proxy',
    upstreams: [],
    load_balancing: { policy: 'random', try_duration_ms: 0, try_interval_ms: 250 },
    health_checks: { active: null, passive: null },
    headers: {},
    transport: defaultTransport(),
    flush_interval_ms: 0,
    request_buffers: 0,
  };
}

interface ActiveDraft {
  uri?: string;
  port?: number;
  interval_ms?: number;
  timeout_ms?: number;
  expect_status?: number;
  expect_body?: string;
  headers?: Record<string, string[]>;
}

interface PassiveDraft {
  fail_duration_ms?: number;
  max_fails?: number;
  unhealthy_status?: number[];
  unhealthy_latency_ms?: number;
  unhealthy_request_count?: number;
}

/** `usage` names the directive in the no-upstreams message (forward_auth reuses this adapter). */
export function adaptReverseProxy(input: DirectiveInput, usage = 'reverse_proxy [<matcher>] <upstreams...>'): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  const h = defaultHandler();
  const parsed: ParsedUpstreams = { upstreams: [] };
  for (const t of args) parseUpstream(disp, t, parsed);
  const active: ActiveDraft = {};
  const activeSubs: Directive[] = [];
  const passive: PassiveDraft = {};
  const passiveSubs: Directive[] = [];
  let tlsWanted = false;
  let tlsDirective: Directive | null = null;
  const tls: NonNullable<ReverseProxyHandler['transport']['tls']> = { insecure_skip_verify: false };

  const dur = (sub: Directive, set: (ms: number) => void) => {
    const t = singleArg(disp, sub, `${sub.name} <duration>`);
    const ms = t && durationArg(disp, t, sub.name);
    if (ms !== null) set(ms);
  };
  const int = (sub: Directive, min: number, max: number, set: (n: number) => void) => {
    const t = singleArg(disp, sub, `${sub.name} <number>`);
    const n = t && intArg(disp, t, sub.name, min, max);
    if (n !== null) set(n);
  };
  const headerOps = (sub: Directive, ops: HeaderOps, allowDefault: boolean) => {
    noBlock(disp, sub);
    if (argCount(disp, sub, sub.args, 1, 3, `${sub.name} [+|-]<field> [<value>|<regexp> <replacement>]`)) {
      applyHeaderOp(ops, sub.args, disp, sub.name, { allowDefault, allowDefer: false });
    }
  };
  const activeSub = (fn: (sub: Directive) => void) => (sub: Directive) => {
    activeSubs.push(sub);
    fn(sub);
  };
  const passiveSub = (fn: (sub: Directive) => void) => (sub: Directive) => {
    passiveSubs.push(sub);
    fn(sub);
  };
  const healthUri = (sub: Directive) => {
    const t = singleArg(disp, sub, `${sub.name} <uri>`);
    if (t === null) return;
    if (!t.text.startsWith('/')) disp.error(t, `${sub.name}: ${JSON.stringify(t.text)} must be a path starting with /`);
    else active.uri = t.text;
  };

  eachSubdirective(
    disp,
    d,
    {
      to: (sub) => {
        noBlock(disp, sub);
        if (argCount(disp, sub, sub.args, 1, Infinity, 'to <upstreams...>')) for (const t of sub.args) parseUpstream(disp, t, parsed);
      },
      lb_policy: (sub) => parsePolicy(disp, sub, h),
      lb_try_duration: (sub) => dur(sub, (ms) => (h.load_balancing.try_duration_ms = ms)),
      lb_try_interval: (sub) => dur(sub, (ms) => (h.load_balancing.try_interval_ms = ms)),
      lb_retry_match: (sub) => {
        const entries = sub.args.length > 0 ? [entryFromArgs(sub.args, sub.source, sub.block)] : (sub.block ?? []);
        if (entries.length === 0) {
          disp.error(sub, 'lb_retry_match: expected request matchers, on one line or in a block');
          return;
        }
        (h.load_balancing.retry_match ??= []).push(parseMatcherSet(entries, disp, undefined));
      },
      health_uri: activeSub(healthUri),
      health_path: activeSub(healthUri),
      health_port: activeSub((sub) => int(sub, 1, 65535, (n) => (active.port = n))),
      health_interval: activeSub((sub) => dur(sub, (ms) => (active.interval_ms = ms))),
      health_timeout: activeSub((sub) => dur(sub, (ms) => (active.timeout_ms = ms))),
      health_status: activeSub((sub) => {
        const t = singleArg(disp, sub, 'health_status <status>|<class>xx');
        const s = t && statusOrClass(disp, t, 'health_status');
        if (s !== null) active.expect_status = s;
      }),
      health_body: activeSub((sub) => {
        const t = singleArg(disp, sub, 'health_body <regexp>');
        if (t === null) return;
        const problem = checkRegexp(t.text);
        if (problem !== null) disp.error(t, `health_body: ${problem}`);
        else active.expect_body = t.text;
      }),
      health_headers: activeSub((sub) => {
        argCount(disp, sub, sub.args, 0, 0, 'health_headers { <field> [<values...>] }');
        if (sub.block === null) disp.error(sub, 'health_headers: expected a block of <field> <values...> lines');
        for (const line of sub.block ?? []) {
          noBlock(disp, line);
          (active.headers ??= {})[line.name] = line.args.map((t) => t.text);
        }
      }),
      fail_duration: passiveSub((sub) => dur(sub, (ms) => (passive.fail_duration_ms = ms))),
      max_fails: passiveSub((sub) => int(sub, 1, Number.MAX_SAFE_INTEGER, (n) => (passive.max_fails = n))),
      unhealthy_status: passiveSub((sub) => {
        noBlock(disp, sub);
        if (!argCount(disp, sub, sub.args, 1, Infinity, 'unhealthy_status <status...>')) return;
        for (const t of sub.args) {
          const s = statusOrClass(disp, t, 'unhealthy_status');
          if (s !== null) (passive.unhealthy_status ??= []).push(s);
        }
      }),
      unhealthy_latency: passiveSub((sub) => dur(sub, (ms) => (passive.unhealthy_latency_ms = ms))),
      unhealthy_request_count: (sub) => int(sub, 1, Number.MAX_SAFE_INTEGER, (n) => (passive.unhealthy_request_count = n)),
      header_up: (sub) => headerOps(sub, (h.headers.request ??= {}), false),
      header_down: (sub) => headerOps(sub, (h.headers.response ??= {}), true),
      flush_interval: (sub) => {
        const t = singleArg(disp, sub, 'flush_interval <duration>|-1');
        if (t === null) return;
        const parsedDuration = parseDuration(t.text);
        if (t.text === '-1') h.flush_interval_ms = -1;
        else if (!parsedDuration.ok) disp.error(t, `flush_interval: ${parsedDuration.error}`);
        else if (parsedDuration.value < 0) disp.error(t, 'flush_interval: use -1 to flush immediately; other negative values mean nothing');
        else h.flush_interval_ms = parsedDuration.value;
      },
      request_buffers: (sub) => {
        const t = singleArg(disp, sub, 'request_buffers <size>');
        if (t?.text === 'unlimited') disp.error(t, 'request_buffers: unlimited would let one client fill memory; give a size');
        else if (t !== null) {
          const bytes = sizeArg(disp, t, 'request_buffers');
          if (bytes !== null) h.request_buffers = bytes;
        }
      },
      transport: (sub) => {
        tlsDirective = sub;
        tlsWanted = parseTransport(disp, sub, h, tls) || tlsWanted;
      },
    },
    {
      lb_retries: 'not supported yet; lb_try_duration bounds retries by time',
      dynamic: 'dynamic upstreams are not supported yet',
      health_method: 'not supported yet (health checks use GET)',
      health_request_body: 'not supported yet',
      health_passes: 'not supported yet',
      health_fails: 'not supported yet',
      health_follow_redirects: 'not supported yet',
      health_upstream: 'not supported yet; use health_port',
      response_buffers: 'not supported yet',
      stream_timeout: 'not supported yet',
      stream_close_delay: 'not supported yet',
      stream_buffer_size: 'not supported yet',
      trusted_proxies: 'set trusted proxies with the servers global option',
      method: 'not supported yet',
      rewrite: 'not supported yet; use the rewrite directive before reverse_proxy',
      replace_status: 'not supported yet',
      handle_response: 'not supported yet',
      verbose_logs: 'not supported',
    },
  );

  if (parsed.upstreams.length === 0 && args.length === 0 && !d.block?.some((s) => s.name === 'to')) {
    disp.error(d, `no upstreams (usage: ${usage}, or to <upstreams...> in the block)`);
    return null;
  }
  const upstreams = resolveSchemes(disp, d, parsed, tlsWanted, tlsDirective);
  if (upstreams === null) return null;
  h.upstreams = upstreams;
  if (upstreams.some((u) => u.scheme === 'https')) h.transport.tls = tls;

  if (active.uri !== undefined || active.port !== undefined) {
    h.health_checks.active = {
      uri: active.uri ?? '/',
      interval_ms: active.interval_ms ?? 30_000,
      timeout_ms: active.timeout_ms ?? 5000,
      ...(active.port !== undefined ? { port: active.port } : {}),
      ...(active.expect_status !== undefined ? { expect_status: active.expect_status } : {}),
      ...(active.expect_body !== undefined ? { expect_body: active.expect_body } : {}),
      ...(active.headers !== undefined ? { headers: active.headers } : {}),
    };
  } else {
    for (const sub of activeSubs) disp.error(sub, `${sub.name}: active health checks need health_uri or health_port`);
  }
  if (passive.fail_duration_ms !== undefined && passive.fail_duration_ms > 0) {
    h.health_checks.passive = {
      fail_duration_ms: passive.fail_duration_ms,
      max_fails: passive.max_fails ?? 1,
      unhealthy_status: passive.unhealthy_status ?? [],
      ...(passive.unhealthy_latency_ms !== undefined ? { unhealthy_latency_ms: passive.unhealthy_latency_ms } : {}),
      ...(passive.unhealthy_request_count !== undefined ? { unhealthy_request_count: passive.unhealthy_request_count } : {}),
    };
  } else {
    for (const sub of passiveSubs.filter((s) => s.name !== 'fail_duration')) {
      disp.error(sub, `${sub.name}: passive health checks need a fail_duration greater than 0`);
    }
    if (passive.unhealthy_request_count !== undefined) {
      h.health_checks.passive = { fail_duration_ms: 0, max_fails: 1, unhealthy_status: [], unhealthy_request_count: passive.unhealthy_request_count };
    }
  }
  return ok ? routeOf(match, h, d) : null;
}

function resolveSchemes(disp: Dispenser, d: Directive, parsed: ParsedUpstreams, tlsWanted: boolean, transport: Directive | null): UpstreamConfig[] | null {
  const explicit = new Set(parsed.upstreams.map((u) => u.scheme).filter((s) => s !== ''));
  if (explicit.size > 1) {
    disp.error(d, 'upstreams mix http:// and https://; one reverse_proxy speaks one scheme (use two handle blocks)');
    return null;
  }
  const plainHttp = parsed.upstreams.find((u) => u.scheme === 'http');
  if (plainHttp !== undefined && tlsWanted) {
    disp.error(transport ?? d, `the transport uses TLS but upstream ${plainHttp.token.text} says http://`);
    return null;
  }
  const https = tlsWanted || explicit.has('https');
  const unix = parsed.upstreams.find((u) => u.dial.startsWith('unix/'));
  if (unix !== undefined && https) {
    disp.error(unix.token, 'TLS to unix socket upstreams is not supported');
    return null;
  }
  const seen = new Set<string>();
  const out: UpstreamConfig[] = [];
  for (const u of parsed.upstreams) {
    if (seen.has(u.dial)) {
      disp.error(u.token, `upstream ${u.dial} is listed twice`);
      continue;
    }
    seen.add(u.dial);
    out.push({ dial: u.dial, scheme: https ? 'https' : 'http' });
  }
  return out;
}

function parsePolicy(disp: Dispenser, sub: Directive, h: ReverseProxyHandler): void {
  noBlockUnless(disp, sub, sub.args[0]?.text === 'cookie' ? 'the cookie policy fallback block is not supported yet' : null);
  if (!argCount(disp, sub, sub.args, 1, 3, 'lb_policy <policy> [<options...>]')) return;
  const [nameTok, ...opts] = sub.args as [Token, ...Token[]];
  const name = nameTok.text;
  if (Object.hasOwn(UNSUPPORTED_POLICIES, name)) return void disp.error(nameTok, `lb_policy: ${UNSUPPORTED_POLICIES[name]}`);
  if (!POLICIES.includes(name as Policy)) {
    disp.error(nameTok, `lb_policy: unknown policy ${JSON.stringify(name)} (expected one of ${POLICIES.join(', ')})`);
    return;
  }
  const lb = h.load_balancing;
  const policy = name as Policy;
  switch (policy) {
    case 'header':
      if (opts.length !== 1) return void disp.error(sub, 'lb_policy: header needs exactly one field name: lb_policy header X-User');
      lb.policy_key = opts[0]!.text;
      break;
    case 'cookie':
      lb.policy_key = opts[0]?.text ?? 'lb';
      if (opts[1] !== undefined) lb.policy_secret = opts[1].text;
      break;
    case 'random_choose':
      // The proxy picks the better of two random upstreams; other counts have no config field.
      if (opts.length > 0 && !(opts.length === 1 && opts[0]!.text === '2')) return void disp.error(sub, 'lb_policy: random_choose supports only the default of 2');
      break;
    default:
      if (opts.length > 0) return void disp.error(opts[0]!, `lb_policy: ${policy} takes no options`);
  }
  lb.policy = policy;
}

function noBlockUnless(disp: Dispenser, sub: Directive, message: string | null): void {
  if (sub.block === null) return;
  if (message !== null) disp.error(sub, `${sub.name}: ${message}`);
  else noBlock(disp, sub);
}

/** `transport http { ... }`; returns whether it asks for TLS to the upstreams. */
function parseTransport(disp: Dispenser, sub: Directive, h: ReverseProxyHandler, tls: { insecure_skip_verify: boolean; server_name?: string; ca_files?: string[] }): boolean {
  if (!argCount(disp, sub, sub.args, 1, 1, 'transport http { ... }')) return false;
  const kind = sub.args[0]!;
  if (kind.text !== 'http') {
    disp.error(kind, `transport: ${JSON.stringify(kind.text)} is not supported (only http)`);
    return false;
  }
  const t = h.transport;
  let wantsTls = false;
  const dur = (key: 'dial_timeout_ms' | 'response_header_timeout_ms' | 'read_timeout_ms' | 'write_timeout_ms') => (s: Directive) => {
    const tok = singleArg(disp, s, `${s.name} <duration>`);
    const ms = tok && durationArg(disp, tok, `transport ${s.name}`);
    if (ms !== null) t[key] = ms;
  };
  eachSubdirective(
    disp,
    sub,
    {
      dial_timeout: dur('dial_timeout_ms'),
      response_header_timeout: dur('response_header_timeout_ms'),
      read_timeout: dur('read_timeout_ms'),
      write_timeout: dur('write_timeout_ms'),
      keepalive: (s) => {
        const tok = singleArg(disp, s, 'keepalive off|<duration>');
        if (tok === null) return;
        if (tok.text === 'off') t.keepalive_idle_ms = 0;
        else {
          const ms = durationArg(disp, tok, 'transport keepalive');
          if (ms !== null) t.keepalive_idle_ms = ms;
        }
      },
      max_conns_per_host: (s) => {
        const tok = singleArg(disp, s, 'max_conns_per_host <number>');
        const n = tok && intArg(disp, tok, 'transport max_conns_per_host', 0, Number.MAX_SAFE_INTEGER);
        if (n !== null) t.max_conns_per_host = n;
      },
      tls: (s) => {
        if (flag(disp, s)) wantsTls = true;
      },
      tls_insecure_skip_verify: (s) => {
        if (flag(disp, s)) {
          wantsTls = true;
          tls.insecure_skip_verify = true;
        }
      },
      tls_server_name: (s) => {
        const tok = singleArg(disp, s, 'tls_server_name <name>');
        if (tok !== null) {
          wantsTls = true;
          tls.server_name = tok.text;
        }
      },
      tls_trusted_ca_certs: (s) => {
        noBlock(disp, s);
        if (!argCount(disp, s, s.args, 1, Infinity, 'tls_trusted_ca_certs <pem_files...>')) return;
        wantsTls = true;
        (tls.ca_files ??= []).push(...s.args.map((a) => a.text));
      },
      tls_trust_pool: (s) => {
        noBlock(disp, s);
        if (!argCount(disp, s, s.args, 2, Infinity, 'tls_trust_pool file <pem_files...>')) return;
        if (s.args[0]!.text !== 'file') return void disp.error(s.args[0]!, 'tls_trust_pool: only the file source is supported');
        wantsTls = true;
        (tls.ca_files ??= []).push(...s.args.slice(1).map((a) => a.text));
      },
    },
    {
      keepalive_idle_conns: 'not supported yet',
      keepalive_idle_conns_per_host: 'not supported yet',
      keepalive_interval: 'not supported yet',
      versions: 'not supported yet (upstreams are spoken to over HTTP/1.1)',
      compression: 'not supported yet',
      read_buffer: 'not supported yet',
      write_buffer: 'not supported yet',
      max_response_header: 'not supported yet',
      proxy_protocol: 'not supported yet',
      dial_fallback_delay: 'not supported yet',
      expect_continue_timeout: 'not supported yet',
      resolvers: 'not supported yet',
      tls_client_auth: 'not supported yet',
      tls_curves: 'not supported yet',
      tls_timeout: 'not supported yet',
      tls_renegotiation: 'not supported',
      tls_except_ports: 'not supported yet',
      forward_proxy_url: 'not supported yet',
      network_proxy: 'not supported yet',
      local_address: 'not supported yet',
    },
  );
  return wantsTls;
}

/** Caddy's transport defaults: 3 s dial timeout, 2 min keep-alive, no other limits. */
export function defaultTransport(): ReverseProxyHandler['transport'] {
  return {
    dial_timeout_ms: 3000,
    response_header_timeout_ms: 0,
    read_timeout_ms: 0,
    write_timeout_ms: 0,
    keepalive_idle_ms: 120_000,
    max_conns_per_host: 0,
    tls: null,
  };
}
