/** OIDC clients registered through the CLI. */
import type { Selectable } from 'kysely';
import { boolToInt, decodeJson, encodeJson, intToBool } from '../codec.ts';
import type { ClientsTable } from '../schema.ts';
import type { ClientRepository, StoredClient } from '../types.ts';
import { guardRepository, type SqlContext } from './sql-context.ts';

const clientConflicts = { 'clients.client_id': 'client already exists' };

function clientFromRow(row: Selectable<ClientsTable>): StoredClient {
  return {
    clientId: row.client_id,
    secretHash: row.secret_hash,
    metadata: decodeJson(row.metadata),
    firstParty: intToBool(row.first_party),
    createdAt: Number(row.created_at),
  };
}

/** The ClientRepository over SQL. */
export function createClientRepository({ db, clock, errors }: SqlContext): ClientRepository {
  const repository: ClientRepository = {
    async create(client: Omit<StoredClient, 'createdAt'>): Promise<StoredClient> {
      const row: Selectable<ClientsTable> = {
        client_id: client.clientId,
        secret_hash: client.secretHash,
        metadata: encodeJson(client.metadata),
        first_party: boolToInt(client.firstParty),
        created_at: clock.now(),
      };
      await db.insertInto('clients').values(row).execute();
      return clientFromRow(row);
    },

    async byId(clientId: string): Promise<StoredClient | null> {
      const row = await db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
      return row ? clientFromRow(row) : null;
    },

    async list(): Promise<StoredClient[]> {
      const rows = await db.selectFrom('clients').selectAll().orderBy('client_id').execute();
      return rows.map(clientFromRow);
    },

    async delete(clientId: string): Promise<boolean> {
      const result = await db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
  return guardRepository(repository, errors, clientConflicts);
}
