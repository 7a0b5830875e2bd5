/**
 * The tables as Kysely sees them, shared by every SQL store. Portable encodings only, so the
 * same repository code runs on SQLite and PostgreSQL: times are integer milliseconds,
 * booleans are integers 0/1 and JSON is text (see `codec.ts`).
 */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: string;
  username: string;
  /** `foldLogin(username)`; the unique key. */
  username_lc: string;
  email: string | null;
  /** `foldLogin(email)`; unique when not null. */
  email_lc: string | null;
  email_verified: number;
  display_name: string | null;
  password_hash: string | null;
  disabled: number;
  /** JSON object. */
  attributes: string;
  created_at: number;
  updated_at: number;
  /** Milliseconds; sessions and tokens from sign-ins before it are void (0: none). */
  sessions_valid_from: number;
}

export interface GroupsTable {
  id: string;
  name: string;
  description: string | null;
  created_at: number;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
}

export interface ClientsTable {
  client_id: string;
  secret_hash: string | null;
  /** JSON object. */
  metadata: string;
  first_party: number;
  created_at: number;
}

export interface OidcArtifactsTable {
  model: string;
  id: string;
  /** JSON object, as oidc-provider gave it (without `consumed`, which comes from consumed_at). */
  payload: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  /** null: never expires. */
  expires_at: number | null;
  consumed_at: number | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  /** JSON object (the private JWK). */
  private_jwk: string;
  created_at: number;
  retired_at: number | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  type: string;
  actor: string | null;
  subject: string | null;
  ip: string | null;
  /** JSON object. */
  detail: string;
}

export interface DecisionsTable {
  id: Generated<number>;
  kind: string;
  scope: string;
  value: string;
  reason: string;
  origin: string;
  created_at: number;
  /** null: until lifted. */
  expires_at: number | null;
  /** When it was lifted (a tombstone); null while active. */
  removed_at: number | null;
  /** decision_state.seq when it was added or lifted; unique, so followers can page by it. */
  seq: number;
}

/** One row (id 1): the change counter every add and lift of a decision increments. */
export interface DecisionStateTable {
  id: number;
  seq: number;
}

export interface Database {
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  clients: ClientsTable;
  oidc_artifacts: OidcArtifactsTable;
  signing_keys: SigningKeysTable;
  audit_log: AuditLogTable;
  decisions: DecisionsTable;
  decision_state: DecisionStateTable;
}
