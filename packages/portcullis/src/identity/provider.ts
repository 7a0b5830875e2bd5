/**
 * The OpenID provider: panva's oidc-provider configured from the `identity` block. All protocol
 * handling (discovery, PKCE, code and refresh grants with rotation and reuse detection,
 * client_credentials, introspection, revocation, logout) is the library's; this file only
 * chooses settings and connects it to our store, accounts and pages.
 */
import Provider, { errors, interactionPolicy, type AccountClaims, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { IdentityClientConfig, IdentityConfig } from '../config/types.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import type { Store } from '../store/index.ts';
import { claimsByScope, claimsOf, createAccountSource } from './account-claims.ts';
import { compareClientSecret, hashClientSecret } from './client-secrets.ts';
import { createCookieSigner } from './cookie-keys.ts';
import { API_SCOPE, createAdapterFactory, FIRST_PARTY, splitClientScope } from './oidc-adapter.ts';
import type { KeySet } from './signing-keys.ts';
import type { Views } from './views/views.ts';
import { setPageSecurityHeaders } from './views/security-headers.ts';

export interface ProviderOptions {
  issuer: string;
  config: IdentityConfig;
  store: Store;
  clock: Clock;
  keys: KeySet;
  views: Views;
  logger: Logger;
}

const SECONDS = 1000;

export function createProvider(options: ProviderOptions): Provider {
  const { issuer, config, store, clock, views, logger } = options;
  const secure = issuer.startsWith('https:');
  const accounts = createAccountSource(store.users, store.groups);
  const accountsByRequest = new WeakMap<object, Map<string, ReturnType<typeof accounts.find>>>();
  const scopes = claimsByScope(config.claims);
  const cookiePrefix = config.cookie.name;
  const oidcScopeList = ['openid', 'offline_access', ...Object.keys(scopes).filter((s) => s !== 'openid')];
  const oidcScopes = new Set(oidcScopeList);

  /** The account of `sub`, looked up once per request (see findAccount). */
  const accountFor = (ctx: object, sub: string): ReturnType<typeof accounts.find> => {
    let perRequest = accountsByRequest.get(ctx);
    if (perRequest === undefined) accountsByRequest.set(ctx, (perRequest = new Map()));
    let pending = perRequest.get(sub);
    if (pending === undefined) perRequest.set(sub, (pending = accounts.find(sub)));
    return pending;
  };

  /**
   * The account a token may still act for: undefined when it is gone or disabled, or when the
   * token comes from a sign-in before the account's sessions were voided (a password change).
   * `iiat` is when a rotated refresh token's chain began. One rule for the token endpoint,
   * userinfo (findAccount) and introspection, which never asks findAccount.
   */
  const accountOfToken = async (ctx: object, sub: string, token: { iat?: number; iiat?: number } | undefined): ReturnType<typeof accounts.find> => {
    const found = await accountFor(ctx, sub);
    const issued = token?.iiat ?? token?.iat;
    return found !== undefined && typeof issued === 'number' && signedInBefore(issued, found.user.sessionsValidFrom) ? undefined : found;
  };

  // A browser session from a sign-in before the account's sessions were voided (a password
  // change) is asked for the password again instead of being trusted.
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('sessions_voided', 'the account signed in before its sessions were ended', async (ctx) => {
      const { accountId, loginTs } = ctx.oidc.session ?? {};
      if (typeof accountId !== 'string' || typeof loginTs !== 'number') return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const found = await accountFor(ctx, accountId);
      return found !== undefined && signedInBefore(loginTs, found.user.sessionsValidFrom) ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );

  /**
   * oidc-provider's default introspection policy (a public client sees only its own tokens),
   * plus the account checks of findAccount: a token of a missing or disabled account, or from a
   * sign-in before the account's sessions were voided, introspects as inactive.
   */
  const introspectionAllowed = async (ctx: KoaContextWithOIDC, client: { clientAuthMethod: string; clientId: string }, token: { accountId?: string; clientId?: string; iat?: number; iiat?: number }): Promise<boolean> => {
    if (client.clientAuthMethod === 'none' && token.clientId !== client.clientId) return false;
    return typeof token.accountId !== 'string' || (await accountOfToken(ctx, token.accountId, token)) !== undefined;
  };

  const configuration: Configuration = {
    adapter: createAdapterFactory(store.artifacts, store.clients, clock, oidcScopes),
    clients: config.clients.map((c) => splitClientScope(clientMetadata(c), oidcScopes) as ClientMetadata),
    extraClientMetadata: {
      properties: [FIRST_PARTY, API_SCOPE],
      validator(_ctx, key, value) {
        if (key === FIRST_PARTY && value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata(`${FIRST_PARTY} must be a boolean`);
        if (key === API_SCOPE && value !== undefined && typeof value !== 'string') throw new errors.InvalidClientMetadata(`${API_SCOPE} must be a string`);
      },
    },
    clientDefaults: { id_token_signed_response_alg: 'RS256', token_endpoint_auth_method: 'client_secret_basic' },
    async findAccount(ctx, sub, token) {
      // One token request asks for the same account several times (grant, ID token claims,
      // access token): look it up once per request, never across requests (a user disabled
      // a moment ago must not get a token).
      // A voided token names no account: refused (invalid_grant) like a disabled user's.
      const found = await accountOfToken(ctx, sub, token as { iat?: number; iiat?: number } | undefined);
      if (found === undefined) return undefined;
      return { accountId: sub, claims: () => claimsOf(found.user, found.groups, config.claims) as AccountClaims };
    },
    claims: scopes,
    scopes: oidcScopeList,
    // Apps configured with "generic OIDC" read claims from the ID token, not only from userinfo.
    conformIdTokenClaims: false,
    // OIDC Core 3.1.2.1: redirect_uri is required and compared exactly, even with one registered.
    allowOmittingSingleRegisteredRedirectUri: false,
    responseTypes: ['code'],
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    // A client that may refresh gets a refresh token without asking for offline_access: what
    // Grafana, Gitea and friends expect; rotateRefreshToken makes each one single-use, and a
    // reused one revokes the whole grant (oidc-provider's reuse detection).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: config.accessTokenTtlMs / SECONDS,
      ClientCredentials: config.accessTokenTtlMs / SECONDS,
      IdToken: config.idTokenTtlMs / SECONDS,
      RefreshToken: config.refreshTokenTtlMs / SECONDS,
      Grant: config.refreshTokenTtlMs / SECONDS,
      Session: config.sessionTtlMs / SECONDS,
      Interaction: 3600,
      AuthorizationCode: 60,
    },
    jwks: { keys: options.keys.jwks as never },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] },
    cookies: {
      keys: options.keys.cookieKeys,
      // __Host-: the browser refuses the cookie unless Secure, Path=/ and host-only (no Domain),
      // so no other subdomain can plant or overwrite it (session fixation).
      names: {
        session: secure ? `__Host-${cookiePrefix}` : cookiePrefix,
        interaction: `${secure ? '__Secure-' : ''}${cookiePrefix}.interaction`,
        resume: `${secure ? '__Secure-' : ''}${cookiePrefix}.resume`,
      },
      long: { httpOnly: true, sameSite: 'lax', secure },
      short: { httpOnly: true, sameSite: 'lax', secure },
    },
    // oidc-provider refuses outgoing requests to private and loopback addresses (SSRF defence
    // for URLs that strangers register). Ours come only from the operator's config and CLI
    // (no dynamic registration, no request_uri), and back-channel logout to an app on the LAN
    // or on the same host is the usual case, so its special-address block is lifted.
    fetch: (url, options) => globalThis.fetch(url, { ...(options as RequestInit), dispatcher: undefined } as RequestInit),
    interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Introspection never asks findAccount: the same account checks apply here, or an app
      // that validates tokens by introspection would keep accepting a disabled user's tokens, or
      // those from before a password change. The type definitions model only the disabled form.
      introspection: { enabled: true, allowedPolicy: introspectionAllowed } as never,
      revocation: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => renderLogout(ctx, form),
        postLogoutSuccessSource: async (ctx) => renderPage(ctx, 200, views.render('logged-out', { clientName: ctx.oidc.client?.clientName ?? null })),
      },
      resourceIndicators: {
        enabled: true,
        // Tokens for the userinfo endpoint stay opaque (stored, so revocation and sign-out end
        // them at once); client_credentials tokens are JWTs (RFC 9068) for the issuer itself,
        // which APIs behind the `jwt` directive or the verify SDK check locally.
        defaultResource: (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials' ? issuer : undefined) as string,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource, client) => {
          if (resource !== issuer) throw new errors.InvalidTarget();
          return {
            scope: String(client[API_SCOPE] ?? ''),
            audience: issuer,
            accessTokenTTL: config.accessTokenTtlMs / SECONDS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: (client.idTokenSignedResponseAlg ?? 'RS256') as 'RS256' | 'ES256' | 'EdDSA' } },
          };
        },
      },
    },
    async renderError(ctx, out, error) {
      const status = ctx.status >= 400 ? ctx.status : 400;
      logger.debug({ err: error, error: out.error }, 'identity: error page');
      renderPage(ctx, status, views.render('error', { title: out.error, message: out.error_description ?? '', errorId: null }));
    },
  };

  const provider = new Provider(issuer, configuration);
  // Same signatures as keygrip, without its costly compare (cookie-keys.ts).
  provider.keys = createCookieSigner(options.keys.cookieKeys) as never;
  // The proxy in front has replaced X-Forwarded-* with values derived from the issuer and the
  // resolved client address (endpoint.ts): believing them cannot be spoofed.
  provider.proxy = true;
  // Secrets are kept as hashes (client-secrets.ts), so compare hashes, in constant time.
  provider.Client.prototype.compareClientSecret = function (this: { clientSecret?: string }, actual: string) {
    return this.clientSecret !== undefined && compareClientSecret(this.clientSecret, actual);
  };
  provider.on('server_error', (_ctx: unknown, error: Error) => logger.error({ err: error }, 'identity: server error'));

  function renderLogout(ctx: KoaContextWithOIDC, form: string): void {
    // oidc-provider's confirmation form carries its own anti-CSRF secret in `xsrf`.
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
    renderPage(ctx, 200, views.render('logout', { action: ctx.oidc.urlFor('end_session_confirm'), csrf: xsrf, clientName: ctx.oidc.client?.clientName ?? null }));
  }

  return provider;
}

function renderPage(ctx: KoaContextWithOIDC, status: number, html: string): void {
  setPageSecurityHeaders(ctx.res);
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = html;
}

function clientMetadata(c: IdentityClientConfig): ClientMetadata {
  const code = c.grantTypes.includes('authorization_code');
  return {
    client_id: c.id,
    client_name: c.name ?? c.id,
    ...(c.secret !== null ? { client_secret: hashClientSecret(c.secret) } : {}),
    token_endpoint_auth_method: c.public ? 'none' : 'client_secret_basic',
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    grant_types: c.grantTypes,
    response_types: code ? ['code'] : [],
    scope: c.scopes.join(' '),
    id_token_signed_response_alg: c.signingAlg,
    ...(c.backchannelLogoutUri !== null ? { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    [FIRST_PARTY]: c.firstParty,
  };
}

/**
 * Whether something stamped `seconds` (a JWT-style time, whole seconds) certainly came before
 * `validFromMs`: within the same second it counts as after, so a sign-in right after a password
 * change is not voided by it.
 */
function signedInBefore(seconds: number, validFromMs: number): boolean {
  return (seconds + 1) * 1000 <= validFromMs;
}
