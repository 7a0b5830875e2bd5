/**
 * The embedded store: one SQLite file through node:sqlite and Kysely. The file holds private
 * signing keys and password hashes, so it and its WAL files are 0600 in a 0700 directory.
 */
import { chmod, mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely } from 'kysely';
import type { Clock } from '../../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { storeMigrations } from '../migrations.ts';
import { createSqlStore } from '../repositories/sql-store.ts';
import type { DriverErrors } from '../repositories/sql-context.ts';
import type { Database } from '../schema.ts';
import type { Store } from '../types.ts';
import { nodeSqliteDialect } from './node-sqlite-dialect.ts';
import { migrateSqlite, sqliteMigrationDialect } from './sqlite-migrations.ts';

export interface SqliteStoreOptions {
  /** The database file, or `:memory:` (tests). */
  path: string;
  clock: Clock;
}

/** SQLite result codes (https://sqlite.org/rescode.html) of a unique clash. */
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** node:sqlite reports a unique clash as `UNIQUE constraint failed: users.username_lc`. */
export const sqliteErrors: DriverErrors = {
  uniqueViolation(error) {
    const { errcode, message } = error as { errcode?: unknown; message?: unknown };
    if (errcode !== SQLITE_CONSTRAINT_UNIQUE && errcode !== SQLITE_CONSTRAINT_PRIMARYKEY) return null;
    const match = typeof message === 'string' ? /constraint failed: (.+)$/.exec(message) : null;
    return match?.[1] ?? 'unknown';
  },
};

/**
 * Opens (creating if needed) the SQLite store at `options.path` and brings its schema up to
 * date. Throws ERR_STORE when the file cannot be opened or is not a SQLite database, and
 * ERR_STORE_MIGRATION when a migration fails.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const memory = options.path === ':memory:';
  // Absolute, so that a relative name starting with `file:` is a file, not an SQLite URI.
  const path = memory ? options.path : resolve(options.path);
  const database = await openDatabase(path, memory);
  const db = new Kysely<Database>({ dialect: nodeSqliteDialect(database) });
  try {
    await migrateSqlite(db, storeMigrations(sqliteMigrationDialect));
    if (!memory) await chmodSidecars(path);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return createSqlStore({ db, clock: options.clock, errors: sqliteErrors }, () => (closing ??= db.destroy()));
}

async function openDatabase(path: string, memory: boolean): Promise<DatabaseSync> {
  let database: DatabaseSync | undefined;
  try {
    if (!memory) await createPrivateFile(path);
    database = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: 5000 });
    // The first statement reads the header: a file that is not SQLite fails here.
    if (!memory) database.exec('PRAGMA journal_mode = WAL');
    database.exec('PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL');
    // Memberships are removed by ON DELETE CASCADE only: refuse to run without it.
    const row = database.prepare('PRAGMA foreign_keys').get() as { foreign_keys?: unknown } | undefined;
    if (row?.foreign_keys !== 1) throw new Error('foreign keys cannot be enabled');
    return database;
  } catch (error) {
    if (database?.isOpen) database.close();
    const detail = error instanceof Error ? error.message : String(error);
    throw new PortcullisError(ErrorCodes.ERR_STORE, `store: cannot open ${path}: ${detail}`, { cause: error });
  }
}

/** Creates the file 0600 (and its directory 0700) before SQLite does with the umask's mode. */
async function createPrivateFile(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // 'a' creates when absent and never truncates an existing database.
  const handle = await open(path, 'a', 0o600);
  await handle.close();
  await chmod(path, 0o600); // an existing file may have been created wider
}

/** SQLite gives -wal and -shm the database file's mode; this narrows ones left by older runs. */
async function chmodSidecars(path: string): Promise<void> {
  for (const suffix of ['-wal', '-shm']) {
    await chmod(`${path}${suffix}`, 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
