/**
 * The identity admin facade: users, groups and stored OIDC clients, as the CLI (and later the
 * admin API) manage them. Every input is checked here, every change is written to the audit
 * log, and nothing it returns carries a password hash or a client secret hash.
 */
import {
  checkClientId,
  checkClientName,
  checkClientUri,
  checkScopeName,
  clientProblems,
  DEFAULT_CLIENT_SCOPES,
  DEFAULT_GRANT_TYPES,
  GRANT_TYPES,
  type ClientUriKind,
  type IdentityClientConfig,
  type Parsed,
} from '../config/index.ts';
import type { Clock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { Store, StoredClient, User } from '../store/index.ts';
import { generateClientSecret, hashClientSecret } from './client-secrets.ts';
import { hashPassword } from './passwords.ts';

/** A user as listed: never the password hash, only whether there is one. */
export interface UserSummary {
  id: string;
  username: string;
  email: string | null;
  displayName: string | null;
  disabled: boolean;
  hasPassword: boolean;
  groups: string[];
  createdAt: number;
}

export interface GroupSummary {
  name: string;
  description: string | null;
  /** Usernames, ordered. */
  members: string[];
}

/** A stored client as listed: never the secret hash, only whether there is one. */
export interface ClientSummary {
  clientId: string;
  name: string | null;
  public: boolean;
  firstParty: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  scopes: string[];
  createdAt: number;
}

export interface NewUserInput {
  username: string;
  email?: string | null;
  displayName?: string | null;
  /** Absent: the user cannot sign in with a password until one is set. */
  password?: string | null;
}

export type GrantType = IdentityClientConfig['grantTypes'][number];

export interface NewClientInput {
  id: string;
  redirectUris: string[];
  /** No secret; the client proves itself with PKCE only (RFC 8252 section 8.1). */
  public: boolean;
  /** Consent is not asked. */
  firstParty: boolean;
  /** Default: openid profile email groups. */
  scopes?: string[];
  /** Default: authorization_code refresh_token. */
  grantTypes?: GrantType[];
  name?: string | null;
  postLogoutRedirectUris?: string[];
}

export interface IdentityAdmin {
  addUser(input: NewUserInput): Promise<UserSummary>;
  setPassword(login: string, password: string): Promise<void>;
  setDisabled(login: string, disabled: boolean): Promise<void>;
  listUsers(): Promise<UserSummary[]>;
  deleteUser(login: string): Promise<void>;
  addGroup(name: string, description?: string | null): Promise<GroupSummary>;
  deleteGroup(name: string): Promise<void>;
  listGroups(): Promise<GroupSummary[]>;
  addMember(group: string, login: string): Promise<void>;
  removeMember(group: string, login: string): Promise<void>;
  /** The secret is returned this once (null for a public client); only its hash is stored. */
  addClient(input: NewClientInput): Promise<{ clientId: string; secret: string | null }>;
  listClients(): Promise<ClientSummary[]>;
  deleteClient(id: string): Promise<void>;
}

export interface IdentityAdminDeps {
  store: Store;
  clock: Clock;
  /** Who the audit log says made the changes (default `cli`). */
  actor?: string;
  /**
   * Scopes a client may be given: the standard ones plus those the config's `claim ... scope`
   * lines add (config's `knownScopes`). Absent: any well-formed scope name.
   */
  knownScopes?: readonly string[];
  /** Client ids the config file defines; a stored client may not take one (which would win would be a surprise). */
  configClientIds?: readonly string[];
}

/** Builds the admin facade over an opened store. */
export function createIdentityAdmin(deps: IdentityAdminDeps): IdentityAdmin {
  const { store, clock } = deps;
  const actor = deps.actor ?? 'cli';
  const audit = (type: string, subject: string | null, detail: Record<string, unknown>) =>
    store.audit.append({ type, actor, subject, ip: null, detail });

  const userByLogin = async (login: string): Promise<User> => {
    const user = typeof login === 'string' && login.length <= 320 ? await store.users.byLogin(login) : null;
    if (user === null) throw notFound(`no user named ${shown(login)}`);
    return user;
  };
  const groupNamed = async (name: string) => {
    const group = typeof name === 'string' ? await store.groups.byName(name) : null;
    if (group === null) throw notFound(`group ${shown(name)} does not exist`);
    return group;
  };
  const summary = async (user: User): Promise<UserSummary> => ({
    id: user.id,
    username: user.username,
    email: user.email,
    displayName: user.displayName,
    disabled: user.disabled,
    hasPassword: user.passwordHash !== null,
    groups: await store.groups.groupsOf(user.id),
    createdAt: user.createdAt,
  });

  return {
    async addUser(input) {
      const username = checkUsername(input.username);
      const email = checkEmail(input.email ?? null);
      const displayName = checkDisplayName(input.displayName ?? null);
      const passwordHash = input.password == null ? null : await hashPassword(input.password);
      if ((await store.users.byLogin(username)) !== null) throw conflict(`user ${username} already exists`);
      if (email !== null && (await store.users.byLogin(email)) !== null) throw conflict(`email ${email} is already used by another user`);
      const user = await store.users
        .create({ username, email, displayName, passwordHash })
        .catch(rethrowConflict(email === null ? `user ${username} already exists` : `user ${username} or email ${email} already exists`));
      await audit('user.created', user.id, { username });
      return summary(user);
    },

    async setPassword(login, password) {
      const passwordHash = await hashPassword(password);
      const user = await userByLogin(login);
      // Ends the sessions and tokens of sign-ins before now: whoever holds a stolen cookie or
      // refresh token (how a password change is often prompted) is out too.
      await store.users.update(user.id, { passwordHash, sessionsValidFrom: clock.now() });
      await audit('user.password_changed', user.id, { username: user.username });
    },

    async setDisabled(login, disabled) {
      const user = await userByLogin(login);
      await store.users.update(user.id, { disabled });
      await audit(disabled ? 'user.disabled' : 'user.enabled', user.id, { username: user.username });
    },

    async listUsers() {
      const users = await store.users.list();
      const out: UserSummary[] = [];
      for (const user of users) out.push(await summary(user));
      return out;
    },

    async deleteUser(login) {
      const user = await userByLogin(login);
      if (!(await store.users.delete(user.id))) throw notFound(`no user named ${shown(login)}`);
      await audit('user.deleted', user.id, { username: user.username });
    },

    async addGroup(name, description) {
      const groupName = checkGroupName(name);
      const text = checkText(description ?? null, 'group description', 256);
      const group = await store.groups.create(groupName, text).catch(rethrowConflict(`group ${groupName} already exists`));
      await audit('group.created', group.id, { name: groupName });
      return { name: group.name, description: group.description, members: [] };
    },

    async deleteGroup(name) {
      const group = await groupNamed(name);
      if (!(await store.groups.delete(group.name))) throw notFound(`group ${shown(name)} does not exist`);
      await audit('group.deleted', group.id, { name: group.name });
    },

    async listGroups() {
      const groups = await store.groups.list();
      const out: GroupSummary[] = [];
      for (const group of groups) {
        const members = await store.groups.membersOf(group.name);
        out.push({ name: group.name, description: group.description, members: members.map((u) => u.username) });
      }
      return out;
    },

    async addMember(groupName, login) {
      const group = await groupNamed(groupName);
      const user = await userByLogin(login);
      await store.groups.addMember(group.name, user.id);
      await audit('group.member_added', user.id, { group: group.name, username: user.username });
    },

    async removeMember(groupName, login) {
      const group = await groupNamed(groupName);
      const user = await userByLogin(login);
      if (!(await store.groups.removeMember(group.name, user.id))) {
        throw notFound(`${user.username} is not a member of ${group.name}`);
      }
      await audit('group.member_removed', user.id, { group: group.name, username: user.username });
    },

    async addClient(input) {
      const client = checkClient(input, deps.knownScopes ?? null);
      if (deps.configClientIds?.includes(client.client_id)) throw conflict(`client ${client.client_id} is defined in the config file`);
      const secret = input.public ? null : generateClientSecret();
      await store.clients
        .create({ clientId: client.client_id, secretHash: secret === null ? null : hashClientSecret(secret), metadata: client, firstParty: input.firstParty === true })
        .catch(rethrowConflict(`client ${client.client_id} already exists`));
      await audit('client.created', client.client_id, { public: input.public === true, firstParty: input.firstParty === true });
      return { clientId: client.client_id, secret };
    },

    async listClients() {
      return (await store.clients.list()).map(clientSummary);
    },

    async deleteClient(id) {
      if (typeof id !== 'string' || !(await store.clients.delete(id))) throw notFound(`no client with id ${shown(id)}`);
      await audit('client.deleted', id, {});
    },
  };
}

/**
 * Usernames are ASCII letters, digits, `.`, `_` and `-`, at most 64, starting with a letter or
 * digit: no `@`, so a username can never equal someone's email (logins accept both), and no
 * look-alike Unicode (a Cyrillic "а" in "admin"), whose case folding SQLite does not do either.
 */
export function checkUsername(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw invalid(`invalid username ${shown(value)}: use 1 to 64 ASCII letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  return value;
}

/** An address with one `@`, no spaces or control characters, at most 254 characters (RFC 5321 section 4.5.3.1.3). */
export function checkEmail(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string' || value.length > 254 || !/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u.test(value)) {
    throw invalid(`invalid email address ${shown(value)}`);
  }
  return value;
}

/** At most 128 characters, no control or bidi-override characters (they would disguise the name in lists). */
export function checkDisplayName(value: unknown): string | null {
  return checkText(value, 'display name', 128);
}

function checkText(value: unknown, what: string, max: number): string | null {
  if (value === null || value === undefined || value === '') return null;
  // Trojan Source (CVE-2021-42574): bidi controls reorder what an admin sees in a listing.
  if (typeof value !== 'string' || value.length > max || /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u.test(value)) {
    throw invalid(`invalid ${what}: at most ${max} characters, no control characters`);
  }
  return value;
}

/** Group names appear verbatim in tokens and in `require group` lines: a plain word. */
function checkGroupName(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw invalid(`invalid group name ${shown(value)}: use 1 to 64 ASCII letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  return value;
}

/**
 * Checks a new client with the very rules (and words) the config file's `client` blocks get,
 * from config/identity-checks.ts, and returns its oidc-provider metadata (snake_case).
 */
function checkClient(input: NewClientInput, scopesAllowed: readonly string[] | null): Record<string, unknown> & { client_id: string } {
  const id = parsed(checkClientId(typeof input.id === 'string' ? input.id : ''));
  const isPublic = input.public === true;
  const grantTypes = unique(input.grantTypes ?? [...DEFAULT_GRANT_TYPES]);
  if (grantTypes.length === 0) throw invalid('a client needs at least one grant type');
  for (const grant of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) throw invalid(`unknown grant type ${shown(grant)}: use ${GRANT_TYPES.join(', ')}`);
  }
  const uris = (list: readonly string[] | undefined, kind: ClientUriKind) =>
    unique(list ?? []).map((uri) => {
      const problem = typeof uri === 'string' ? checkClientUri(uri, kind, isPublic) : `${kind} must be a string`;
      if (problem !== null) throw invalid(problem);
      return uri;
    });
  const redirectUris = uris(input.redirectUris, 'redirect_uri');
  const postLogout = uris(input.postLogoutRedirectUris, 'post_logout_redirect_uri');
  const authorizationCode = grantTypes.includes('authorization_code');
  const scopes = unique(input.scopes ?? [...DEFAULT_CLIENT_SCOPES]).map((scope) => parsed(checkScopeName(typeof scope === 'string' ? scope : '')));
  // client_credentials tokens carry API scopes, which only the APIs define (as in config).
  if (scopesAllowed !== null && !grantTypes.includes('client_credentials')) {
    for (const scope of scopes) {
      if (!scopesAllowed.includes(scope)) throw invalid(`unknown scope ${shown(scope)}: known are ${scopesAllowed.join(' ')} (custom scopes come from claim ... scope <name>)`);
    }
  }
  const name = input.name == null || input.name === '' ? null : parsed(checkClientName(String(input.name)));
  const asConfig: IdentityClientConfig = {
    id,
    name,
    // Stands for the secret generated afterwards; the rules only ask whether there is one.
    secret: isPublic ? null : 'generated',
    public: isPublic,
    redirectUris,
    postLogoutRedirectUris: postLogout,
    scopes,
    grantTypes,
    firstParty: input.firstParty === true,
    signingAlg: 'RS256',
    backchannelLogoutUri: null,
    source: { file: 'portcullis client add', line: 0 },
  };
  const problem = clientProblems(asConfig)[0];
  if (problem !== undefined) throw invalid(problem.message);
  if (!authorizationCode && (redirectUris.length > 0 || postLogout.length > 0)) {
    throw invalid('redirect URIs are only used by the authorization_code grant');
  }
  const metadata: Record<string, unknown> & { client_id: string } = {
    client_id: id,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogout,
    grant_types: grantTypes,
    response_types: authorizationCode ? ['code'] : [],
    token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_basic',
    scope: scopes.join(' '),
  };
  if (name !== null) metadata.client_name = name;
  return metadata;
}

function parsed<T>(result: Parsed<T>): T {
  if (!result.ok) throw invalid(result.error);
  return result.value;
}

function clientSummary(client: StoredClient): ClientSummary {
  const m = client.metadata;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return {
    clientId: client.clientId,
    name: typeof m.client_name === 'string' ? m.client_name : null,
    public: m.token_endpoint_auth_method === 'none',
    firstParty: client.firstParty,
    redirectUris: strings(m.redirect_uris),
    postLogoutRedirectUris: strings(m.post_logout_redirect_uris),
    grantTypes: strings(m.grant_types),
    scopes: typeof m.scope === 'string' && m.scope !== '' ? m.scope.split(' ') : [],
    createdAt: client.createdAt,
  };
}

function unique<T>(values: readonly T[]): T[] {
  if (!Array.isArray(values)) throw invalid('expected a list');
  return [...new Set(values)];
}

/** The value as typed when it is plain printable ASCII, else JSON-quoted so it cannot play tricks on a terminal. */
function shown(value: unknown): string {
  return typeof value === 'string' && /^[\x21-\x7e]{1,200}$/.test(value) ? value : JSON.stringify(String(value).slice(0, 200));
}

function rethrowConflict(message: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof PortcullisError && error.code === ErrorCodes.ERR_STORE_CONFLICT) throw conflict(message);
    throw error;
  };
}

function invalid(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_HTTP_BAD_REQUEST, message, { status: 400 });
}

function notFound(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_STORE_NOT_FOUND, message, { status: 404 });
}

function conflict(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_STORE_CONFLICT, message, { status: 409 });
}
