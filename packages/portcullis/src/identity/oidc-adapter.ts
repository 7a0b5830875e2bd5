/**
 * oidc-provider's storage adapter over the store's ArtifactRepository: sessions, interactions,
 * codes, tokens and grants live in our database, so they survive restarts and, with
 * PostgreSQL, are shared by every node. Clients registered through the CLI are read here too
 * (model `Client`); clients from config are given to oidc-provider directly.
 */
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Clock } from '../kernel/clock.ts';
import type { ArtifactRepository, ClientRepository } from '../store/index.ts';

/** Client metadata field marking a client whose users are not asked for consent. */
export const FIRST_PARTY = 'portcullis_first_party';

/**
 * Client metadata field with the client's API scopes: scopes that are not OpenID scopes, which
 * client_credentials tokens carry for APIs (oidc-provider's `scope` only takes its own).
 */
export const API_SCOPE = 'portcullis_api_scope';

/** Splits a client's `scope` into the OpenID scopes the provider knows and API scopes. */
export function splitClientScope(metadata: Record<string, unknown>, oidcScopes: ReadonlySet<string>): Record<string, unknown> {
  if (typeof metadata.scope !== 'string') return metadata;
  const scopes = metadata.scope.split(' ').filter(Boolean);
  const { scope: _scope, ...rest } = metadata;
  const openid = scopes.filter((s) => oidcScopes.has(s)).join(' ');
  // oidc-provider refuses an empty `scope`; absent means "any scope the provider knows", but
  // a client without authorization_code can never ask for one anyway.
  return { ...rest, ...(openid ? { scope: openid } : {}), [API_SCOPE]: scopes.filter((s) => !oidcScopes.has(s)).join(' ') };
}

export function createAdapterFactory(artifacts: ArtifactRepository, clients: ClientRepository, clock: Clock, oidcScopes: ReadonlySet<string>): (model: string) => Adapter {
  return (model) => (model === 'Client' ? clientAdapter(clients, oidcScopes) : artifactAdapter(model, artifacts, clock));
}

/**
 * Artifacts that die with their grant (oidc-provider's reference adapter keeps this set).
 * Sessions and interactions also mention a grant, but revoking one must not delete a sign-in
 * in progress (switching accounts) or the browser's session.
 */
const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'ClientCredentials', 'BackchannelAuthenticationRequest']);

function artifactAdapter(model: string, artifacts: ArtifactRepository, clock: Clock): Adapter {
  const grantBound = GRANT_BOUND.has(model);
  return {
    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      const expiresAt = expiresIn ? clock.now() + expiresIn * 1000 : null;
      const grantId = grantBound && typeof payload.grantId === 'string' ? payload.grantId : null;
      await artifacts.upsert(model, id, payload as Record<string, unknown>, expiresAt, grantId);
    },
    find: async (id: string) => ((await artifacts.find(model, id)) ?? undefined) as AdapterPayload | undefined,
    findByUid: async (uid: string) => ((await artifacts.findByUid(model, uid)) ?? undefined) as AdapterPayload | undefined,
    findByUserCode: async (code: string) => ((await artifacts.findByUserCode(model, code)) ?? undefined) as AdapterPayload | undefined,
    async consume(id: string) {
      // Two redemptions of one code racing past oidc-provider's `consumed` check (possible with
      // several nodes on one database): only the first may win (RFC 6749 §4.1.2).
      if (!(await artifacts.consume(model, id))) throw new errors.InvalidGrant(`${model} already used`);
    },
    destroy: (id: string) => artifacts.destroy(model, id),
    revokeByGrantId: (grantId: string) => artifacts.revokeByGrantId(grantId),
  };
}

/** Stored clients are read-only to oidc-provider: dynamic registration is off. */
function clientAdapter(clients: ClientRepository, oidcScopes: ReadonlySet<string>): Adapter {
  const readOnly = async () => {
    throw new Error('clients are managed with `portcullis client`');
  };
  return {
    async find(id: string) {
      const client = await clients.byId(id);
      if (client === null) return undefined;
      // The stored secret is its hash; compareClientSecret (provider.ts) compares hashes.
      return {
        ...splitClientScope(client.metadata, oidcScopes),
        client_id: client.clientId,
        [FIRST_PARTY]: client.firstParty,
        ...(client.secretHash ? { client_secret: client.secretHash } : {}),
      } as AdapterPayload;
    },
    upsert: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: async () => undefined,
  };
}
