import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, sql } from 'kysely';
import { ManualClock } from '../../kernel/clock.ts';
import { ErrorCodes } from '../../kernel/errors.ts';
import { runStoreContract } from '../contract.ts';
import { nodeSqliteDialect } from './node-sqlite-dialect.ts';
import { migrateSqlite } from './sqlite-migrations.ts';
import { openSqliteStore } from './sqlite-store.ts';

const base = mkdtempSync(join(tmpdir(), 'portcullis-store-'));
after(() => rmSync(base, { recursive: true, force: true }));
let files = 0;
/** A path in a directory of its own, not yet created. */
const freshPath = () => join(base, `d${++files}`, 'store.db');
const mode = (path: string) => statSync(path).mode & 0o777;

runStoreContract('sqlite :memory:', (clock) => openSqliteStore({ path: ':memory:', clock }));
runStoreContract('sqlite file', (clock) => openSqliteStore({ path: freshPath(), clock }));

describe('sqlite store', () => {
  test('the database, its WAL files and its new directory are private (0600 / 0700)', async (t) => {
    const probe = join(base, 'probe');
    writeFileSync(probe, '', { mode: 0o600 });
    chmodSync(probe, 0o640);
    if (mode(probe) !== 0o640) {
      t.skip(`the file system at ${base} ignores permission bits`);
      return;
    }
    const path = freshPath();
    const store = await openSqliteStore({ path, clock: new ManualClock(0) });
    try {
      await store.keys.add({ kid: 'k', alg: 'EdDSA', privateJwk: { d: 'secret' }, createdAt: 0, retiredAt: null });
      assert.equal(mode(join(path, '..')), 0o700);
      assert.equal(mode(path), 0o600);
      // In WAL mode both sidecars exist while a connection is open.
      assert.equal(mode(`${path}-wal`), 0o600);
      assert.equal(mode(`${path}-shm`), 0o600);
    } finally {
      await store.close();
    }
    // Files left wider by something else are narrowed at the next open.
    chmodSync(path, 0o644);
    writeFileSync(`${path}-wal`, '', { mode: 0o644 });
    chmodSync(`${path}-wal`, 0o644);
    const again = await openSqliteStore({ path, clock: new ManualClock(0) });
    try {
      assert.equal(mode(path), 0o600);
      assert.equal(mode(`${path}-wal`), 0o600);
      assert.equal((await again.keys.list())[0]?.kid, 'k');
    } finally {
      await again.close();
    }
  });

  test('regression: audit_log is append-only even to raw SQL (UPDATE, DELETE, INSERT OR REPLACE)', async () => {
    const path = freshPath();
    const store = await openSqliteStore({ path, clock: new ManualClock(1000) });
    const raw = new DatabaseSync(path);
    try {
      await store.audit.append({ type: 'user.created', actor: 'cli', subject: 'u1', ip: null, detail: {} });
      await store.audit.append({ type: 'auth.login_failed', actor: null, subject: null, ip: '192.0.2.9', detail: {} });
      const before = await store.audit.list();
      assert.throws(() => raw.exec("UPDATE audit_log SET type = 'nothing.happened' WHERE id = 1"), /audit_log is append-only/);
      assert.throws(() => raw.exec('DELETE FROM audit_log WHERE id = 2'), /audit_log is append-only/);
      // Without WHERE, SQLite would truncate without visiting rows, unless a trigger exists.
      assert.throws(() => raw.exec('DELETE FROM audit_log'), /audit_log is append-only/);
      assert.throws(
        () => raw.exec(`INSERT OR REPLACE INTO audit_log (id, at, type, detail) VALUES (1, 0, 'forged', '{}')`),
        /audit_log is append-only/,
      );
      assert.throws(
        () => raw.exec(`INSERT INTO audit_log (id, at, type, detail) VALUES (1, 0, 'forged', '{}') ON CONFLICT (id) DO UPDATE SET type = 'forged'`),
        /audit_log is append-only/,
      );
      assert.deepEqual(await store.audit.list(), before);
    } finally {
      raw.close();
      await store.close();
    }
  });

  test('reopening a file keeps the data; migrations already run are not run again', async () => {
    const path = freshPath();
    const first = await openSqliteStore({ path, clock: new ManualClock(1000) });
    const alice = await first.users.create({ username: 'alice', email: 'a@example.org' });
    await first.groups.create('ops');
    await first.groups.addMember('ops', alice.id);
    await first.artifacts.upsert('Grant', 'g1', { accountId: alice.id }, null, null);
    await first.close();
    const migrations = () => {
      const raw = new DatabaseSync(path, { readOnly: true });
      try {
        return raw.prepare('SELECT name, timestamp FROM kysely_migration ORDER BY name').all();
      } finally {
        raw.close();
      }
    };
    const recorded = migrations();
    assert.deepEqual(recorded.map((row) => row.name), ['0001_identity', '0002_oidc', '0003_audit', '0004_decisions', '0005_sessions_valid_from']);
    for (let i = 0; i < 2; i++) {
      const again = await openSqliteStore({ path, clock: new ManualClock(2000) });
      try {
        assert.deepEqual(await again.users.byLogin('ALICE'), alice);
        assert.deepEqual(await again.groups.groupsOf(alice.id), ['ops']);
        assert.deepEqual(await again.artifacts.find('Grant', 'g1'), { accountId: alice.id });
      } finally {
        await again.close();
      }
    }
    assert.deepEqual(migrations(), recorded);
  });

  test('two connections to one file: decisions one adds, the other follows', async () => {
    const path = freshPath();
    const clock = new ManualClock(1000);
    const server = await openSqliteStore({ path, clock });
    const cli = await openSqliteStore({ path, clock });
    try {
      const start = await server.decisions.version();
      const value = (i: number) => `192.0.2.${i}`;
      // One after the other: in one process, two connections interleaving transactions would
      // wait on each other's lock with the event loop blocked (main.ts shares one connection).
      for (let i = 0; i < 10; i++) await (i % 2 === 0 ? server : cli).decisions.add({ kind: 'ban', scope: 'ip', value: value(i), reason: '', origin: 'cli', expiresAt: null });
      await cli.decisions.removeByValue(value(3));
      const changes = await server.decisions.changedSince(start);
      assert.deepEqual(changes.added.map((d) => d.value).sort(), [0, 1, 2, 4, 5, 6, 7, 8, 9].map(value).sort());
      assert.equal(changes.removed.length, 1);
      assert.equal(changes.version, await cli.decisions.version());
      assert.equal(changes.version, start + 11);
    } finally {
      await cli.close();
      await server.close();
    }
  });

  test('a file that is not SQLite gives ERR_STORE naming the path, and is left untouched', async () => {
    const path = freshPath();
    mkdirSync(join(path, '..'), { recursive: true });
    const junk = 'this is not a database\n'.repeat(200);
    writeFileSync(path, junk);
    await assert.rejects(openSqliteStore({ path, clock: new ManualClock(0) }), (error: Error & { code?: string }) => {
      assert.equal(error.code, ErrorCodes.ERR_STORE);
      assert.ok(error.message.includes(path), error.message);
      assert.match(error.message, /not a database/);
      return true;
    });
    assert.equal(readFileSync(path, 'utf8'), junk);
  });

  test('a directory in place of the file gives ERR_STORE naming the path', async () => {
    const path = freshPath();
    mkdirSync(path, { recursive: true });
    await assert.rejects(openSqliteStore({ path, clock: new ManualClock(0) }), (error: Error & { code?: string }) => {
      assert.equal(error.code, ErrorCodes.ERR_STORE);
      assert.ok(error.message.includes(path), error.message);
      return true;
    });
  });

  test('a database migrated by a newer version is refused with ERR_STORE_MIGRATION', async () => {
    const path = freshPath();
    await (await openSqliteStore({ path, clock: new ManualClock(0) })).close();
    const raw = new DatabaseSync(path);
    raw.exec(`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_future', '2999-01-01T00:00:00.000Z')`);
    raw.close();
    await assert.rejects(openSqliteStore({ path, clock: new ManualClock(0) }), {
      code: ErrorCodes.ERR_STORE_MIGRATION,
      message: /9999_future/,
    });
  });

  test('a failing migration names itself and rolls back the whole run', async () => {
    const raw = new DatabaseSync(':memory:');
    const db = new Kysely<any>({ dialect: nodeSqliteDialect(raw) });
    try {
      const migrations = {
        '0001_ok': { up: (k: Kysely<any>) => k.schema.createTable('first').addColumn('x', 'integer').execute() },
        '0002_broken': { up: async (k: Kysely<any>) => void (await sql`CREATE TABLE first (y integer)`.execute(k)) },
      };
      await assert.rejects(migrateSqlite(db, migrations), { code: ErrorCodes.ERR_STORE_MIGRATION, message: /migration 0002_broken failed: .*already exists/ });
      const tables = raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all().map((row) => row.name);
      assert.deepEqual(tables, []);
      // The connection is usable again: nothing was left half-open.
      await migrateSqlite(db, { '0001_ok': migrations['0001_ok'] });
      assert.deepEqual(raw.prepare(`SELECT name FROM kysely_migration`).all().map((row) => row.name), ['0001_ok']);
    } finally {
      await db.destroy();
    }
  });
});
