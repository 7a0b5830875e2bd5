/**
 * Value checks of the identity provider's settings, shared by the Caddyfile `identity` block
 * and JSON configs so both refuse the same things in the same words. Each check is pure: it
 * returns the value to store or a problem to report, and never echoes a client secret.
 */
import { isIP } from 'node:net';
import type { Parsed } from './durations.ts';
import type { IdentityClientConfig } from './types.ts';
import { isHostName } from '../kernel/dns-names.ts';

/** Defaults of the `identity` block, in milliseconds where they are durations. */
export const IDENTITY_DEFAULTS = {
  accessTokenTtlMs: 10 * 60_000,
  idTokenTtlMs: 3_600_000,
  refreshTokenTtlMs: 30 * 86_400_000,
  sessionTtlMs: 14 * 86_400_000,
  cookieName: 'portcullis',
  brand: 'Portcullis',
  locale: 'en',
} as const;

export const THEME_MODES = ['auto', 'light', 'dark'] as const;
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export const DEFAULT_CLIENT_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'groups'];
export const DEFAULT_GRANT_TYPES: readonly IdentityClientConfig['grantTypes'][number][] = ['authorization_code', 'refresh_token'];
/** Scopes the provider itself knows; `claim ... scope <s>` adds more. */
export const STANDARD_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'groups', 'offline_access'];
/** Shortest client secret accepted: guessable secrets make the token endpoint a password oracle. */
export const MIN_SECRET_LENGTH = 16;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** Whitespace, control characters, backslashes: never part of a URL we store. */
const UNSAFE_URL_CHARS = /[\s\x00-\x1f\x7f\\]/;
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;

const LOOPBACK_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** The `user:pass@` part of `scheme://authority/...`, if the text has an authority with one. */
function hasUserinfo(text: string, url: URL): boolean {
  if (url.username !== '' || url.password !== '') return true;
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(text)?.[1] ?? '';
  return authority.includes('@');
}

/**
 * `issuer <url>`: an https origin (http only on loopback, for local testing). Relying parties
 * compare `iss` byte for byte with the issuer they were given (OpenID Connect Discovery 1.0
 * §4.3), so it is stored in one canonical form: the URL's origin, without a trailing slash.
 */
