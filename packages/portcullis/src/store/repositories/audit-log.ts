/** The audit log: append and read, nothing else (the tables refuse UPDATE and DELETE too). */
import type { Selectable } from 'kysely';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { decodeJson, encodeJson } from '../codec.ts';
import type { AuditLogTable } from '../schema.ts';
import type { AuditEvent, AuditLog } from '../types.ts';
import { guardRepository, type SqlContext } from './sql-context.ts';

/** Rows a list returns when the caller gives no limit, so an old log cannot be read whole by accident. */
export const DEFAULT_AUDIT_LIMIT = 1000;

function eventFromRow(row: Selectable<AuditLogTable>): AuditEvent {
  return {
    id: Number(row.id),
    at: Number(row.at),
    type: row.type,
    actor: row.actor,
    subject: row.subject,
    ip: row.ip,
    detail: decodeJson(row.detail),
  };
}

/** The AuditLog over SQL. */
export function createAuditLog({ db, clock, errors }: SqlContext): AuditLog {
  const repository: AuditLog = {
    async append(event: Omit<AuditEvent, 'id' | 'at'>): Promise<void> {
      await db
        .insertInto('audit_log')
        .values({
          at: clock.now(),
          type: event.type,
          actor: event.actor,
          subject: event.subject,
          ip: event.ip,
          detail: encodeJson(event.detail),
        })
        .execute();
    },

    async list(query: { type?: string; since?: number; limit?: number } = {}): Promise<AuditEvent[]> {
      const limit = query.limit ?? DEFAULT_AUDIT_LIMIT;
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new PortcullisError(ErrorCodes.ERR_STORE, `store: audit list limit must be a positive integer, got ${String(limit)}`);
      }
      let select = db.selectFrom('audit_log').selectAll();
      if (query.type !== undefined) select = select.where('type', '=', query.type);
      if (query.since !== undefined) select = select.where('at', '>=', query.since);
      const rows = await select.orderBy('id', 'desc').limit(limit).execute();
      return rows.map(eventFromRow);
    },
  };
  return guardRepository(repository, errors);
}
