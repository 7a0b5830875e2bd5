/**
 * Value checks of the `authenticate` handler, shared by the Caddyfile adapter and JSON configs
 * so both refuse the same things in the same words, and the check of the sites that use it
 * against the identity provider (which needs the whole config). Every check is pure: it returns
 * the value to store or the problems to report.
 */
import { isIP } from 'node:net';
import type { Parsed } from './durations.ts';
import type { AuthenticateHandler, AuthRequirement, HandlerConfig, IdentityConfig, RouteConfig, SiteAddress } from './types.ts';
import type { SourceLocation } from '../kernel/errors.ts';
import { didYouMean } from './dispenser.ts';
import { checkCookieDomain, domainCovers, issuerHost } from './identity-checks.ts';
import { deriveIssuer } from './directives/identity-provider.ts';

export const REQUIREMENT_KINDS: readonly AuthRequirement['kind'][] = ['user', 'group', 'any_group', 'email'];

/** 404 hides that the page exists; 401 and 403 say it does. Other codes would mislead clients and caches. */
export const DENY_STATUSES: readonly number[] = [401, 403, 404];
export const DEFAULT_DENY_STATUS = 403;

export type IdentityHeaderRole = keyof AuthenticateHandler['headers'];
export const IDENTITY_HEADER_ROLES: readonly IdentityHeaderRole[] = ['user', 'email', 'name', 'groups'];

export const DEFAULT_IDENTITY_HEADERS: Readonly<AuthenticateHandler['headers']> = {
  user: 'Remote-User',
  email: 'Remote-Email',
  name: 'Remote-Name',
  groups: 'Remote-Groups',
};

export const DEFAULT_ASSERTION_HEADER = 'X-Portcullis-Assertion';

export type HeaderAlias = AuthenticateHandler['aliases'][number];

/**
 * `header_aliases`: the headers other forward-auth products send, so apps configured for them
 * work unchanged. Authentik separates groups with `|`; oauth2-proxy (and our own headers) with `,`.
 */
export const HEADER_ALIASES: Readonly<Record<HeaderAlias, Readonly<AuthenticateHandler['headers'] & { groupSeparator: string; nameCarries: 'name' | 'username' }>>> = {
  authentik: {
    user: 'X-Authentik-Username',
    email: 'X-Authentik-Email',
    name: 'X-Authentik-Name',
    groups: 'X-Authentik-Groups',
    groupSeparator: '|',
    nameCarries: 'name',
  },
  'oauth2-proxy': {
    user: 'X-Auth-Request-User',
    email: 'X-Auth-Request-Email',
    name: 'X-Auth-Request-Preferred-Username',
    groups: 'X-Auth-Request-Groups',
    groupSeparator: ',',
    // oauth2-proxy's Preferred-Username is the login name, not a display name.
    nameCarries: 'username',
  },
};
export const HEADER_ALIAS_NAMES = Object.keys(HEADER_ALIASES) as HeaderAlias[];

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** RFC 9110 §5.1 field-name = token (§5.6.2). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Names an identity header must not take. The identity handler overwrites (and on every route
 * strips) the header it uses, so pointing it at one of these would let a hop-by-hop field,
 * the request's framing, its credentials or the forwarding chain be replaced by a user name.
 */
const REFUSED_HEADERS = new Set([
  // framing and routing (RFC 9112 §6, RFC 9110 §7.2): changing them desynchronises proxy and upstream
  'host', 'content-length', 'content-type', 'content-encoding', 'content-range', 'transfer-encoding', 'te', 'trailer', 'expect', 'upgrade',
  // hop-by-hop (RFC 9110 §7.6.1)
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'alt-svc',
  // credentials and the session (the Portcullis cookie never reaches the upstream)
  'cookie', 'set-cookie', 'authorization', 'www-authenticate',
  // the forwarding chain and CSRF defences the upstream may rely on
  'forwarded', 'via', 'x-real-ip', 'x-client-ip', 'origin', 'referer',
]);

