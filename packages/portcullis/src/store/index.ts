/** The store module's facade: the repository interfaces and the SQLite store. */
export type {
  AuditEvent,
  AuditLog,
  ClientRepository,
  Decision,
  DecisionChanges,
  DecisionKind,
  DecisionRepository,
  DecisionScope,
  NewDecision,
  Group,
  GroupRepository,
  NewUser,
  SigningKey,
  SigningKeyRepository,
  Store,
  StoredClient,
  User,
  UserPatch,
  UserRepository,
  ArtifactRepository,
} from './types.ts';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';
export { foldLogin } from './codec.ts';
