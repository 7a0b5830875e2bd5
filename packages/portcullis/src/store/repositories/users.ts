/** Users: unique usernames and emails compared through `foldLogin`. */
import { randomUUID } from 'node:crypto';
import type { Selectable, Updateable } from 'kysely';
import { boolToInt, decodeJson, encodeJson, foldLogin, intToBool, toCount } from '../codec.ts';
import type { UsersTable } from '../schema.ts';
import type { NewUser, User, UserPatch, UserRepository } from '../types.ts';
import { compileOnce, guardRepository, type SqlContext } from './sql-context.ts';

const userConflicts = {
  'users.username_lc': 'username already taken',
  'users.email_lc': 'email already taken',
  'users.id': 'user already exists',
};

/** A user from its row. */
export function userFromRow(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: intToBool(row.email_verified),
    displayName: row.display_name,
    passwordHash: row.password_hash,
    disabled: intToBool(row.disabled),
    attributes: decodeJson(row.attributes),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    sessionsValidFrom: Number(row.sessions_valid_from),
  };
}

/** The UserRepository over SQL. */
export function createUserRepository({ db, clock, errors }: SqlContext): UserRepository {
  // On the path of every sign-in and token grant: compiled once (sql-context.ts).
  const selectById = compileOnce<{ id: string }, Selectable<UsersTable>>(db, (p) => db.selectFrom('users').selectAll().where('id', '=', p('id')));
  // One query; when one user's username and another's email both equal the login, the
  // username wins (an email cannot shadow an account name).
  const selectByLogin = compileOnce<{ key: string }, Selectable<UsersTable>>(db, (p) =>
    db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb.or([eb('email_lc', '=', p('key')), eb('username_lc', '=', p('key'))]))
      .orderBy((eb) => eb.case().when('username_lc', '=', p('key')).then(0).else(1).end())
      .limit(1),
  );
  const repository: UserRepository = {
    async create(input: NewUser): Promise<User> {
      const now = clock.now();
      const row: Selectable<UsersTable> = {
        id: randomUUID(),
        username: input.username,
        username_lc: foldLogin(input.username),
        email: input.email ?? null,
        email_lc: input.email == null ? null : foldLogin(input.email),
        email_verified: boolToInt(input.emailVerified ?? false),
        display_name: input.displayName ?? null,
        password_hash: input.passwordHash ?? null,
        disabled: boolToInt(input.disabled ?? false),
        attributes: encodeJson(input.attributes ?? {}),
        created_at: now,
        updated_at: now,
        sessions_valid_from: 0,
      };
      await db.insertInto('users').values(row).execute();
      return userFromRow(row);
    },

    async byId(id: string): Promise<User | null> {
      const row = (await selectById({ id })).rows[0];
      return row ? userFromRow(row) : null;
    },

    async byLogin(login: string): Promise<User | null> {
      const row = (await selectByLogin({ key: foldLogin(login) })).rows[0];
      return row ? userFromRow(row) : null;
    },

    async list(): Promise<User[]> {
      const rows = await db.selectFrom('users').selectAll().orderBy('username_lc').orderBy('username').execute();
      return rows.map(userFromRow);
    },

    async update(id: string, patch: UserPatch): Promise<User | null> {
      const row = await db
        .updateTable('users')
        .set(patchToRow(patch, clock.now()))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row ? userFromRow(row) : null;
    },

    async delete(id: string): Promise<boolean> {
      // Memberships go with the user: group_members.user_id is ON DELETE CASCADE.
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async count(): Promise<number> {
      const row = await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return toCount(row.n);
    },
  };
  return guardRepository(repository, errors, userConflicts);
}

/** Only the fields the patch names (an `undefined` value counts as not named). */
function patchToRow(patch: UserPatch, now: number): Updateable<UsersTable> {
  const row: Updateable<UsersTable> = { updated_at: now };
  if (patch.email !== undefined) {
    row.email = patch.email;
    row.email_lc = patch.email === null ? null : foldLogin(patch.email);
  }
  if (patch.emailVerified !== undefined) row.email_verified = boolToInt(patch.emailVerified);
  if (patch.displayName !== undefined) row.display_name = patch.displayName;
  if (patch.passwordHash !== undefined) row.password_hash = patch.passwordHash;
  if (patch.disabled !== undefined) row.disabled = boolToInt(patch.disabled);
  if (patch.attributes !== undefined) row.attributes = encodeJson(patch.attributes);
  if (patch.sessionsValidFrom !== undefined) row.sessions_valid_from = patch.sessionsValidFrom;
  return row;
}