export function checkIssuer(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (UNSAFE_URL_CHARS.test(text)) return bad(`issuer ${show} contains spaces, control characters or a backslash`);
  const url = parseUrl(text);
  if (url === null) return bad(`issuer ${show} is not an absolute URL (e.g. https://auth.example.com)`);
  if (hasUserinfo(text, url)) return bad(`issuer ${show} must not contain a user name or password`);
  if (text.includes('#')) return bad(`issuer ${show} must not have a #fragment`);
  if (text.includes('?')) return bad(`issuer ${show} must not have a query`);
  // The raw text, not url.pathname: `https://a.example/.` would otherwise pass as "/".
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]+\/?$/.test(text)) return bad(`issuer ${show} must be an origin (scheme, host and optional port) without a path`);
  if (url.protocol === 'http:' && !LOOPBACK_HOSTNAMES.has(url.hostname)) {
    return bad(`issuer ${show} must use https (http is allowed only for localhost, 127.0.0.1 and [::1])`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return bad(`issuer ${show} must use https`);
  return ok(url.origin);
}

/** The host of an issuer origin (lower-case, IPv6 in brackets). */
export function issuerHost(issuer: string): string {
  return parseUrl(issuer)?.hostname ?? '';
}

/**
 * Public suffixes under which a cookie would be shared with unrelated sites. Every one-label
 * name (com, io, ...) is refused anyway by the two-label rule; these are the common multi-label
 * ones. A short list by design: a bundled copy of the Public Suffix List may replace it later.
 */
const PUBLIC_SUFFIXES = new Set([
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'me.uk', 'ltd.uk', 'plc.uk', 'net.uk',
  'com.au', 'net.au', 'org.au', 'edu.au', 'gov.au',
  'co.jp', 'ne.jp', 'or.jp', 'ac.jp', 'go.jp',
  'co.nz', 'org.nz', 'co.za', 'org.za', 'co.in', 'net.in', 'org.in', 'co.kr', 'or.kr',
  'com.br', 'net.br', 'org.br', 'com.cn', 'net.cn', 'org.cn', 'com.mx', 'com.tr', 'com.tw', 'com.hk', 'com.sg',
  'github.io', 'gitlab.io', 'netlify.app', 'vercel.app', 'pages.dev', 'workers.dev', 'web.app', 'firebaseapp.com',
  'herokuapp.com', 'appspot.com', 'blogspot.com', 'cloudfront.net', 'azurewebsites.net', 'amazonaws.com',
  'onrender.com', 'fly.dev', 'ngrok.io', 'ngrok-free.app', 'duckdns.org', 'dyndns.org', 'no-ip.org', 'ddns.net',
  'home.arpa',
]);

/**
 * `cookie { domain <d> }`: the session cookie is shared by this domain's subdomains (so
 * forward-auth on app.example.com sees a sign-in made on auth.example.com). Refuses names a
 * browser would reject or, worse, accept for unrelated sites (RFC 6265 §5.3 step 5).
 */
export function checkCookieDomain(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  const domain = text.toLowerCase().replace(/^\./, '');
  if (isIP(domain.replace(/^\[|\]$/g, '')) !== 0) return bad(`cookie domain ${show} must be a domain name, not an IP address`);
  if (domain === 'localhost' || domain.endsWith('.localhost')) return bad(`cookie domain ${show}: browsers refuse cookies for localhost domains; leave domain unset`);
  if (!isHostName(domain) || /^\d+$/.test(domain.slice(domain.lastIndexOf('.') + 1))) return bad(`cookie domain ${show} is not a domain name`);
  if (!domain.includes('.')) return bad(`cookie domain ${show} needs at least two labels (e.g. example.com)`);
  if (PUBLIC_SUFFIXES.has(domain)) return bad(`cookie domain ${show} is a public suffix: the cookie would be sent to every site under it`);
  return ok(domain);
}

/** True when `host` is `domain` or one of its subdomains (cookie domain-match, RFC 6265 §5.1.3). */
export function domainCovers(domain: string, host: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/** `cookie { name <n> }`: RFC 6265 token characters only, so it can never break the header. */
export function checkCookieName(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) return bad(`cookie name ${show} may only contain letters, digits, _ and - (at most 64)`);
  // The __Host-/__Secure- prefixes carry browser-enforced rules (RFC 6265bis §4.1.3); the server chooses them.
  if (/^__(host|secure)-/i.test(text)) return bad(`cookie name ${show}: the __Host- and __Secure- prefixes are added by the server, leave them out`);
  return ok(text);
}

/** `theme { color }`: `#rgb` or `#rrggbb`, nothing else, since it is written into CSS. */
export function checkColor(text: string): Parsed<string> {
  if (/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(text)) return ok(text.toLowerCase());
  return bad(`color ${JSON.stringify(text)} must be #rgb or #rrggbb (e.g. "#0b6bcb")`);
}

/**
 * `theme { logo }`: an https URL or a path on the same host. No `javascript:` or `data:` URLs,
 * no protocol-relative `//host`, and no quotes, brackets or parentheses that could leave an
 * HTML attribute or a CSS `url()`.
 */
export function checkLogo(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (text.length > 2048 || /[\s\x00-\x1f\x7f"'<>\\`()]/.test(text)) return bad(`logo ${show} contains spaces, quotes, brackets or parentheses`);
  if (text.startsWith('/') && !text.startsWith('//')) return ok(text);
  const url = parseUrl(text);
  if (url !== null && /^https:\/\//i.test(text) && !hasUserinfo(text, url)) return ok(text);
  return bad(`logo ${show} must be an https:// URL or a path starting with / (on this site)`);
}

/** `theme { locale }`: a language tag such as `en` or `pt-BR`. */
export function checkLocale(text: string): Parsed<string> {
  return /^[a-z]{2}(-[A-Z]{2})?$/.test(text) ? ok(text) : bad(`locale ${JSON.stringify(text)} must look like en or pt-BR`);
}

/** `theme { brand }`: shown in page titles and headings (escaped there; kept short and printable here). */
export function checkBrand(text: string): Parsed<string> {
  if (text === '' || text.length > 100 || CONTROL_CHARS.test(text)) return bad('brand must be 1 to 100 printable characters');
  return ok(text);
}

/**
 * Claims a user attribute must never set: the protocol's own (RFC 7519 §4.1, OpenID Connect
 * Core §2, §3.1.3.6, §5.1, Back-Channel Logout §2.4) and the ones Portcullis fills from the
 * account. A custom claim named `sub` or `email_verified` would let whoever edits attributes
 * impersonate users at every relying party.
 */
const RESERVED_CLAIMS = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'auth_time', 'nonce', 'acr', 'amr', 'azp',
  'at_hash', 'c_hash', 's_hash', 'sid', 'events', 'typ', 'cnf', 'scope', 'client_id', 'act', 'may_act',
  'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
  'picture', 'website', 'email', 'email_verified', 'gender', 'birthdate', 'zoneinfo', 'locale',
  'phone_number', 'phone_number_verified', 'address', 'updated_at', 'groups',
  '_claim_names', '_claim_sources',
]);

/** Names that reach Object.prototype when used as keys of a plain object. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** `claim <name>`: an identifier that is not a protocol or account claim. */
export function checkClaimName(text: string): Parsed<string> {
  const show = JSON.stringify(text);
  if (!IDENTIFIER.test(text) || PROTOTYPE_KEYS.has(text)) return bad(`claim name ${show} must be a letter or _ followed by letters, digits or _ (at most 64)`);
  if (RESERVED_CLAIMS.has(text.toLowerCase())) return bad(`claim ${show} is reserved: the provider sets it, a user attribute may not`);
  return ok(text);
}

/** `claim ... from <attribute>`: an identifier (not a prototype key). */
export function checkAttributeName(text: string): Parsed<string> {
  if (IDENTIFIER.test(text) && !PROTOTYPE_KEYS.has(text)) return ok(text);
  return bad(`attribute name ${JSON.stringify(text)} must be a letter or _ followed by letters, digits or _ (at most 64)`);
}

/** A scope name: letters, digits, _ and - (a subset of RFC 6749 §3.3 scope-token). */
export function checkScopeName(text: string): Parsed<string> {
  // RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\` (so `billing:read` and
  // `https://api.example.com/read` are fine).
  return /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/.test(text) ? ok(text) : bad(`scope ${JSON.stringify(text)} may only contain printable ASCII characters other than " and \\ (RFC 6749)`);
}

/** `client <id>`: the client_id, unreserved URI characters only (RFC 3986 §2.3). */
export function checkClientId(text: string): Parsed<string> {
  return /^[A-Za-z0-9._~-]{1,128}$/.test(text) ? ok(text) : bad(`client id ${JSON.stringify(text)} may only contain letters, digits and . _ ~ - (at most 128)`);
}

/** `name <display name>`: shown on the consent page. */
export function checkClientName(text: string): Parsed<string> {
  if (text === '' || text.length > 100 || CONTROL_CHARS.test(text)) return bad('name must be 1 to 100 printable characters');
  return ok(text);
}

/** `secret <value>`: never echoed in a message, since messages end up in logs and terminals. */
export function checkSecret(text: string): Parsed<string> {
  if (text === '') return bad('secret is empty (if it comes from {$VAR}, is the variable set? a value starting with # needs quotes)');
  if (text.length < MIN_SECRET_LENGTH) return bad(`secret is shorter than ${MIN_SECRET_LENGTH} characters (generate one with: openssl rand -base64 32)`);
  if (text.length > 1024 || CONTROL_CHARS.test(text)) return bad('secret must be at most 1024 printable characters');
  return ok(text);
}

export type ClientUriKind = 'redirect_uri' | 'post_logout_redirect_uri' | 'backchannel_logout_uri';

/** `com.example.app`: the reverse-domain scheme of a native app (RFC 8252 §7.1). */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/;

/**
 * A URI a client registers. Kept exactly as written: authorization requests must match it
 * byte for byte (RFC 9700 §4.1.3), so normalising it here would make the check looser than the
 * configuration reads. Refused: relative URIs, fragments (RFC 6749 §3.1.2), user info
 * (`https://good@evil` reads as good but goes to evil), plain http except on loopback (RFC 8252
 * §7.3), and private-use schemes for anything but a public client's redirects (RFC 8252 §7.1).
 */
export function checkClientUri(text: string, kind: ClientUriKind, isPublic: boolean): string | null {
  const show = JSON.stringify(text);
  if (text.length > 2000 || UNSAFE_URL_CHARS.test(text)) return `${kind} ${show} contains spaces, control characters or a backslash`;
  if (text.includes('#')) return `${kind} ${show} must not have a #fragment`;
  const url = parseUrl(text);
  if (url === null) return `${kind} ${show} is not an absolute URL`;
  if (hasUserinfo(text, url)) return `${kind} ${show} must not contain a user name or password`;
  // `https:host/cb` parses, but a browser may resolve it against the current page instead.
  if ((url.protocol === 'https:' || url.protocol === 'http:') && !/^https?:\/\/[^/]/i.test(text)) return `${kind} ${show} must start with ${url.protocol}// and a host`;
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTNAMES.has(url.hostname) ? null : `${kind} ${show} must use https (http is allowed only for localhost, 127.0.0.1 and [::1])`;
  }
  const scheme = url.protocol.slice(0, -1);
  if (kind === 'backchannel_logout_uri' || !PRIVATE_USE_SCHEME.test(scheme)) {
    return `${kind} ${show} must use https${kind === 'backchannel_logout_uri' ? '' : ' (or, for a public client, a private-use scheme such as com.example.app:/callback)'}`;
  }
  if (!isPublic) return `${kind} ${show}: a private-use scheme is allowed only for public clients (RFC 8252 §7.1)`;
  // No naming authority: a single slash after the scheme (RFC 8252 §7.1).
  const rest = text.slice(scheme.length + 1);
  if (!rest.startsWith('/') || rest.startsWith('//')) return `${kind} ${show}: a private-use scheme is followed by a single slash (e.g. ${scheme}:/callback)`;
  return null;
}

/** A setting of a client that a rule between settings reads. */
export type ClientSetting = 'secret' | 'public' | 'grant_types' | 'redirect_uri' | 'scopes';

export interface ClientProblem {
  message: string;
  /** The settings the rule reads: when one of them was already refused, the rule is not checked. */
  reads: ClientSetting[];
}

/**
 * Rules between a client's settings, checked once the whole client is read. Messages name the
 * setting; the caller names the client.
 */
export function clientProblems(client: IdentityClientConfig): ClientProblem[] {
  const problems: ClientProblem[] = [];
  const grants = client.grantTypes;
  const add = (message: string, ...reads: ClientSetting[]) => problems.push({ message, reads });
  if (client.public && client.secret !== null) add('public and secret exclude each other: a public client (browser or native app) cannot keep a secret', 'public', 'secret');
  if (!client.public && client.secret === null) add('needs a secret (or `public` for an app that cannot keep one; it then must use PKCE)', 'public', 'secret');
  if (client.public && grants.includes('client_credentials')) add('grant_types: client_credentials is not allowed for a public client (it has no secret to authenticate with)', 'public', 'grant_types');
  if (grants.includes('refresh_token') && !grants.includes('authorization_code')) add('grant_types: refresh_token needs authorization_code (refresh tokens are issued with an authorization code)', 'grant_types');
  if (grants.includes('authorization_code')) {
    if (client.redirectUris.length === 0) add('needs a redirect_uri: the authorization_code grant redirects back to it', 'grant_types', 'redirect_uri');
    if (!client.scopes.includes('openid')) add('scopes must include openid for the authorization_code grant', 'grant_types', 'scopes');
  }
  return problems;
}

/** The scopes a client may list: the standard ones and those custom claims introduce. */
export function knownScopes(claims: readonly { scope: string }[]): string[] {
  return [...new Set([...STANDARD_SCOPES, ...claims.map((c) => c.scope)])];
}
