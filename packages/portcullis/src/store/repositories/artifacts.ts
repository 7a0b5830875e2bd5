/**
 * oidc-provider's artifacts. This is on the path of every token grant, so each method is one
 * statement. Consumption lives in its own column (set without rewriting the payload, which
 * has no portable SQL) and is merged back into the payload on read as `consumed`, in epoch
 * seconds, where oidc-provider looks for it.
 */
import type { ExpressionBuilder } from 'kysely';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { decodeJson, encodeJson } from '../codec.ts';
import type { Database } from '../schema.ts';
import type { ArtifactRepository } from '../types.ts';
import { compileOnce, guardRepository, type SqlContext } from './sql-context.ts';

type Payload = Record<string, unknown>;

/** A payload field used as an index key, when it is a string. */
function key(payload: Payload, field: string): string | null {
  const value = payload[field];
  return typeof value === 'string' ? value : null;
}

function withConsumed(row: { payload: string; consumed_at: number | null }): Payload {
  const payload = decodeJson(row.payload);
  if (row.consumed_at !== null) payload.consumed = Math.floor(Number(row.consumed_at) / 1000);
  return payload;
}

/** The ArtifactRepository over SQL. */
export function createArtifactRepository({ db, clock, errors }: SqlContext): ArtifactRepository {
  // `expires_at <= now` is gone: the same boundary as deleteExpired.
  const live = (eb: ExpressionBuilder<Database, 'oidc_artifacts'>, now: number) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]);

  // Every sign-in runs some forty of these: compiled once (sql-context.ts).
  const selectBy = (column: 'id' | 'uid' | 'user_code') =>
    compileOnce<{ model: string; value: string; now: number }, { payload: string; consumed_at: number | null }>(db, (p) =>
      db
        .selectFrom('oidc_artifacts')
        .select(['payload', 'consumed_at'])
        .where('model', '=', p('model'))
        .where(column, '=', p('value'))
        .where((eb) => live(eb, p('now')))
        .limit(1),
    );
  const selects = { id: selectBy('id'), uid: selectBy('uid'), user_code: selectBy('user_code') };
  type Row = { model: string; id: string; payload: string; grant_id: string | null; uid: string | null; user_code: string | null; expires_at: number | null };
  const upsertRow = compileOnce<Row, never>(db, (p) =>
    db
      .insertInto('oidc_artifacts')
      .values({
        model: p('model'),
        id: p('id'),
        payload: p('payload'),
        grant_id: p('grant_id'),
        uid: p('uid'),
        user_code: p('user_code'),
        expires_at: p('expires_at'),
        // A replaced artifact is a new one; a payload that carries `consumed` keeps it itself.
        consumed_at: null,
      })
      .onConflict((oc) =>
        oc.columns(['model', 'id']).doUpdateSet((eb) => ({
          payload: eb.ref('excluded.payload'),
          grant_id: eb.ref('excluded.grant_id'),
          uid: eb.ref('excluded.uid'),
          user_code: eb.ref('excluded.user_code'),
          expires_at: eb.ref('excluded.expires_at'),
          consumed_at: eb.ref('excluded.consumed_at'),
        })),
      ),
  );
  const consumeRow = compileOnce<{ model: string; id: string; now: number }, never>(db, (p) =>
    db
      .updateTable('oidc_artifacts')
      .set({ consumed_at: p('now') })
      .where('model', '=', p('model'))
      .where('id', '=', p('id'))
      .where('consumed_at', 'is', null)
      .where((eb) => live(eb, p('now'))),
  );
  const destroyRow = compileOnce<{ model: string; id: string }, never>(db, (p) =>
    db.deleteFrom('oidc_artifacts').where('model', '=', p('model')).where('id', '=', p('id')),
  );

  const findBy = async (model: string, column: 'id' | 'uid' | 'user_code', value: string): Promise<Payload | null> => {
    const { rows } = await selects[column]({ model, value, now: clock.now() });
    const row = rows[0];
    return row ? withConsumed(row) : null;
  };

  const repository: ArtifactRepository = {
    async upsert(model: string, id: string, payload: Payload, expiresAt: number | null, grantId: string | null): Promise<void> {
      // NaN would be stored as NULL, "never expires": refuse it instead.
      if (expiresAt !== null && !Number.isFinite(expiresAt)) {
        throw new PortcullisError(ErrorCodes.ERR_STORE, `store: artifact expiry must be a finite time, got ${String(expiresAt)}`);
      }
      await upsertRow({
        model,
        id,
        payload: encodeJson(payload),
        grant_id: grantId,
        uid: key(payload, 'uid'),
        user_code: key(payload, 'userCode'),
        expires_at: expiresAt === null ? null : Math.floor(expiresAt),
      });
    },

    find: (model, id) => findBy(model, 'id', id),
    findByUid: (model, uid) => findBy(model, 'uid', uid),
    findByUserCode: (model, userCode) => findBy(model, 'user_code', userCode),

    async consume(model: string, id: string): Promise<boolean> {
      const result = await consumeRow({ model, id, now: clock.now() });
      return Number(result.numAffectedRows) === 1;
    },

    async destroy(model: string, id: string): Promise<void> {
      await destroyRow({ model, id });
    },

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.deleteFrom('oidc_artifacts').where('grant_id', '=', grantId).execute();
    },

    async deleteExpired(): Promise<number> {
      const result = await db.deleteFrom('oidc_artifacts').where('expires_at', '<=', clock.now()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
  return guardRepository(repository, errors);
}
