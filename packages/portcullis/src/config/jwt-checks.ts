/**
 * Value checks of the `jwt` handler, shared by the Caddyfile adapter and JSON configs so both
 * refuse the same things in the same words, and the whole-config step that gives every `jwt`
 * without an `issuer` the config's identity provider (which needs every site). Every check is
 * pure: it returns the value to store or the problem to report.
 */
import type { Parsed } from './durations.ts';
import type { HandlerConfig, IdentityConfig, JwtHandler, JwtRequirement, RouteConfig, SiteAddress } from './types.ts';
import type { SourceLocation } from '../kernel/errors.ts';
import { didYouMean } from './dispenser.ts';
import { checkIdentityHeaderName, headerKey } from './authenticate-checks.ts';
import { checkScopeName } from './identity-checks.ts';
import { deriveIssuer } from './directives/identity-provider.ts';

/**
 * Asymmetric signatures only, the same list as @portcullis/verify's ASYMMETRIC_ALGORITHMS (a
 * test keeps them equal): config does not import the SDK. HS* would let anyone holding the
 * key the issuer publishes forge tokens once it is used as an HMAC secret (RS256/HS256
 * confusion, CVE-2015-9235 and kin); `none` is no signature at all (RFC 8725 §3.1, §3.2).
 */
export const JWT_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** What Portcullis signs with: RS256 by default, ES256 or EdDSA per client. */
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = ['RS256', 'ES256', 'EdDSA'];
export const DEFAULT_JWT_LEEWAY_MS = 30_000;
/** More skew than this is a broken clock, and would keep expired tokens working for long. */
export const MAX_JWT_LEEWAY_MS = 300_000;
export const JWT_REQUIREMENT_KINDS: readonly JwtRequirement['kind'][] = ['scope', 'group', 'claim'];

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(error: string): Parsed<T> => ({ ok: false, error });

const UNSAFE_URL_CHARS = /[\s\x00-\x1f\x7f\\]/;
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;
const LOOPBACK_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Names that reach Object.prototype when read as keys of a token's payload. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/**
 * `issuer <url>`: kept exactly as written, since `iss` and the discovery document's `issuer`
 * are compared with it byte for byte (OpenID Connect Discovery §4.3): Keycloak's
 * `https://kc.example.com/realms/main` has a path, Auth0's ends in `/`. https only (but on
 * loopback): the keys come from there, and keys fetched in clear can be swapped for an
 * attacker's.
 */
