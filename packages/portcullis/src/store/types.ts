/**
 * The store's narrow repository interfaces. Everything outside `store/` sees only these; only
 * `main.ts` (and store tests) open a concrete store. Times are milliseconds since the epoch,
 * taken from the injected Clock. Every implementation passes the one contract suite in
 * `store/contract.ts`.
 *
 * Errors: a unique-constraint clash throws PortcullisError ERR_STORE_CONFLICT; any other
 * database failure ERR_STORE (with the driver's message, never the SQL parameters).
 */

export interface User {
  /** Random, stable, never reused; the OIDC `sub`. */
  id: string;
  /** Unique, compared case-insensitively; stored as given. */
  username: string;
  /** Unique when set, compared case-insensitively. */
  email: string | null;
  emailVerified: boolean;
  displayName: string | null;
  /** PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`); null: cannot sign in with a password. */
  passwordHash: string | null;
  disabled: boolean;
  /** Free-form attributes that custom claims read (tenant, roles, ...). JSON values. */
  attributes: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  /**
   * Sessions and tokens from sign-ins before this time (ms) no longer hold; 0: all do. A
   * password change sets it to the time of the change.
   */
  sessionsValidFrom: number;
}

export interface NewUser {
  username: string;
  email?: string | null;
  emailVerified?: boolean;
  displayName?: string | null;
  passwordHash?: string | null;
  disabled?: boolean;
  attributes?: Record<string, unknown>;
}

export type UserPatch = Partial<Pick<User, 'email' | 'emailVerified' | 'displayName' | 'passwordHash' | 'disabled' | 'attributes' | 'sessionsValidFrom'>>;

export interface UserRepository {
  create(input: NewUser): Promise<User>;
  byId(id: string): Promise<User | null>;
  /** By username or email, case-insensitive; a username match wins over an email match. */
  byLogin(login: string): Promise<User | null>;
  /** Ordered by username. */
  list(): Promise<User[]>;
  /** null when no such user. */
  update(id: string, patch: UserPatch): Promise<User | null>;
  /** Also removes the user's group memberships. false when no such user. */
  delete(id: string): Promise<boolean>;
  count(): Promise<number>;
}

export interface Group {
  id: string;
  /** Unique, case-sensitive (group names appear verbatim in tokens). */
  name: string;
  description: string | null;
  createdAt: number;
}

export interface GroupRepository {
  create(name: string, description?: string | null): Promise<Group>;
  byName(name: string): Promise<Group | null>;
  /** Ordered by name. */
  list(): Promise<Group[]>;
  /** Also removes its memberships. false when no such group. */
  delete(name: string): Promise<boolean>;
  /** Idempotent. ERR_STORE_NOT_FOUND when the group or the user does not exist. */
  addMember(groupName: string, userId: string): Promise<void>;
  /** false when the user was not a member. */
  removeMember(groupName: string, userId: string): Promise<boolean>;
  /** Names of the user's groups, ordered by name. */
  groupsOf(userId: string): Promise<string[]>;
  /** Users in the group, ordered by username. */
  membersOf(groupName: string): Promise<User[]>;
}

/** An OIDC client registered through the CLI (config clients are not stored). */
export interface StoredClient {
  clientId: string;
  /** `sha256:<base64url>` of the secret; null for public clients. The secret itself is never stored. */
  secretHash: string | null;
  /** OIDC client metadata as oidc-provider takes it (redirect_uris, grant_types, ...), JSON. */
  metadata: Record<string, unknown>;
  /** Consent is not asked. */
  firstParty: boolean;
  createdAt: number;
}

export interface ClientRepository {
  create(client: Omit<StoredClient, 'createdAt'>): Promise<StoredClient>;
  byId(clientId: string): Promise<StoredClient | null>;
  /** Ordered by clientId. */
  list(): Promise<StoredClient[]>;
  delete(clientId: string): Promise<boolean>;
}

/**
 * oidc-provider's artifacts (sessions, interactions, codes, tokens, grants, ...) by model name,
 * the backing of its adapter interface. Payloads are opaque JSON.
 */
export interface ArtifactRepository {
  /**
   * Inserts or replaces. expiresAt null: never expires. grantId: the grant whose revocation
   * removes this artifact (tokens and codes); null for artifacts that outlive a grant
   * (sessions, interactions), even when their payload mentions one.
   */
  upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: number | null, grantId: string | null): Promise<void>;
  /** null when absent or expired (expiresAt <= now). A consumed artifact is returned with `consumed` set in its payload (epoch seconds). */
  find(model: string, id: string): Promise<Record<string, unknown> | null>;
  /** By `payload.uid` (sessions). */
  findByUid(model: string, uid: string): Promise<Record<string, unknown> | null>;
  /** By `payload.userCode` (device flow). */
  findByUserCode(model: string, userCode: string): Promise<Record<string, unknown> | null>;
  /**
   * Marks it consumed at `now` (payload.consumed reads back as epoch seconds). Atomic: true only
   * for the one call that consumed a live, unconsumed artifact, so two concurrent redemptions
   * of one code cannot both succeed.
   */
  consume(model: string, id: string): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  /** Removes every artifact of every model upserted with this grantId. */
  revokeByGrantId(grantId: string): Promise<void>;
  /** Removes expired artifacts; returns how many. */
  deleteExpired(): Promise<number>;
}

