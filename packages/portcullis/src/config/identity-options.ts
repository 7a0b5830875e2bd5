/**
 * The global `identity { ... }` block (the OpenID provider's settings and its clients) and the
 * global `database` option. Values are checked by identity-checks.ts, shared with JSON configs;
 * this file reads the Caddyfile shape and reports every problem at its line, named `identity`
 * or `client <id>`.
 */
import { dirname, resolve } from 'node:path';
import type { Directive, Token } from './ast.ts';
import type { CustomClaim, DatabaseConfig, IdentityClientConfig, IdentityConfig, IdentityTheme } from './types.ts';
import type { SourceLocation } from '../kernel/errors.ts';
import type { Parsed } from './durations.ts';
import { argCount, didYouMean, type Dispenser, durationArg, eachSubdirective, flag, noBlock, once, singleArg, where } from './dispenser.ts';
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
  type ClientSetting,
  type ClientUriKind,
} from './identity-checks.ts';

/** The `identity` settings when the block is absent or empty. */
export function defaultIdentity(source: SourceLocation): IdentityConfig {
  return {
    issuer: null,
    accessTokenTtlMs: IDENTITY_DEFAULTS.accessTokenTtlMs,
    idTokenTtlMs: IDENTITY_DEFAULTS.idTokenTtlMs,
    refreshTokenTtlMs: IDENTITY_DEFAULTS.refreshTokenTtlMs,
    sessionTtlMs: IDENTITY_DEFAULTS.sessionTtlMs,
    cookie: { domain: null, name: IDENTITY_DEFAULTS.cookieName },
    theme: defaultTheme(),
    claims: [],
    clients: [],
    source,
  };
}

export function defaultTheme(): IdentityTheme {
  return { brand: IDENTITY_DEFAULTS.brand, logo: null, color: null, mode: 'auto', templates: null, locale: IDENTITY_DEFAULTS.locale };
}

/** A path as written, made absolute against the directory of the file it was written in. */
function pathFrom(token: Token): string {
  return resolve(dirname(token.file), token.text);
}

/** The checked value, or null after reporting the problem at `at`. */
function checked<T>(disp: Dispenser, at: Token | Directive, result: Parsed<T>): T | null {
  if (result.ok) return result.value;
  disp.error(at, result.error);
  return null;
}


/** `database sqlite [<path>]`: null after reporting a problem. */
export function parseDatabase(d: Directive, disp: Dispenser): DatabaseConfig | null {
  noBlock(disp, d);
  if (!argCount(disp, d, d.args, 1, 2, 'database sqlite [<path>]')) return null;
  const [driver, path] = d.args as [Token, Token | undefined];
  if (driver.text !== 'sqlite') {
    disp.error(driver, `unknown database driver ${JSON.stringify(driver.text)} (only sqlite is supported)${didYouMean(driver.text, ['sqlite'])}`);
    return null;
  }
  if (path === undefined) return { driver: 'sqlite', path: null };
  if (path.text === '') {
    disp.error(path, 'the database path is empty');
    return null;
  }
  return { driver: 'sqlite', path: pathFrom(path) };
}

/** A positive duration in ms, or null after reporting. */
function positiveDuration(disp: Dispenser, sub: Directive): number | null {
  const t = singleArg(disp, sub, `${sub.name} <duration>`);
  const value = t && durationArg(disp, t, sub.name);
  if (t === null || value === null) return null;
  if (value <= 0) {
    disp.error(t, `${sub.name}: must be longer than 0`);
    return null;
  }
  return value;
}

/** What the whole block's checks need besides the config: where each setting was written. */
interface IdentityPlaces {
  refreshTtl: Directive | null;
  cookieDomain: Token | null;
  /** Each client's `scopes` tokens, checked once every `claim` (which may add scopes) is read. */
  clientScopes: { disp: Dispenser; tokens: Token[]; client: IdentityClientConfig }[];
}