/**
 * How servers compare header names: case-insensitively (RFC 9110 §5.1), and many (CGI, WSGI,
 * PHP, nginx's underscores_in_headers) read `Remote_User` as `Remote-User`.
 */
export function headerKey(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/** An identity or assertion header name: a token, not one the proxy or upstream relies on. */
export function checkIdentityHeaderName(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (!TOKEN.test(text) || text.length > 100) return bad(`${show} is not a header name (letters, digits and !#$%&'*+.^_\`|~-, at most 100)`);
  const key = headerKey(text);
  if (key.startsWith('x-forwarded-')) return bad(`${show}: X-Forwarded-* headers describe the client's connection, not its identity`);
  if (REFUSED_HEADERS.has(key)) return bad(`${show} is a header the proxy or the upstream relies on for other things; choose another name`);
  return ok(text);
}

/** `require <kind>`: one of the four kinds, with a suggestion for a typo. */
export function checkRequirementKind(text: string): Parsed<AuthRequirement['kind']> {
  const kind = REQUIREMENT_KINDS.find((k) => k === text);
  if (kind !== undefined) return ok(kind);
  const hint = didYouMean(text, REQUIREMENT_KINDS);
  return bad(`unknown requirement ${JSON.stringify(text)}${hint === '' ? ` (expected ${REQUIREMENT_KINDS.join(', ')}; a bare authenticate admits any signed-in user)` : hint}`);
}

/** The provider's own rule for usernames and group names (identity/admin.ts): a plain word. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A value of a `require` line. Names that the provider would never give a user or group are
 * refused: a requirement that can never hold is a typo that locks everyone out.
 */
export function checkRequirementValue(kind: AuthRequirement['kind'], text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (kind === 'email') return checkEmailPattern(text);
  if (NAME.test(text)) return ok(text);
  const what = kind === 'user' ? 'username' : 'group name';
  if (kind === 'user' && text.includes('@')) return bad(`${show}: usernames have no @; to match an email address, write require email ${text}`);
  return bad(`${show} is not a ${what}: 1 to 64 ASCII letters, digits, ".", "_" or "-", starting with a letter or digit`);
}

/** `require email` patterns: `*`, or `local@domain` where `*` stands for any run of characters. */
function checkEmailPattern(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (text === '*') return ok(text);
  if (text.length > 254 || /[\s\p{Cc}]/u.test(text)) return bad(`email pattern ${show} has spaces or control characters (at most 254 characters)`);
  const at = text.split('@');
  if (at.length !== 2) return bad(`email pattern ${show} must contain exactly one @ (or be * for any address)`);
  if (at[0] === '' || at[1] === '') return bad(`email pattern ${show} needs something on both sides of the @ (*@example.com: any address at example.com)`);
  return ok(text);
}

/** Problems of a whole `require` line's values (after each was checked). */
export function requirementValuesProblems(kind: AuthRequirement['kind'], values: readonly string[]): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  const seen = new Set<string>();
  values.forEach((v, index) => {
    // Usernames and email addresses compare case-insensitively; group names do not (store/types.ts).
    const key = kind === 'group' || kind === 'any_group' ? v : v.toLowerCase();
    if (seen.has(key)) out.push({ index, message: `${JSON.stringify(v)} is listed twice` });
    seen.add(key);
  });
  return out;
}

/** `deny_status <code>`. */
export function checkDenyStatus(value: number): Parsed<number> {
  if (DENY_STATUSES.includes(value)) return ok(value);
  return bad(`${value} is not one of ${DENY_STATUSES.join(', ')} (401 or 403 say the page exists; 404 hides it)`);
}

/** `header_aliases <name>`. */
export function checkHeaderAlias(text: string): Parsed<HeaderAlias> {
  const alias = HEADER_ALIAS_NAMES.find((a) => a === text);
  if (alias !== undefined) return ok(alias);
  const hint = didYouMean(text, HEADER_ALIAS_NAMES);
  return bad(`unknown header alias ${JSON.stringify(text)}${hint === '' ? ` (expected ${HEADER_ALIAS_NAMES.join(' or ')})` : hint}`);
}

