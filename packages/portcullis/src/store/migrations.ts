/**
 * The schema, as numbered migrations written with Kysely's schema builder so every SQL store
 * shares them. The few things SQL dialects spell differently (an auto-increment key, a table
 * that refuses UPDATE and DELETE) come from a `MigrationDialect`. Migrations are never edited
 * once released: a change is a new, higher-numbered migration.
 */
import type { CreateTableBuilder, Kysely } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';

/** What one SQL dialect spells its own way. */
export interface MigrationDialect {
  /** Adds `column` as an integer primary key that only ever increases and is never reused. */
  addSerialPrimaryKey<T extends string>(table: CreateTableBuilder<T, never>, column: string): CreateTableBuilder<T, string>;
  /** Makes the database itself refuse every UPDATE and DELETE of `table`'s rows. */
  makeAppendOnly(db: Kysely<any>, table: string): Promise<void>;
}

// Times are 'bigint' (milliseconds outgrow PostgreSQL's 32-bit integer; SQLite reads any
// *INT* type as its 64-bit INTEGER), booleans 'integer' 0/1, JSON 'text'.

async function identity(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('username_lc', 'text', (c) => c.notNull().unique())
    .addColumn('email', 'text')
    .addColumn('email_lc', 'text', (c) => c.unique())
    .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('display_name', 'text')
    .addColumn('password_hash', 'text')
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('group_members')
    .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
    .execute();
  // The primary key serves lookups by group; this one serves groupsOf and the user cascade.
  await db.schema.createIndex('group_members_user_id').on('group_members').column('user_id').execute();
}

async function oidc(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('clients')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('secret_hash', 'text')
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('first_party', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('oidc_artifacts')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('grant_id', 'text')
    .addColumn('uid', 'text')
    .addColumn('user_code', 'text')
    .addColumn('expires_at', 'bigint')
    .addColumn('consumed_at', 'bigint')
    .addPrimaryKeyConstraint('oidc_artifacts_pk', ['model', 'id'])
    .execute();
  await db.schema.createIndex('oidc_artifacts_grant_id').on('oidc_artifacts').column('grant_id').execute();
  await db.schema.createIndex('oidc_artifacts_uid').on('oidc_artifacts').columns(['model', 'uid']).execute();
  await db.schema.createIndex('oidc_artifacts_user_code').on('oidc_artifacts').columns(['model', 'user_code']).execute();
  await db.schema.createIndex('oidc_artifacts_expires_at').on('oidc_artifacts').column('expires_at').execute();
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .execute();
}

async function audit(db: Kysely<any>, dialect: MigrationDialect): Promise<void> {
  const table = dialect
    .addSerialPrimaryKey(db.schema.createTable('audit_log'), 'id')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('subject', 'text')
    .addColumn('ip', 'text')
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'));
  await table.execute();
  await db.schema.createIndex('audit_log_type').on('audit_log').columns(['type', 'id']).execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
  await dialect.makeAppendOnly(db, 'audit_log');
}

async function decisions(db: Kysely<any>, dialect: MigrationDialect): Promise<void> {
  await dialect
    .addSerialPrimaryKey(db.schema.createTable('decisions'), 'id')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('removed_at', 'bigint')
    .addColumn('seq', 'bigint', (c) => c.notNull().unique())
    .execute();
  await db.schema.createIndex('decisions_value').on('decisions').column('value').execute();
  await db.schema.createIndex('decisions_expires_at').on('decisions').column('expires_at').execute();
  await db.schema
    .createTable('decision_state')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('decision_state').values({ id: 1, seq: 0 }).execute();
}

/**
 * When a user's sessions start counting: sign-ins before it no longer hold (a password change
 * moves it, so a stolen session cookie or refresh token stops working).
 */
async function sessionsValidFrom(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('sessions_valid_from', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}

/** Every migration, by name; names sort in the order they run. */
export function storeMigrations(dialect: MigrationDialect): Record<string, Migration> {
  return {
    '0001_identity': { up: identity },
    '0002_oidc': { up: oidc },
    '0003_audit': { up: (db) => audit(db, dialect) },
    '0004_decisions': { up: (db) => decisions(db, dialect) },
    '0005_sessions_valid_from': { up: sessionsValidFrom },
  };
}

/**
 * Runs the migrations `db` has not run yet, in name order. Kysely's Migrator records them in
 * its `kysely_migration` table, so a second run is a no-op, and it refuses a database that
 * recorded a migration this build does not know (one written by a newer Portcullis).
 * Throws ERR_STORE_MIGRATION naming the migration that failed. Transactions are the caller's:
 * Kysely wraps the run in one where the dialect says DDL is transactional.
 */
export async function migrateToLatest(db: Kysely<any>, migrations: Record<string, Migration>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error');
  const what = failed ? `migration ${failed.migrationName}` : 'migrations';
  const detail = error instanceof Error ? error.message : String(error);
  throw new PortcullisError(ErrorCodes.ERR_STORE_MIGRATION, `store: ${what} failed: ${detail}`, { cause: error });
}
