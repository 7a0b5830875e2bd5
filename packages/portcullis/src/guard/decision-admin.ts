/**
 * What `portcullis bans` and `portcullis decisions` do, over the store: an operator's bans
 * (origin `cli`), lifts by id or by address, and the list of decisions in force. Every add
 * and lift is written to the audit log. Running instances pick the change up with their next
 * poll of the store (decision-sync.ts).
 */
import type { Clock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import type { AuditLog, Decision, DecisionKind, DecisionRepository } from '../store/index.ts';
import { formatIpPrefix, isSingleAddress, parseIpPrefix } from './ip-prefix.ts';

export interface DecisionAdmin {
  /**
   * Bans an address or CIDR for `durationMs` (null: until lifted). Throws ERR_HTTP_BAD_REQUEST
   * for text that is not an address or range, or a range wider than /8 (IPv4) or /16 (IPv6).
   */
  ban(target: string, options: { durationMs: number | null; reason?: string }): Promise<Decision>;
  /**
   * Lifts one decision by id (digits), or every decision on exactly that address or range.
   * Returns how many, and what (`decision 7`, or the normalised address); throws ERR_STORE_NOT_FOUND when none was, naming any range
   * decision that covers the address (those must be lifted themselves).
   */
  lift(target: string): Promise<{ count: number; what: string }>;
  /** Decisions in force, by id; only one kind when given. */
  list(kind?: DecisionKind): Promise<Decision[]>;
}

/** Narrowest ranges the CLI bans: wider is almost always a typo (`1.2.3.4/1`). */
const WIDEST_V4 = 8;
const WIDEST_V6 = 16;

/** Longest reason kept; it is for people and logs, not a document. */
const MAX_REASON = 500;

/** The admin facade over a store's decisions and audit log. */
export function createDecisionAdmin(deps: { decisions: DecisionRepository; audit: AuditLog; clock: Clock }): DecisionAdmin {
  const { decisions, audit, clock } = deps;
  return {
    async ban(target, options) {
      const prefix = parseIpPrefix(target.trim());
      if (prefix === null) throw badInput(`${JSON.stringify(target)} is not an IP address or CIDR range`);
      if (prefix.bits < (prefix.family === 4 ? WIDEST_V4 : WIDEST_V6)) {
        throw badInput(`refusing to ban ${formatIpPrefix(prefix)}: ranges wider than /${WIDEST_V4} (IPv4) or /${WIDEST_V6} (IPv6) would shut out much of the internet`);
      }
      const { durationMs } = options;
      if (durationMs !== null && !(Number.isFinite(durationMs) && durationMs > 0)) throw badInput('the duration must be longer than 0');
      const reason = (options.reason ?? '').replace(/[\p{Cc}]/gu, ' ').slice(0, MAX_REASON);
      const decision = await decisions.add({
        kind: 'ban',
        scope: isSingleAddress(prefix) ? 'ip' : 'range',
        value: formatIpPrefix(prefix),
        reason,
        origin: 'cli',
        expiresAt: durationMs === null ? null : clock.now() + durationMs,
      });
      await audit.append({ type: 'decision.added', actor: 'cli', subject: decision.value, ip: null, detail: { id: decision.id, kind: decision.kind, reason, expiresAt: decision.expiresAt } });
      return decision;
    },

    async lift(target) {
      const text = target.trim();
      if (/^[1-9][0-9]{0,15}$/.test(text)) {
        const id = Number(text);
        if (!(await decisions.remove(id))) throw new PortcullisError(ErrorCodes.ERR_STORE_NOT_FOUND, `no decision in force has id ${id}`, { status: 404 });
        await audit.append({ type: 'decision.lifted', actor: 'cli', subject: String(id), ip: null, detail: { id } });
        return { count: 1, what: `decision ${id}` };
      }
      const prefix = parseIpPrefix(text);
      if (prefix === null) throw badInput(`${JSON.stringify(target)} is not a decision id, an IP address or a CIDR range`);
      const value = formatIpPrefix(prefix);
      const lifted = await decisions.removeByValue(value);
      if (lifted === 0) throw new PortcullisError(ErrorCodes.ERR_STORE_NOT_FOUND, `no decision in force on ${value}${await coveredBy(value)}`, { status: 404 });
      await audit.append({ type: 'decision.lifted', actor: 'cli', subject: value, ip: null, detail: { count: lifted } });
      return { count: lifted, what: value };
    },

    async list(kind) {
      const all = await decisions.list();
      return kind === undefined ? all : all.filter((d) => d.kind === kind);
    },
  };

  /** ` (covered by 10.0.0.0/8, id 7)` when range decisions cover `value`'s address, else ''. */
  async function coveredBy(value: string): Promise<string> {
    const address = value.split('/')[0]!;
    const covers = (range: string) => {
      try {
        return compileIpRanges([range])(address);
      } catch {
        return false; // a row some other writer left malformed covers nothing
      }
    };
    const covering = (await decisions.list()).filter((d) => d.scope === 'range' && d.value !== value && covers(d.value));
    if (covering.length === 0) return '';
    return ` (covered by ${covering.map((d) => `${d.value}, id ${d.id}`).join('; ')}: lift that instead)`;
  }
}

function badInput(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_HTTP_BAD_REQUEST, message, { status: 400 });
}
