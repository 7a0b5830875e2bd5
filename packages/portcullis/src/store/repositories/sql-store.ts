/** A Store made of the SQL repositories, for any dialect Kysely speaks. */
import type { Store } from '../types.ts';
import { createArtifactRepository } from './artifacts.ts';
import { createAuditLog } from './audit-log.ts';
import { createClientRepository } from './clients.ts';
import { createDecisionRepository } from './decisions.ts';
import { createGroupRepository } from './groups.ts';
import { createSigningKeyRepository } from './signing-keys.ts';
import type { SqlContext } from './sql-context.ts';
import { createUserRepository } from './users.ts';

/** Every repository over `context`; `close` ends the database connection(s). */
export function createSqlStore(context: SqlContext, close: () => Promise<void>): Store {
  return {
    users: createUserRepository(context),
    groups: createGroupRepository(context),
    clients: createClientRepository(context),
    artifacts: createArtifactRepository(context),
    keys: createSigningKeyRepository(context),
    audit: createAuditLog(context),
    decisions: createDecisionRepository(context),
    close,
  };
}
