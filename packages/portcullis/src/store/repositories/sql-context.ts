/**
 * What every SQL repository is built from, and the one place driver errors become
 * PortcullisErrors. Repositories are written once with Kysely's builder and run on any
 * dialect; only `DriverErrors` knows how a driver reports a unique-constraint clash.
 */
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Clock } from '../../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { Database } from '../schema.ts';

/** How one driver reports failures. */
export interface DriverErrors {
  /**
   * For a unique or primary-key violation, the clashing columns as `table.column` (several
   * joined by `, `, as SQLite prints them); null for any other error.
   */
  uniqueViolation(error: unknown): string | null;
}

export interface SqlContext {
  db: Kysely<Database>;
  clock: Clock;
  errors: DriverErrors;
}

/** `table.column` of a unique key -> the conflict message a caller may show. */
export type ConflictMessages = Readonly<Record<string, string>>;

/**
 * Wraps every method of `repository` so that a failure leaves it as a PortcullisError:
 * PortcullisErrors pass through, a unique clash listed in `conflicts` becomes
 * ERR_STORE_CONFLICT with its message, anything else ERR_STORE with the driver's message
 * (drivers here never put the statement's parameters in their messages).
 */
export function guardRepository<T extends object>(repository: T, errors: DriverErrors, conflicts: ConflictMessages = {}): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(repository)) {
    if (typeof method !== 'function') {
      guarded[name] = method;
      continue;
    }
    guarded[name] = async (...args: unknown[]) => {
      try {
        return await method.apply(repository, args);
      } catch (error) {
        throw toStoreError(error, errors, conflicts);
      }
    };
  }
  return guarded as T;
}

function toStoreError(error: unknown, errors: DriverErrors, conflicts: ConflictMessages): PortcullisError {
  if (error instanceof PortcullisError) return error;
  const columns = errors.uniqueViolation(error);
  if (columns !== null) {
    const message = Object.hasOwn(conflicts, columns) ? conflicts[columns] : undefined;
    return new PortcullisError(ErrorCodes.ERR_STORE_CONFLICT, message ?? `store: ${columns} already exists`, { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new PortcullisError(ErrorCodes.ERR_STORE, `store: ${detail}`, { cause: error });
}

/** Marks a named parameter in a query built by compileOnce; no real value starts with NUL. */
const PARAMETER = '\u0000param:';

/**
 * A query built and compiled once, then run with new parameter values each time. The
 * statements on the path of every sign-in and token grant (artifacts, accounts) skip
 * Kysely's builder and compiler this way, which cost more than SQLite's own work for a
 * primary-key lookup; the SQL is still Kysely's, for whichever dialect `db` speaks.
 *
 * `build` receives `param(name)`, a stand-in to put wherever a per-call value goes; values
 * written literally (a `limit(1)`) stay fixed. Throws at build time when a named parameter
 * does not reach the compiled parameters (it was used as an identifier, say), so a mistake
 * shows on the first start, not as a wrong answer. Needs no plugin on `db`: results are
 * not transformed per query.
 */
export function compileOnce<P extends Record<string, unknown>, R>(
  db: Kysely<Database>,
  build: (param: (name: keyof P & string) => never) => Compilable<R>,
): (params: P) => Promise<QueryResult<R>> {
  const used = new Set<string>();
  const compiled = build((name) => {
    used.add(name);
    return `${PARAMETER}${name}` as never;
  }).compile();
  const slots = compiled.parameters.map((value) => (typeof value === 'string' && value.startsWith(PARAMETER) ? value.slice(PARAMETER.length) : null));
  for (const name of used) {
    if (!slots.includes(name)) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, `store: parameter ${name} is not a value in ${compiled.sql}`);
  }
  const fixed = compiled.parameters;
  return (params) => {
    const parameters = slots.map((name, i) => (name === null ? fixed[i] : params[name]));
    return db.executeQuery<R>({ ...compiled, parameters } as CompiledQuery<R>);
  };
}
