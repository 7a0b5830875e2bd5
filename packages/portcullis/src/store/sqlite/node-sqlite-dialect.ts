/**
 * Kysely's SqliteDialect on Node's built-in `node:sqlite` instead of better-sqlite3: the
 * dialect needs only `prepare` and `close`, and a statement that says whether it returns rows.
 * The one difference is the calling convention: Kysely passes parameters as an array,
 * StatementSync takes them spread.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { SqliteDialect, type SqliteDatabase } from 'kysely';

/**
 * Prepared statements kept per SQL text. Kysely prepares on every query, and the store runs a
 * small fixed set of query shapes, so reuse makes a primary-key lookup about a third cheaper.
 * The bound only guards against a caller that builds unbounded shapes (a growing IN list).
 */
const MAX_CACHED_STATEMENTS = 256;

/** `database` as the SqliteDatabase Kysely's SQLite driver expects. Closing twice is harmless. */
export function nodeSqliteDatabase(database: DatabaseSync): SqliteDatabase {
  const statements = new Map<string, ReturnType<SqliteDatabase['prepare']>>();
  const args = (parameters: ReadonlyArray<unknown>) => parameters as SQLInputValue[];
  const wrap = (sql: string, prepared: StatementSync): ReturnType<SqliteDatabase['prepare']> => ({
    // A statement with result columns (SELECT, PRAGMA, ... RETURNING) is read with all().
    // Asked once per statement: columns() builds a fresh array of objects on every call.
    reader: prepared.columns().length > 0,
    all: (parameters) => prepared.all(...args(parameters)),
    run: (parameters) => prepared.run(...args(parameters)),
    // A fresh statement: a shared one would be reset under a still-open iterator.
    iterate: (parameters) => database.prepare(sql).iterate(...args(parameters)),
  });
  return {
    close: () => {
      statements.clear();
      if (database.isOpen) database.close();
    },
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
        statement = wrap(sql, database.prepare(sql));
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/** A Kysely dialect over an open node:sqlite database. */
export function nodeSqliteDialect(database: DatabaseSync): SqliteDialect {
  return new SqliteDialect({ database: nodeSqliteDatabase(database) });
}
