/** Private signing keys (JWKs). Never logged: errors carry driver messages, not rows. */
import type { Selectable } from 'kysely';
import { decodeJson, encodeJson } from '../codec.ts';
import type { SigningKeysTable } from '../schema.ts';
import type { SigningKey, SigningKeyRepository } from '../types.ts';
import { guardRepository, type SqlContext } from './sql-context.ts';

const keyConflicts = { 'signing_keys.kid': 'signing key already exists' };

function keyFromRow(row: Selectable<SigningKeysTable>): SigningKey {
  return {
    kid: row.kid,
    alg: row.alg,
    privateJwk: decodeJson(row.private_jwk),
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
  };
}

/** The SigningKeyRepository over SQL. */
export function createSigningKeyRepository({ db, clock, errors }: SqlContext): SigningKeyRepository {
  const repository: SigningKeyRepository = {
    async list(): Promise<SigningKey[]> {
      // kid breaks ties so that two keys made in the same millisecond list in a stable order.
      const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
      return rows.map(keyFromRow);
    },

    async add(key: SigningKey): Promise<void> {
      await db
        .insertInto('signing_keys')
        .values({
          kid: key.kid,
          alg: key.alg,
          private_jwk: encodeJson(key.privateJwk),
          created_at: key.createdAt,
          retired_at: key.retiredAt,
        })
        .execute();
    },

    async retire(kid: string): Promise<void> {
      await db.updateTable('signing_keys').set({ retired_at: clock.now() }).where('kid', '=', kid).where('retired_at', 'is', null).execute();
    },

    async delete(kid: string): Promise<boolean> {
      const result = await db.deleteFrom('signing_keys').where('kid', '=', kid).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
  return guardRepository(repository, errors, keyConflicts);
}