/** A private signing key (JWK). Private keys live only in the store, never in config or logs. */
export interface SigningKey {
  kid: string;
  /** RS256 | ES256 | EdDSA */
  alg: string;
  /** The private JWK, including `kid` and `alg`. */
  privateJwk: Record<string, unknown>;
  createdAt: number;
  /** When it stopped signing; it stays published until every token it signed has expired. null: active. */
  retiredAt: number | null;
}

export interface SigningKeyRepository {
  /** Ordered newest first. */
  list(): Promise<SigningKey[]>;
  add(key: SigningKey): Promise<void>;
  /** Sets retiredAt = now when not yet retired. */
  retire(kid: string): Promise<void>;
  delete(kid: string): Promise<boolean>;
}

export interface AuditEvent {
  /** Increasing. */
  id: number;
  at: number;
  /** `noun.verb`: auth.login_failed, user.created, client.deleted, keys.rotated, ... */
  type: string;
  /** Who did it (user id, `cli`, `system`); null: anonymous. */
  actor: string | null;
  /** What it was done to (user id, client id, ...). */
  subject: string | null;
  ip: string | null;
  /** Extra JSON detail; never secrets. */
  detail: Record<string, unknown>;
}

/** Append-only: there is no update or delete, and the SQL tables refuse them too. */
export interface AuditLog {
  append(event: Omit<AuditEvent, 'id' | 'at'>): Promise<void>;
  /** Newest first. */
  list(query?: { type?: string; since?: number; limit?: number }): Promise<AuditEvent[]>;
}

/** What a decision does to the addresses it covers; the gate's order of precedence too. */
export type DecisionKind = 'ban' | 'throttle' | 'challenge';

/** `ip`: one address; `range`: a CIDR block. */
export type DecisionScope = 'ip' | 'range';

/** The guard's decision about client addresses, until it expires or is lifted. */
export interface Decision {
  /** Increasing and never reused: what `portcullis bans delete <id>` takes. */
  id: number;
  kind: DecisionKind;
  scope: DecisionScope;
  /**
   * The address or CIDR, normalised by the guard (IPv4-mapped IPv6 as IPv4, IPv6 as RFC 5952
   * text, host bits cleared), so one address has one spelling. The store compares it verbatim.
   */
  value: string;
  /** Why, for people (`12 failed logins in 1m`). */
  reason: string;
  /** Who decided: `scenario:<name>`, `cli`, `crowdsec`, `blocklist`, ... */
  origin: string;
  createdAt: number;
  /** null: until lifted. */
  expiresAt: number | null;
}

export type NewDecision = Omit<Decision, 'id' | 'createdAt'>;

/** What changed after a version: see DecisionRepository.changedSince. */
export interface DecisionChanges {
  /** Pass this to the next changedSince. */
  version: number;
  /** Decisions added since (some may have expired meanwhile), ordered by when they changed. */
  added: Decision[];
  /** Ids of decisions lifted since. */
  removed: number[];
}

/**
 * Decisions, shared by every process that opens the store: the CLI adds and lifts them, a
 * running instance follows along with changedSince (one indexed query every poll). Lifting
 * keeps the row as a tombstone until the decision would have expired, so a follower always
 * sees the lift; expired rows are inert everywhere and deleteExpired drops them.
 */
export interface DecisionRepository {
  /** Stores a decision; createdAt comes from the clock. */
  add(input: NewDecision): Promise<Decision>;
  /** Lifts one active decision; false when there is no active decision with that id. */
  remove(id: number): Promise<boolean>;
  /** Lifts every active decision whose value is exactly `value`; returns how many. */
  removeByValue(value: string): Promise<number>;
  /** Active decisions (not lifted, not expired at now), ordered by id. */
  list(): Promise<Decision[]>;
  /** Grows with every add and lift; read it before list() to follow changes from there. */
  version(): Promise<number>;
  /**
   * Decisions added and lifted after `version`, at most `limit` (default 10000) of them; when
   * there were more, the returned version is where the next call continues.
   */
  changedSince(version: number, limit?: number): Promise<DecisionChanges>;
  /** Removes expired decisions (and tombstones of expired ones); returns how many. */
  deleteExpired(): Promise<number>;
}

/** One opened store. */
export interface Store {
  users: UserRepository;
  groups: GroupRepository;
  clients: ClientRepository;
  artifacts: ArtifactRepository;
  keys: SigningKeyRepository;
  audit: AuditLog;
  decisions: DecisionRepository;
  close(): Promise<void>;
}
