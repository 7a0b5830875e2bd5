/**
 * The guard's decisions. Every add and lift takes the next value of one counter
 * (decision_state.seq) in the same transaction as its row change, so rows commit in counter
 * order (the counter row's write lock is held until commit) and a follower that has seen
 * counter value N has seen every change numbered up to N: `changedSince` is one indexed range
 * scan, whatever the number of decisions.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Database, DecisionsTable } from '../schema.ts';
import type { Decision, DecisionChanges, DecisionKind, DecisionRepository, DecisionScope, NewDecision } from '../types.ts';
import { guardRepository, type SqlContext } from './sql-context.ts';

const KINDS: readonly string[] = ['ban', 'throttle', 'challenge'];
const SCOPES: readonly string[] = ['ip', 'range'];
const DEFAULT_CHANGE_LIMIT = 10_000;

function decisionFromRow(row: Selectable<DecisionsTable>): Decision {
  return {
    id: Number(row.id),
    kind: row.kind as DecisionKind,
    scope: row.scope as DecisionScope,
    value: row.value,
    reason: row.reason,
    origin: row.origin,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  };
}

/** The counter's next value; the caller's transaction holds the write lock until it commits. */
async function nextSeq(trx: Transaction<Database> | Kysely<Database>): Promise<number> {
  const row = await trx
    .updateTable('decision_state')
    .set((eb) => ({ seq: eb('seq', '+', 1) }))
    .where('id', '=', 1)
    .returning('seq')
    .executeTakeFirst();
  if (row === undefined) throw new PortcullisError(ErrorCodes.ERR_STORE, 'store: the decision counter is missing');
  return Number(row.seq);
}

function checkNewDecision(input: NewDecision): void {
  // Refused here rather than stored: NaN would read back as NULL, "never expires".
  if (input.expiresAt !== null && !Number.isFinite(input.expiresAt)) {
    throw new PortcullisError(ErrorCodes.ERR_STORE, `store: decision expiry must be a finite time, got ${String(input.expiresAt)}`);
  }
  if (!KINDS.includes(input.kind)) throw new PortcullisError(ErrorCodes.ERR_STORE, `store: unknown decision kind ${JSON.stringify(input.kind)}`);
  if (!SCOPES.includes(input.scope)) throw new PortcullisError(ErrorCodes.ERR_STORE, `store: unknown decision scope ${JSON.stringify(input.scope)}`);
}

/** The DecisionRepository over SQL. */
export function createDecisionRepository({ db, clock, errors }: SqlContext): DecisionRepository {
  /** Active at `now`: not lifted and not expired (`expires_at <= now` is gone, as for artifacts). */
  const activeRows = (now: number) =>
    db
      .selectFrom('decisions')
      .selectAll()
      .where('removed_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));

  /** Lifts the given active rows, each with its own counter value (so paging by seq never splits one). */
  const lift = (pick: (trx: Transaction<Database>, now: number) => Promise<{ id: number }[]>): Promise<number> =>
    db.transaction().execute(async (trx) => {
      const now = clock.now();
      const rows = await pick(trx, now);
      for (const { id } of rows) {
        const seq = await nextSeq(trx);
        await trx.updateTable('decisions').set({ removed_at: now, seq }).where('id', '=', id).execute();
      }
      return rows.length;
    });

  const liftable = (trx: Transaction<Database>, now: number) =>
    trx
      .selectFrom('decisions')
      .select('id')
      .where('removed_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));

  const repository: DecisionRepository = {
    async add(input: NewDecision): Promise<Decision> {
      checkNewDecision(input);
      return db.transaction().execute(async (trx) => {
        const seq = await nextSeq(trx);
        const createdAt = clock.now();
        const row = await trx
          .insertInto('decisions')
          .values({
            kind: input.kind,
            scope: input.scope,
            value: input.value,
            reason: input.reason,
            origin: input.origin,
            created_at: createdAt,
            expires_at: input.expiresAt === null ? null : Math.floor(input.expiresAt),
            removed_at: null,
            seq,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return decisionFromRow(row);
      });
    },

    async remove(id: number): Promise<boolean> {
      if (!Number.isSafeInteger(id)) return false;
      return (await lift((trx, now) => liftable(trx, now).where('id', '=', id).execute())) > 0;
    },

    removeByValue: (value: string) => lift((trx, now) => liftable(trx, now).where('value', '=', value).orderBy('id').execute()),

    async list(): Promise<Decision[]> {
      const rows = await activeRows(clock.now()).orderBy('id').execute();
      return rows.map(decisionFromRow);
    },

    async version(): Promise<number> {
      const row = await db.selectFrom('decision_state').select('seq').where('id', '=', 1).executeTakeFirst();
      return row === undefined ? 0 : Number(row.seq);
    },

    async changedSince(version: number, limit = DEFAULT_CHANGE_LIMIT): Promise<DecisionChanges> {
      if (!Number.isSafeInteger(limit) || limit < 1) throw new PortcullisError(ErrorCodes.ERR_STORE, `store: change limit must be a positive whole number, got ${limit}`);
      // The counter first: every change numbered up to it has committed, so the rows read
      // after it include all of them (and perhaps later ones, which is harmless).
      const counter = await repository.version();
      const rows = await db.selectFrom('decisions').selectAll().where('seq', '>', version).orderBy('seq').limit(limit).execute();
      const added: Decision[] = [];
      const removed: number[] = [];
      for (const row of rows) {
        if (row.removed_at === null) added.push(decisionFromRow(row));
        else removed.push(Number(row.id));
      }
      const last = rows.length === 0 ? version : Number(rows[rows.length - 1]!.seq);
      return { version: rows.length === limit ? last : Math.max(counter, last, version), added, removed };
    },

    async deleteExpired(): Promise<number> {
      // Lifted rows go too once expired: a follower that missed the lift holds an expired
      // decision, which matches nothing.
      const result = await db.deleteFrom('decisions').where('expires_at', '<=', clock.now()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
  return guardRepository(repository, errors);
}