/** Which setting put a header name in use: one of the four names, an alias set, or the assertion. */
export type HeaderSetting = { kind: 'name'; role: IdentityHeaderRole } | { kind: 'alias'; alias: HeaderAlias; index: number } | { kind: 'assertion' };

export interface HeaderProblem {
  /** The setting to blame: the later of the two that collide. */
  setting: HeaderSetting;
  message: string;
}

function describeSetting(s: HeaderSetting): string {
  if (s.kind === 'name') return `header_names ${s.role}`;
  if (s.kind === 'alias') return `header_aliases ${s.alias}`;
  return 'assertion';
}

/**
 * Rules between the handler's header settings: every header it sets has one meaning, so no
 * two settings may name the same header (case-insensitively, `_` as `-`), and an alias may
 * not be named twice. Expects values that passed the checks above.
 */
export function authenticateHeaderProblems(h: Pick<AuthenticateHandler, 'headers' | 'aliases' | 'assertionHeader'>): HeaderProblem[] {
  const problems: HeaderProblem[] = [];
  const used = new Map<string, HeaderSetting>();
  const use = (name: string | undefined, setting: HeaderSetting) => {
    if (typeof name !== 'string') return;
    const first = used.get(headerKey(name));
    if (first === undefined) used.set(headerKey(name), setting);
    else problems.push({ setting, message: `${describeSetting(setting)}: ${name} is already used by ${describeSetting(first)}` });
  };
  for (const role of IDENTITY_HEADER_ROLES) use(h.headers?.[role], { kind: 'name', role });
  (h.aliases ?? []).forEach((alias, index) => {
    if (h.aliases.indexOf(alias) < index) return void problems.push({ setting: { kind: 'alias', alias, index }, message: `header_aliases: ${alias} is listed twice` });
    const names = HEADER_ALIASES[alias];
    if (names === undefined) return;
    for (const role of IDENTITY_HEADER_ROLES) use(names[role], { kind: 'alias', alias, index });
  });
  if (h.assertionHeader !== null && h.assertionHeader !== undefined) use(h.assertionHeader, { kind: 'assertion' });
  return problems;
}

/** Where an `authenticate` handler sits in a site: its JSON path under the site, and the line of its route. */
export interface AuthenticateUse {
  path: string;
  source: SourceLocation | undefined;
}

/** Every `authenticate` handler in a list of routes, subroutes included, in order. */
export function findAuthenticate(routes: readonly RouteConfig[] | undefined, path = 'routes'): AuthenticateUse[] {
  const out: AuthenticateUse[] = [];
  (routes ?? []).forEach((route, i) => {
    (route?.handle ?? []).forEach((h: HandlerConfig | undefined, j) => {
      const at = `${path}[${i}].handle[${j}]`;
      if (h?.handler === 'authenticate') out.push({ path: at, source: route.source });
      else if (h?.handler === 'subroute') out.push(...findAuthenticate(h.routes, `${at}.routes`));
    });
  });
  return out;
}

/** The part of a config the site check reads (JSON configs may be partly invalid: all optional). */
export interface AuthenticateSitesInput {
  identity: IdentityConfig | null | undefined;
  sites: readonly { addresses?: readonly SiteAddress[]; routes?: readonly RouteConfig[]; errorRoutes?: readonly RouteConfig[] }[];
  httpPort: number;
  httpsPort: number;
}

export interface AuthenticateSiteProblem {
  site: number;
  /** The first authenticate of the site. */
  use: AuthenticateUse;
  /** The address the problem is about; null when it is about the whole config. */
  address: number | null;
  message: string;
}

/** Messages name no directive: the Caddyfile's errors name it, JSON's put it in front. */
export const NEEDS_PROVIDER = 'needs the identity provider: add a site with identity_provider (and an identity block)';

