/**
 * The guard's check of every request, before any route runs (the proxy's RequestGate). In
 * order:
 *
 * 1. an address in `allow` (never-ban) passes, whatever follows says;
 * 2. a ban decision, then a blocklist entry: 403 (`ban:<origin>`, `blocklist:<file>`);
 * 3. a throttle decision: 429 with Retry-After until it expires;
 * 4. a challenge decision (`challenge:<origin>`): a challenge verdict (the proof-of-work page,
 *    guard/challenge.ts) unless the client holds a valid clearance cookie for its IP; then on
 *    to the rules;
 * 5. the request rules, when given: block 403 (`rule:<id>`), log (logged, passes),
 *    challenge as in 4 (`challenge:rule:<id>`).
 *
 * In `simulate` mode a refusal is logged and counted, and the request passes.
 *
 * The allowlist is tested only once something matched, so a request that matches nothing
 * costs the lookups alone and allocates nothing (for an IPv4 client).
 */
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import type { GateRequest, GateVerdict, RequestGate } from '../proxy/index.ts';
import type { Blocklists } from './blocklists.ts';
import type { ActiveDecision, DecisionIndex } from './decision-index.ts';

/** What the request rules found in a request (src/guard/rules/), or null: nothing. */
export interface RuleMatch {
  id: string;
  action: 'block' | 'log' | 'challenge';
}

/** The compiled request rules. */
export type RequestRules = (request: GateRequest) => RuleMatch | null;

/** Counters by verdict reason, kept across reloads for metrics. */
export interface GateStats {
  /** Requests refused. */
  blocked: Map<string, number>;
  /** Requests `simulate` let through that would have been refused. */
  simulated: Map<string, number>;
}

export interface GateOptions {
  decisions: DecisionIndex;
  blocklists: Blocklists | null;
  /** `allow <ranges...>`: never refused by the guard. */
  neverBan: readonly string[];
  simulate: boolean;
  logger: Logger;
  clock: Clock;
  rules?: RequestRules | null;
  /** Whether the request carries a valid clearance (guard/challenge.ts); absent: never cleared. */
  cleared?: ((request: GateRequest) => boolean) | null;
  /** Shared counters (the caller keeps them across reloads); fresh ones when absent. */
  stats?: GateStats;
}

export interface Gate extends RequestGate {
  readonly stats: GateStats;
}

/** Distinct reasons counted; past this, counts go to `other` (origins come from the store). */
const MAX_REASONS = 1000;

/** Fresh, empty counters. */
export function createGateStats(): GateStats {
  return { blocked: new Map(), simulated: new Map() };
}

/** Compiles the gate; throws ERR_CONFIG_INVALID when an `allow` range is malformed. */
export function createGate(options: GateOptions): Gate {
  const { decisions, blocklists, simulate, logger, clock } = options;
  const rules = options.rules ?? null;
  const cleared = options.cleared ?? null;
  const stats = options.stats ?? createGateStats();
  const allowed = options.neverBan.length === 0 ? null : compileIpRanges([...options.neverBan]);

  const decisionVerdict = (d: ActiveDecision): GateVerdict => {
    if (d.kind === 'ban') return { status: 403, reason: `ban:${d.origin}` };
    if (d.kind === 'throttle') {
      const verdict: GateVerdict = { status: 429, reason: `throttle:${d.origin}` };
      if (d.expiresAt !== Infinity) verdict.retryAfter = Math.max(1, Math.ceil((d.expiresAt - clock.now()) / 1000));
      return verdict;
    }
    return { status: 403, reason: `challenge:${d.origin}`, challenge: true };
  };

  const refuse = (request: GateRequest, verdict: GateVerdict): GateVerdict | null => {
    if (simulate) {
      count(stats.simulated, verdict.reason);
      logger.info({ clientIp: request.clientIp, host: request.host, path: request.rawPath, status: verdict.status, reason: verdict.reason }, 'guard would refuse this request (simulate)');
      return null;
    }
    count(stats.blocked, verdict.reason);
    logger.debug({ clientIp: request.clientIp, host: request.host, path: request.rawPath, status: verdict.status, reason: verdict.reason }, 'guard refused a request');
    return verdict;
  };

  return {
    stats,
    check(request) {
      const ip = request.clientIp;
      const decided = decisions.size === 0 ? null : decisions.match(ip);
      if (decided !== null && decided.kind === 'ban') return allowed?.(ip) ? null : refuse(request, decisionVerdict(decided));
      const listed = blocklists === null ? null : blocklists.match(ip);
      if (listed !== null) return allowed?.(ip) ? null : refuse(request, { status: 403, reason: listed.reason });
      if (decided !== null) {
        if (allowed?.(ip)) return null;
        // Read only once a challenge applies: a request that matches nothing pays no cookie parsing.
        if (decided.kind !== 'challenge' || cleared?.(request) !== true) return refuse(request, decisionVerdict(decided));
        // A passed challenge proves a browser's work, not good intent: the rules still run. A
        // client can earn itself a challenge (a fast crawl does), and one proof of work must not
        // then let its /.env and SQL injection probes through for the decision's lifetime.
      }
      const rule = rules === null ? null : rules(request);
      if (rule === null || allowed?.(ip)) return null;
      if (rule.action === 'log') {
        logger.info({ clientIp: ip, host: request.host, path: request.rawPath, rule: rule.id }, 'guard rule matched (log only)');
        return null;
      }
      if (rule.action === 'block') return refuse(request, { status: 403, reason: `rule:${rule.id}` });
      return cleared?.(request) ? null : refuse(request, { status: 403, reason: `challenge:rule:${rule.id}`, challenge: true });
    },
  };
}

function count(counts: Map<string, number>, reason: string): void {
  const key = counts.has(reason) || counts.size < MAX_REASONS ? reason : 'other';
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
