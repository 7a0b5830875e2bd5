/** Groups and memberships; a membership row goes away with its group or its user (FK cascade). */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { GroupsTable } from '../schema.ts';
import type { Group, GroupRepository, User } from '../types.ts';
import { compileOnce, guardRepository, type SqlContext } from './sql-context.ts';
import { userFromRow } from './users.ts';

const groupConflicts = {
  'groups.name': 'group already exists',
  'groups.id': 'group already exists',
};

function groupFromRow(row: Selectable<GroupsTable>): Group {
  return { id: row.id, name: row.name, description: row.description, createdAt: Number(row.created_at) };
}

/** The GroupRepository over SQL. */
export function createGroupRepository({ db, clock, errors }: SqlContext): GroupRepository {
  // Read for every token's claims: compiled once (sql-context.ts).
  const selectGroupsOf = compileOnce<{ userId: string }, { name: string }>(db, (p) =>
    db
      .selectFrom('group_members')
      .innerJoin('groups', 'groups.id', 'group_members.group_id')
      .select('groups.name')
      .where('group_members.user_id', '=', p('userId'))
      .orderBy('groups.name'),
  );
  const repository: GroupRepository = {
    async create(name: string, description: string | null = null): Promise<Group> {
      const row = { id: randomUUID(), name, description, created_at: clock.now() };
      await db.insertInto('groups').values(row).execute();
      return groupFromRow(row);
    },

    async byName(name: string): Promise<Group | null> {
      const row = await db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? groupFromRow(row) : null;
    },

    async list(): Promise<Group[]> {
      const rows = await db.selectFrom('groups').selectAll().orderBy('name').execute();
      return rows.map(groupFromRow);
    },

    async delete(name: string): Promise<boolean> {
      const result = await db.deleteFrom('groups').where('name', '=', name).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async addMember(groupName: string, userId: string): Promise<void> {
      // One statement inserts only when both exist; nothing inserted means a member already
      // or a missing side, which the slow path below tells apart.
      const result = await db
        .insertInto('group_members')
        .columns(['group_id', 'user_id'])
        .expression((eb) =>
          eb
            .selectFrom(['groups', 'users'])
            .select(['groups.id as group_id', 'users.id as user_id'])
            .where('groups.name', '=', groupName)
            .where('users.id', '=', userId),
        )
        .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) > 0) return;
      const group = await db.selectFrom('groups').select('id').where('name', '=', groupName).executeTakeFirst();
      if (!group) throw new PortcullisError(ErrorCodes.ERR_STORE_NOT_FOUND, `no such group: ${groupName}`);
      const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
      if (!user) throw new PortcullisError(ErrorCodes.ERR_STORE_NOT_FOUND, `no such user: ${userId}`);
    },

    async removeMember(groupName: string, userId: string): Promise<boolean> {
      const result = await db
        .deleteFrom('group_members')
        .where('user_id', '=', userId)
        .where('group_id', 'in', (eb) => eb.selectFrom('groups').select('id').where('name', '=', groupName))
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async groupsOf(userId: string): Promise<string[]> {
      const { rows } = await selectGroupsOf({ userId });
      return rows.map((row) => row.name);
    },

    async membersOf(groupName: string): Promise<User[]> {
      const rows = await db
        .selectFrom('group_members')
        .innerJoin('groups', 'groups.id', 'group_members.group_id')
        .innerJoin('users', 'users.id', 'group_members.user_id')
        .selectAll('users')
        .where('groups.name', '=', groupName)
        .orderBy('users.username_lc')
        .orderBy('users.username')
        .execute();
      return rows.map(userFromRow);
    },
  };
  return guardRepository(repository, errors, groupConflicts);
}