/** `identity { ... }`: the provider's settings; reports problems and returns what was valid. */
export function parseIdentityBlock(d: Directive, disp: Dispenser): IdentityConfig {
  const identity = defaultIdentity(where(d));
  argCount(disp, d, d.args, 0, 0, 'identity { ... }');
  if (d.block === null) disp.error(d, 'expected a block: identity { issuer <url> ... }');
  const seen = new Map<string, Directive>();
  const places: IdentityPlaces = { refreshTtl: null, cookieDomain: null, clientScopes: [] };
  const claimsAt = new Map<string, Directive>();
  const clientsAt = new Map<string, Directive>();
  const ttl = (key: 'accessTokenTtlMs' | 'idTokenTtlMs' | 'refreshTokenTtlMs' | 'sessionTtlMs') => (sub: Directive) => {
    if (!once(disp, seen, sub)) return;
    const value = positiveDuration(disp, sub);
    if (value !== null) identity[key] = value;
    if (key === 'refreshTokenTtlMs') places.refreshTtl = sub;
  };
  eachSubdirective(disp, d, {
    issuer: (sub) => {
      if (!once(disp, seen, sub)) return;
      const t = singleArg(disp, sub, 'issuer <https://host>');
      if (t !== null) identity.issuer = checked(disp, t, checkIssuer(t.text));
    },
    access_token_ttl: ttl('accessTokenTtlMs'),
    id_token_ttl: ttl('idTokenTtlMs'),
    refresh_token_ttl: ttl('refreshTokenTtlMs'),
    session_ttl: ttl('sessionTtlMs'),
    cookie: (sub) => {
      if (once(disp, seen, sub)) parseCookie(sub, disp, identity, places);
    },
    theme: (sub) => {
      if (once(disp, seen, sub)) identity.theme = parseTheme(sub, disp);
    },
    claim: (sub) => {
      const claim = parseClaim(sub, disp);
      if (claim === null) return;
      const first = claimsAt.get(claim.claim);
      if (first !== undefined) return disp.error(sub, `claim ${claim.claim} is already defined at ${first.source.file}:${first.source.line}`);
      claimsAt.set(claim.claim, sub);
      identity.claims.push(claim);
    },
    client: (sub) => {
      const client = parseClient(sub, disp, places);
      if (client === null) return;
      const first = clientsAt.get(client.id);
      if (first !== undefined) return disp.named(`client ${client.id}`).error(sub, `client ${client.id} is already defined at ${first.source.file}:${first.source.line}`);
      clientsAt.set(client.id, sub);
      identity.clients.push(client);
    },
  });
  checkIdentityWhole(identity, disp, places);
  return identity;
}

/** Rules between settings of the whole block. */
function checkIdentityWhole(identity: IdentityConfig, disp: Dispenser, places: IdentityPlaces): void {
  if (identity.refreshTokenTtlMs < identity.accessTokenTtlMs) {
    disp.error(places.refreshTtl ?? identity.source, 'refresh_token_ttl must not be shorter than access_token_ttl');
  }
  const domain = identity.cookie.domain;
  if (domain !== null && identity.issuer !== null && !domainCovers(domain, issuerHost(identity.issuer))) {
    disp.error(places.cookieDomain ?? identity.source, `cookie domain ${domain} does not cover the issuer's host ${issuerHost(identity.issuer)}: browsers would refuse the cookie`);
  }
  const scopes = knownScopes(identity.claims);
  for (const { disp: clientDisp, tokens, client } of places.clientScopes) {
    // client_credentials tokens carry API scopes, which only the APIs define.
    if (client.grantTypes.includes('client_credentials')) continue;
    for (const t of tokens) {
      if (!scopes.includes(t.text)) clientDisp.error(t, `scopes: unknown scope ${JSON.stringify(t.text)}${didYouMean(t.text, scopes)} (custom scopes come from claim ... scope <name>)`);
    }
  }
}

function parseCookie(d: Directive, disp: Dispenser, identity: IdentityConfig, places: IdentityPlaces): void {
  argCount(disp, d, d.args, 0, 0, 'cookie { domain <domain>; name <name> }');
  if (d.block === null) return disp.error(d, 'cookie: expected a block: cookie { domain <domain>; name <name> }');
  const seen = new Map<string, Directive>();
  eachSubdirective(disp, d, {
    domain: (sub) => {
      const t = once(disp, seen, sub, 'cookie domain') ? singleArg(disp, sub, 'domain <domain>') : null;
      if (t === null) return;
      places.cookieDomain = t;
      identity.cookie.domain = checked(disp, t, checkCookieDomain(t.text));
    },
    name: (sub) => {
      const t = once(disp, seen, sub, 'cookie name') ? singleArg(disp, sub, 'name <name>') : null;
      const name = t && checked(disp, t, checkCookieName(t.text));
      if (name !== null) identity.cookie.name = name;
    },
  });
}