function servesProvider(routes: readonly RouteConfig[] | undefined): boolean {
  return (routes ?? []).some((r) => (r?.handle ?? []).some((h) => h?.handler === 'identity_provider' || (h?.handler === 'subroute' && servesProvider(h.routes))));
}

/** A host without IPv6 brackets, lower-case. */
function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/** The host of the issuer: the configured one, else the host of the (first) site serving the provider. */
function issuerHostOf(input: AuthenticateSitesInput): string | null {
  if (typeof input.identity?.issuer === 'string') return bare(issuerHost(input.identity.issuer));
  const site = input.sites.find((s) => servesProvider(s.routes));
  const address = site?.addresses?.[0];
  const derived = address === undefined ? null : deriveIssuer(address, input.httpPort, input.httpsPort);
  return derived === null ? null : bare(issuerHost(derived));
}

/** The longest parent domain two hosts share that could carry a cookie, or null. */
function sharedCookieDomain(a: string, b: string): string | null {
  if (isIP(a) !== 0 || isIP(b) !== 0) return null;
  const la = a.split('.').reverse();
  const lb = b.split('.').reverse();
  const common: string[] = [];
  for (let i = 0; i < Math.min(la.length, lb.length) && la[i] === lb[i] && la[i] !== '*'; i++) common.unshift(la[i]!);
  const domain = common.join('.');
  return domain !== '' && checkCookieDomain(domain).ok ? domain : null;
}

/**
 * Checks each site that uses `authenticate` against the identity provider: some site must
 * serve it, and the browser must send the provider's session cookie to the site, so the
 * site's hosts must be under `cookie { domain }` or, without one, be the issuer's host itself.
 * Addresses without a host (`:8080`) are allowed: the cookie goes wherever the browser sent it.
 */
export function authenticateSiteProblems(input: AuthenticateSitesInput): AuthenticateSiteProblem[] {
  const problems: AuthenticateSiteProblem[] = [];
  const uses = input.sites.map((s) => [...findAuthenticate(s.routes), ...findAuthenticate(s.errorRoutes, 'errorRoutes')][0]);
  const first = uses.findIndex((u) => u !== undefined);
  if (first === -1) return problems;
  if (!input.sites.some((s) => servesProvider(s.routes))) {
    problems.push({ site: first, use: uses[first]!, address: null, message: NEEDS_PROVIDER });
    return problems;
  }
  const domain = input.identity?.cookie?.domain ?? null;
  const issuer = domain === null ? issuerHostOf(input) : null;
  input.sites.forEach((site, i) => {
    const use = uses[i];
    if (use === undefined) return;
    if (servesProvider(site.routes)) {
      // Its sign-in pages would need a sign-in first: nobody could ever get in.
      problems.push({ site: i, use, address: null, message: 'cannot gate the site that serves identity_provider (its sign-in pages must stay open)' });
      return;
    }
    (site.addresses ?? []).forEach((a, j) => {
      if (typeof a?.host !== 'string' || a.host === '') return;
      const host = bare(a.host);
      const problem = (message: string) => problems.push({ site: i, use, address: j, message });
      if (domain !== null) {
        // `*.example.com` is under example.com when example.com is; an IP is under no domain.
        if (isIP(host) !== 0 || !domainCovers(domain, host.replace(/^(\*\.)+/, ''))) {
          problem(`site ${a.original} is not under the identity cookie domain ${domain}: its users could not share the sign-in`);
        }
        return;
      }
      if (issuer === null || host === issuer) return;
      const shared = sharedCookieDomain(host, issuer);
      problem(
        shared === null
          ? `site ${a.original} is not on the issuer's host ${issuer}, and they share no parent domain a cookie could cover: serve both under one domain and set cookie { domain ... } in the identity block`
          : `site ${a.original} is not on the issuer's host ${issuer}: set cookie { domain ${shared} } in the identity block so a sign-in covers ${host}`,
      );
    });
  });
  return problems;
}
