/**
 * The identity module's facade: the OpenID provider with its accounts, keys and pages, built
 * from the `identity` block over an opened store. main.ts is its only user.
 */
import type { IdentityConfig } from '../config/types.ts';
import type { Clock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { EventBus } from '../kernel/events.ts';
import type { Logger } from '../kernel/logger.ts';
import type { Store } from '../store/index.ts';
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import { createAccounts } from './accounts.ts';
import { createAuthenticator, type Authenticator } from './authenticator.ts';
import { createEdgeSessions } from './edge-sessions.ts';
import { createForwardAuthEndpoint } from './forward-auth-endpoint.ts';
import { createPortal } from './portal.ts';
import { createReturnToCheck } from './return-to.ts';
import { createEndpoint, STYLESHEET_PATH, type IdentityHttp } from './endpoint.ts';
import { createFirstAdmin } from './first-admin.ts';
import { createCsrf } from './forms.ts';
import { createInteractions } from './interactions.ts';
import { createLoginThrottle } from './login-throttle.ts';
import { createProvider } from './provider.ts';
import { loadKeySet, type SigningAlg } from './signing-keys.ts';
import { stringsFor } from './views/strings.ts';
import { createViews } from './views/views.ts';

export { createIdentityAdmin, type IdentityAdmin } from './admin.ts';
export { rotateKeys } from './signing-keys.ts';
export type { IdentityHttp } from './endpoint.ts';
export type { Authenticator } from './authenticator.ts';

export interface IdentityOptions {
  config: IdentityConfig;
  /** Host names the config's sites serve: return addresses may point at them. */
  servedHosts: string[];
  /** CIDRs of proxies whose X-Forwarded-* headers the forward-auth endpoint believes. */
  trustedProxies: string[];
  /** The issuer URL: the configured one, or the origin of the site serving identity_provider. */
  issuer: string;
  store: Store;
  clock: Clock;
  events: EventBus;
  logger: Logger;
}

export interface Identity {
  http: IdentityHttp;
  /** Sign-in sessions for `authenticate` (the proxy's Authenticator port). */
  authenticator: Authenticator;
  /** The first-administrator link while the store has no users; null afterwards. */
  setupLink(): string | null;
  close(): Promise<void>;
}

/** What `portcullis validate` can check without a database: the theme's template directory. */
export async function checkIdentityConfig(config: IdentityConfig): Promise<void> {
  await createViews(config.theme, { stylesheetPath: STYLESHEET_PATH });
}

/** How often expired codes, tokens and sessions are swept from the store. */
const SWEEP_INTERVAL_MS = 10 * 60_000;

export async function createIdentity(options: IdentityOptions): Promise<Identity> {
  const { config, store, clock, events } = options;
  const logger = options.logger.child({ module: 'identity' });
  const issuer = new URL(options.issuer);
  if (issuer.pathname !== '/' || issuer.search !== '' || issuer.hash !== '') {
    throw new PortcullisError(ErrorCodes.ERR_IDENTITY_CONFIG, `issuer ${options.issuer} must be an origin without path or query`);
  }
  const algs = [...new Set<SigningAlg>(['RS256', ...config.clients.map((c) => c.signingAlg)])];
  // A retired key stays published as long as a token it signed can still be presented.
  const keys = await loadKeySet(store.keys, clock, algs, Math.max(config.accessTokenTtlMs, config.idTokenTtlMs));
  const views = await createViews(config.theme, { stylesheetPath: STYLESHEET_PATH });
  const strings = stringsFor(config.theme.locale);
  const accounts = createAccounts({ store, clock, events, throttle: createLoginThrottle({ clock }), logger });
  const csrf = createCsrf(keys.cookieKeys[0]!);
  const issuerText = issuer.origin;
  const secure = issuer.protocol === 'https:';
  const edge = createEdgeSessions({ store, clock, cookiePrefix: config.cookie.name, domain: config.cookie.domain, secure, ttlMs: config.sessionTtlMs });
  const returnTo = createReturnToCheck({ issuer: issuerText, hosts: options.servedHosts, cookieDomain: config.cookie.domain });
  const provider = createProvider({ issuer: issuerText, config, store, clock, keys, views, logger });
  const interactions = createInteractions({ provider, views, strings, accounts, csrf, logger, edge });
  const portal = createPortal({ views, strings, accounts, csrf, edge, returnTo, secure, cookiePrefix: config.cookie.name });
  const forwardAuth = createForwardAuthEndpoint({ edge, logger, issuer: issuerText, trusted: compileIpRanges(options.trustedProxies), returnTo });
  const signingKey = keys.jwks.find((k) => k.alg === 'RS256')!;
  const firstAdmin = await createFirstAdmin({
    issuer: issuerText,
    views,
    strings,
    accounts,
    csrf,
    logger,
    noUsers: async () => (await store.users.count()) === 0,
  });
  const sweep = setInterval(() => {
    store.artifacts.deleteExpired().catch((error: unknown) => logger.warn({ err: error }, 'sweeping expired tokens failed'));
  }, SWEEP_INTERVAL_MS);
  sweep.unref();
  return {
    http: createEndpoint({ issuer, provider, views, firstAdmin, interactions, portal, forwardAuth, edge }),
    authenticator: createAuthenticator({ edge, issuer: issuerText, signingKey, clock, cookiePrefix: config.cookie.name }),
    setupLink: () => firstAdmin.link(),
    async close() {
      clearInterval(sweep);
    },
  };
}