function parseTheme(d: Directive, disp: Dispenser): IdentityTheme {
  const theme = defaultTheme();
  argCount(disp, d, d.args, 0, 0, 'theme { ... }');
  if (d.block === null) disp.error(d, 'theme: expected a block: theme { brand <name> ... }');
  const seen = new Map<string, Directive>();
  const value = (sub: Directive, usage: string): Token | null => (once(disp, seen, sub, `theme ${sub.name}`) ? singleArg(disp, sub, usage) : null);
  eachSubdirective(disp, d, {
    brand: (sub) => {
      const t = value(sub, 'brand <name>');
      const brand = t && checked(disp, t, checkBrand(t.text));
      if (brand !== null) theme.brand = brand;
    },
    logo: (sub) => {
      const t = value(sub, 'logo <https URL or /path>');
      if (t !== null) theme.logo = checked(disp, t, checkLogo(t.text));
    },
    color: (sub) => {
      // `color #0b6bcb` unquoted is `color` and a comment: say so rather than "expected 1 argument".
      if (sub.args.length === 0 && sub.block === null) return disp.error(sub, 'color needs a value in quotes, since an unquoted # starts a comment: color "#0b6bcb"');
      const t = value(sub, 'color "#rrggbb"');
      if (t !== null) theme.color = checked(disp, t, checkColor(t.text));
    },
    mode: (sub) => {
      const t = value(sub, 'mode auto|light|dark');
      if (t === null) return;
      if ((THEME_MODES as readonly string[]).includes(t.text)) theme.mode = t.text as IdentityTheme['mode'];
      else disp.error(t, `mode: expected auto, light or dark, got ${JSON.stringify(t.text)}${didYouMean(t.text, THEME_MODES)}`);
    },
    templates: (sub) => {
      const t = value(sub, 'templates <dir>');
      if (t === null) return;
      if (t.text === '') disp.error(t, 'templates: the directory is empty');
      else theme.templates = pathFrom(t);
    },
    locale: (sub) => {
      const t = value(sub, 'locale <tag>');
      const locale = t && checked(disp, t, checkLocale(t.text));
      if (locale !== null) theme.locale = locale;
    },
  });
  return theme;
}

/** `claim <name> [from <attribute>] [scope <scope>]`: the attribute defaults to the name, the scope to profile. */
function parseClaim(d: Directive, disp: Dispenser): CustomClaim | null {
  const usage = 'claim <name> [from <attribute>] [scope <scope>]';
  noBlock(disp, d);
  const [nameTok, ...rest] = d.args;
  if (nameTok === undefined) {
    disp.error(d, `claim: expected a claim name (usage: ${usage})`);
    return null;
  }
  const claim = checked(disp, nameTok, checkClaimName(nameTok.text));
  const options = new Map<string, Token>();
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]!;
    const value = rest[i + 1];
    if ((key.text !== 'from' && key.text !== 'scope') || value === undefined || options.has(key.text)) {
      disp.error(key, `claim: unexpected ${JSON.stringify(key.text)} (usage: ${usage})`);
      return null;
    }
    options.set(key.text, value);
  }
  const from = options.get('from');
  const scopeTok = options.get('scope');
  const attribute = from === undefined ? claim : checked(disp, from, checkAttributeName(from.text));
  const scope = scopeTok === undefined ? 'profile' : checked(disp, scopeTok, checkScopeName(scopeTok.text));
  return claim !== null && attribute !== null && scope !== null ? { claim, attribute, scope } : null;
}