export function checkJwtIssuer(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (UNSAFE_URL_CHARS.test(text)) return bad(`issuer ${show} contains spaces, control characters or a backslash`);
  const url = parseUrl(text);
  if (url === null || !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) return bad(`issuer ${show} is not an absolute URL (e.g. https://auth.example.com)`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return bad(`issuer ${show} must use https`);
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(text)?.[1] ?? '';
  if (url.username !== '' || url.password !== '' || authority.includes('@')) return bad(`issuer ${show} must not contain a user name or password`);
  if (text.includes('?') || text.includes('#')) return bad(`issuer ${show} must not have a query or #fragment`);
  if (url.protocol === 'http:' && !LOOPBACK_HOSTNAMES.has(url.hostname)) {
    return bad(`issuer ${show} must use https (http is allowed only for localhost, 127.0.0.1 and [::1]): its signing keys must not travel in clear`);
  }
  return ok(text);
}

/** One `algorithms` entry: an asymmetric JWS algorithm. */
export function checkJwtAlgorithm(text: string): Parsed<string> {
  if (JWT_ALGORITHMS.includes(text)) return ok(text);
  const show = JSON.stringify(text);
  if (/^HS(256|384|512)$/i.test(text)) {
    return bad(`${show} is refused: an HMAC algorithm lets anyone who has the issuer's public key forge tokens (algorithm confusion); use asymmetric signatures (${DEFAULT_JWT_ALGORITHMS.join(', ')})`);
  }
  if (text.toLowerCase() === 'none') return bad(`${show} is refused: an unsigned token proves nothing`);
  const hint = didYouMean(text, JWT_ALGORITHMS);
  return bad(`unknown algorithm ${show}${hint === '' ? ` (expected one of ${JWT_ALGORITHMS.join(', ')})` : hint}`);
}

/** `leeway <duration>`: 0 to 5 minutes. */
export function checkJwtLeeway(ms: number): Parsed<number> {
  if (ms >= 0 && ms <= MAX_JWT_LEEWAY_MS) return ok(ms);
  return bad(`${ms / 1000}s is more than the 5m allowed: a clock that far off needs fixing, and until then expired tokens would keep working`);
}

/** An `audience` value: any non-empty string without spaces or control characters. */
export function checkJwtAudience(text: string): Parsed<string> {
  if (text.length >= 1 && text.length <= 1024 && !/[\s\x00-\x1f\x7f]/.test(text)) return ok(text);
  return bad(`audience ${JSON.stringify(text)} must be 1 to 1024 characters without spaces or control characters`);
}

/** `typ <type>`: a media type name (`at+jwt`, `application/at+jwt`, `JWT`). */
export function checkJwtTyp(text: string): Parsed<string> {
  if (/^[A-Za-z0-9!#$&^_.+-]{1,64}(\/[A-Za-z0-9!#$&^_.+-]{1,64})?$/.test(text)) return ok(text);
  return bad(`typ ${JSON.stringify(text)} is not a media type name (e.g. at+jwt)`);
}

/**
 * A claim name (`require claim`, `claim_header`): printable ASCII without spaces, so namespaced
 * claims such as `https://example.com/roles` fit; never a key that reaches Object.prototype.
 */
export function checkJwtClaimName(text: string): Parsed<string> {
  if (/^[\x21-\x7e]{1,256}$/.test(text) && !PROTOTYPE_KEYS.has(text)) return ok(text);
  return bad(`claim name ${JSON.stringify(text)} must be 1 to 256 printable ASCII characters without spaces (and not __proto__, constructor or prototype)`);
}

/** `require <kind>`. */
export function checkJwtRequirementKind(text: string): Parsed<JwtRequirement['kind']> {
  const kind = JWT_REQUIREMENT_KINDS.find((k) => k === text);
  if (kind !== undefined) return ok(kind);
  const hint = didYouMean(text, JWT_REQUIREMENT_KINDS);
  return bad(`unknown requirement ${JSON.stringify(text)}${hint === '' ? ` (expected ${JWT_REQUIREMENT_KINDS.join(', ')})` : hint}`);
}

/**
 * A value of a `require` line. Scopes are RFC 6749 §3.3 scope-tokens (they go into the
 * `scope=` of the 403 challenge); groups and claim values may be any text a token could carry
 * (other issuers have groups like "Domain Admins") but control characters.
 */
export function checkJwtRequirementValue(kind: JwtRequirement['kind'], text: string): Parsed<string> {
  if (kind === 'scope') return checkScopeName(text);
  if (text.length >= 1 && text.length <= 256 && !CONTROL_CHARS.test(text)) return ok(text);
  return bad(`${JSON.stringify(text)} must be 1 to 256 characters without control characters`);
}

/** Problems of a whole `require` line's values (after each was checked): a value listed twice. */
export function jwtRequirementValuesProblems(values: readonly string[]): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  values.forEach((v, index) => {
    if (values.indexOf(v) < index) out.push({ index, message: `${JSON.stringify(v)} is listed twice` });
  });
  return out;
}

/**
 * A `claim_header` header name: the rules of identity headers (a token, not a header the
 * proxy or upstream relies on: never Authorization, Host, Cookie, X-Forwarded-*...).
 */
export function checkJwtClaimHeader(text: string): Parsed<string> {
  return checkIdentityHeaderName(text);
}

/** Which list entry of the handler a problem is about. */
export type JwtSetting = { kind: 'algorithms' | 'audience' | 'claimHeaders'; index: number };

export interface JwtProblem {
  setting: JwtSetting;
  message: string;
}

/**
 * Rules between the handler's settings: no algorithm or audience listed twice, and every
 * `claim_header` a header of its own (compared the way upstreams read names: any case, `_` as
 * `-`). Expects values that passed the checks above; tolerates missing fields (JSON).
 */
export function jwtHandlerProblems(h: Partial<Pick<JwtHandler, 'algorithms' | 'audience' | 'claimHeaders'>>): JwtProblem[] {
  const problems: JwtProblem[] = [];
  const twice = (kind: 'algorithms' | 'audience', values: readonly string[] | undefined, what: string) => {
    (values ?? []).forEach((v, index) => {
      if (values!.indexOf(v) < index) problems.push({ setting: { kind, index }, message: `${what} ${v} is listed twice` });
    });
  };
  twice('algorithms', h.algorithms, 'algorithm');
  twice('audience', h.audience, 'audience');
  const headers = new Map<string, { claim: string; header: string }>();
  (h.claimHeaders ?? []).forEach((c, index) => {
    if (typeof c?.header !== 'string') return;
    const first = headers.get(headerKey(c.header));
    if (first === undefined) headers.set(headerKey(c.header), c);
    else problems.push({ setting: { kind: 'claimHeaders', index }, message: `claim_header: ${c.header} is the same header as ${first.header} (claim ${first.claim}): upstreams read - and _ alike, in any case` });
  });
  return problems;
}

/** Where a `jwt` handler sits in a site: the handler, its JSON path under the site, its route's line. */
export interface JwtUse {
  handler: JwtHandler;
  path: string;
  source: SourceLocation | undefined;
}

/** Every `jwt` handler in a list of routes, subroutes included, in order. */
export function findJwt(routes: readonly RouteConfig[] | undefined, path = 'routes'): JwtUse[] {
  const out: JwtUse[] = [];
  (routes ?? []).forEach((route, i) => {
    (route?.handle ?? []).forEach((h: HandlerConfig | undefined, j) => {
      const at = `${path}[${i}].handle[${j}]`;
      if (h?.handler === 'jwt') out.push({ handler: h, path: at, source: route.source });
      else if (h?.handler === 'subroute') out.push(...findJwt(h.routes, `${at}.routes`));
    });
  });
  return out;
}

/** The part of a config the issuer step reads (JSON configs may be partly invalid: all optional). */
export interface JwtSitesInput {
  identity: IdentityConfig | null | undefined;
  sites: readonly { addresses?: readonly SiteAddress[]; routes?: readonly RouteConfig[]; errorRoutes?: readonly RouteConfig[] }[];
  httpPort: number;
  httpsPort: number;
}

export interface JwtSiteProblem {
  site: number;
  use: JwtUse;
  message: string;
}

/** Messages name no directive: the Caddyfile's errors name it, JSON's put the path in front. */
export const NEEDS_ISSUER = 'set issuer: this config has no identity provider whose issuer could be the default';

function servesProvider(routes: readonly RouteConfig[] | undefined): boolean {
  return (routes ?? []).some((r) => (r?.handle ?? []).some((h) => h?.handler === 'identity_provider' || (h?.handler === 'subroute' && servesProvider(h.routes))));
}

/**
 * The config's own issuer, by the rule of identityIssuer() (config/directives/identity-provider.ts),
 * on input that may be partly invalid: the identity block's `issuer`, else the one derived
 * from the first address of the site serving identity_provider. Null when there is none, or
 * when that address has port 0 (only the running listener knows the port).
 */
export function configIssuer(input: JwtSitesInput): string | null {
  if (typeof input.identity?.issuer === 'string' && input.identity.issuer !== '') return input.identity.issuer;
  const address = input.sites.find((s) => servesProvider(s.routes))?.addresses?.[0];
  if (address === undefined || address.port === 0 || typeof address.host !== 'string') return null;
  return deriveIssuer(address, input.httpPort, input.httpsPort);
}

/** Messages name no directive: the Caddyfile's errors name it, JSON's put the path in front. */
export const NOT_ON_PROVIDER_SITE = "cannot be used in the site that serves identity_provider: the provider's discovery, keys and sign-in must stay open; serve the API from a site of its own";

/**
 * Fills in, in place, the defaults of every `jwt` handler that need the whole config: `issuer`
 * (when '') becomes the config's identity provider, `audience` (when empty) the issuer. Returns
 * the handlers it could not fill (no identity provider to take the issuer from), and those in
 * the site serving identity_provider.
 */
export function fillJwtDefaults(input: JwtSitesInput): JwtSiteProblem[] {
  const problems: JwtSiteProblem[] = [];
  const own = configIssuer(input);
  input.sites.forEach((site, i) => {
    const uses = [...findJwt(site.routes), ...findJwt(site.errorRoutes, 'errorRoutes')];
    if (uses.length > 0 && servesProvider(site.routes)) problems.push({ site: i, use: uses[0]!, message: NOT_ON_PROVIDER_SITE });
    for (const use of uses) {
      const h = use.handler;
      if (h.issuer === '') {
        if (own === null) {
          problems.push({ site: i, use, message: NEEDS_ISSUER });
          continue;
        }
        h.issuer = own;
      }
      if (typeof h.issuer === 'string' && Array.isArray(h.audience) && h.audience.length === 0) h.audience = [h.issuer];
    }
  });
  return problems;
}
