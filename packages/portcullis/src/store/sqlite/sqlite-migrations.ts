/** The SQLite spelling of the shared migrations, and how SQLite runs them: in one transaction. */
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { migrateToLatest, type MigrationDialect } from '../migrations.ts';

/** SQLite's answers to what dialects spell differently. */
export const sqliteMigrationDialect: MigrationDialect = {
  // AUTOINCREMENT: without it SQLite may hand out the id of a deleted highest row again.
  addSerialPrimaryKey: (table, column) => table.addColumn(column, 'integer', (c) => c.primaryKey().autoIncrement()),

  async makeAppendOnly(db, table) {
    const refuse = sql.lit(`${table} is append-only`);
    await sql`CREATE TRIGGER ${sql.id(`${table}_no_update`)} BEFORE UPDATE ON ${sql.table(table)}
      BEGIN SELECT RAISE(ABORT, ${refuse}); END`.execute(db);
    await sql`CREATE TRIGGER ${sql.id(`${table}_no_delete`)} BEFORE DELETE ON ${sql.table(table)}
      BEGIN SELECT RAISE(ABORT, ${refuse}); END`.execute(db);
    // INSERT OR REPLACE deletes the clashing row without firing DELETE triggers (unless
    // recursive_triggers is on), so an insert that names an existing id is refused up front.
    await sql`CREATE TRIGGER ${sql.id(`${table}_no_replace`)} BEFORE INSERT ON ${sql.table(table)}
      WHEN EXISTS (SELECT 1 FROM ${sql.table(table)} WHERE id = NEW.id)
      BEGIN SELECT RAISE(ABORT, ${refuse}); END`.execute(db);
  },
};

/**
 * Runs the pending migrations all-or-nothing. SQLite's DDL is transactional although Kysely's
 * SQLite adapter does not claim it, so the whole run goes in one BEGIN IMMEDIATE: a failure
 * leaves the schema as it was, and a second process opening the same file waits for the write
 * lock (busy_timeout) instead of migrating at the same time.
 */
export async function migrateSqlite(db: Kysely<any>, migrations: Record<string, Migration>): Promise<void> {
  await sql`BEGIN IMMEDIATE`.execute(db);
  try {
    await migrateToLatest(db, migrations);
  } catch (error) {
    // Some failures (SQLITE_FULL, ...) roll back on their own; then ROLLBACK fails and must
    // not hide the error that matters.
    await sql`ROLLBACK`.execute(db).catch(() => undefined);
    throw error;
  }
  await sql`COMMIT`.execute(db);
}