/** `client <id> { ... }`; null after reporting a problem that leaves no usable client. */
function parseClient(clientLine: Directive, identityDisp: Dispenser, places: IdentityPlaces): IdentityClientConfig | null {
  const idTok = clientLine.args[0];
  const disp = identityDisp.named(idTok !== undefined && checkClientId(idTok.text).ok ? `client ${idTok.text}` : 'client');
  // Named as its dispenser, so the shared helpers do not repeat "client" after "client <id>:".
  const d: Directive = { ...clientLine, name: disp.directive };
  if (!argCount(disp, d, d.args, 1, 1, 'client <id> { ... }')) return null;
  const id = checked(disp, idTok!, checkClientId(idTok!.text));
  if (d.block === null) disp.error(d, `expected a block: client ${idTok!.text} { secret ...; redirect_uri ... }`);
  const client: IdentityClientConfig = {
    id: id ?? '',
    name: null,
    secret: null,
    public: false,
    redirectUris: [],
    postLogoutRedirectUris: [],
    scopes: [...DEFAULT_CLIENT_SCOPES],
    grantTypes: [...DEFAULT_GRANT_TYPES],
    firstParty: false,
    signingAlg: 'RS256',
    backchannelLogoutUri: null,
    source: where(d),
  };
  const seen = new Map<string, Directive>();
  // URIs are checked once `public` is known, whichever line comes first.
  const uris: { token: Token; kind: ClientUriKind }[] = [];
  // Settings already refused: the rules between settings that read them are not checked.
  const refused = new Set<string>();
  const fail = (at: Token | Directive, setting: ClientSetting | ClientUriKind | 'signing_alg', message: string) => {
    disp.error(at, message);
    refused.add(setting);
  };
  const uriList = (kind: ClientUriKind, into: string[]) => (sub: Directive) => {
    noBlock(disp, sub);
    if (!argCount(disp, sub, sub.args, 1, Infinity, `${kind} <uri...>`)) return void refused.add(kind);
    for (const t of sub.args) {
      if (into.includes(t.text)) fail(t, kind, `${kind} ${JSON.stringify(t.text)} is listed twice`);
      else {
        into.push(t.text);
        uris.push({ token: t, kind });
      }
    }
  };
  eachSubdirective(disp, d, {
    name: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'name <display name>') : null;
      if (t !== null) client.name = checked(disp, t, checkClientName(t.text));
    },
    secret: (sub) => {
      if (!once(disp, seen, sub)) return;
      noBlock(disp, sub);
      // The value is never shown: only how many tokens there were.
      if (sub.args.length > 1) return fail(sub, 'secret', `secret: expected one value, got ${sub.args.length} (quote it if it contains spaces: secret "{$VAR}")`);
      const secret = checkSecret(sub.args[0]?.text ?? '');
      if (!secret.ok) return fail(sub, 'secret', secret.error);
      client.secret = secret.value;
    },
    public: (sub) => {
      if (!once(disp, seen, sub)) return;
      if (flag(disp, sub)) client.public = true;
      else refused.add('public');
    },
    redirect_uri: uriList('redirect_uri', client.redirectUris),
    post_logout_redirect_uri: uriList('post_logout_redirect_uri', client.postLogoutRedirectUris),
    backchannel_logout_uri: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'backchannel_logout_uri <uri>') : null;
      if (t === null) return;
      client.backchannelLogoutUri = t.text;
      uris.push({ token: t, kind: 'backchannel_logout_uri' });
    },
    scopes: (sub) => {
      if (!once(disp, seen, sub)) return;
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'scopes <scope...>')) return void refused.add('scopes');
      const unique = sub.args.filter((t, i) => sub.args.findIndex((u) => u.text === t.text) === i);
      client.scopes = unique.map((t) => t.text);
      places.clientScopes.push({ disp, tokens: unique, client });
    },
    grant_types: (sub) => {
      if (!once(disp, seen, sub)) return;
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'grant_types authorization_code|refresh_token|client_credentials...')) return void refused.add('grant_types');
      const grants: IdentityClientConfig['grantTypes'] = [];
      for (const t of sub.args) {
        const grant = t.text as IdentityClientConfig['grantTypes'][number];
        if (!GRANT_TYPES.includes(grant)) fail(t, 'grant_types', `grant_types: unknown grant type ${JSON.stringify(t.text)} (expected ${GRANT_TYPES.join(', ')})${didYouMean(t.text, GRANT_TYPES)}`);
        else if (!grants.includes(grant)) grants.push(grant);
      }
      client.grantTypes = grants;
    },
    first_party: (sub) => {
      if (once(disp, seen, sub) && flag(disp, sub)) client.firstParty = true;
    },
    signing_alg: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'signing_alg RS256|ES256|EdDSA') : null;
      if (t === null) return;
      const alg = SIGNING_ALGS.find((a) => a === t.text);
      if (alg !== undefined) client.signingAlg = alg;
      else fail(t, 'signing_alg', `signing_alg: expected RS256, ES256 or EdDSA, got ${JSON.stringify(t.text)}${didYouMean(t.text, SIGNING_ALGS)}`);
    },
  });
  for (const { token, kind } of uris) {
    const problem = checkClientUri(token.text, kind, client.public);
    if (problem !== null) fail(token, kind, problem);
  }
  if (d.block !== null) {
    for (const problem of clientProblems(client)) if (!problem.reads.some((s) => refused.has(s))) disp.error(d, problem.message);
  }
  return id === null ? null : client;
}
