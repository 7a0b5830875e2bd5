/**
 * The active decisions of this process, indexed for the gate: "is this address decided?" in
 * a time set by the number of distinct prefix lengths, whatever the number of decisions
 * (ip-table.ts). Expiry is checked at lookup with the injected Clock, so an expired decision
 * stops matching at its expiry even before prune() drops it.
 */
import type { Clock } from '../kernel/clock.ts';
import type { Decision, DecisionKind } from '../store/index.ts';
import { parseIpPrefix } from './ip-prefix.ts';
import { createIpTable } from './ip-table.ts';

/** What the gate needs of a decision: small, so a million of them fit. */
export interface ActiveDecision {
  readonly id: number;
  readonly kind: DecisionKind;
  /** The normalised address or CIDR. */
  readonly value: string;
  readonly origin: string;
  /** Milliseconds since the epoch; Infinity: until lifted. */
  readonly expiresAt: number;
}

export interface DecisionIndex {
  /** Decisions held (expired ones count until prune()). */
  readonly size: number;
  /**
   * The decision the gate acts on for `ip`: of the live decisions covering it, a ban before
   * a throttle before a challenge. Null when none. Allocates nothing for IPv4.
   */
  match(ip: string): ActiveDecision | null;
  /**
   * Adds a decision, or replaces the one with its id. Expired ones and ones whose value is
   * not an address or CIDR are ignored (false).
   */
  add(decision: Decision): boolean;
  /** Drops a decision by id; false when absent. */
  remove(id: number): boolean;
  /** Replaces everything with `decisions`. */
  replaceAll(decisions: Iterable<Decision>): void;
  /** Drops expired decisions; returns how many. */
  prune(): number;
}

/** Precedence when several decisions cover one address: the gate's order. */
const RANK: Record<DecisionKind, number> = { ban: 3, throttle: 2, challenge: 1 };

/** Decisions on one prefix: usually one, sometimes a ban and a throttle, or two origins. */
type Slot = ActiveDecision | ActiveDecision[];

/** An empty index on `clock`. */
export function createDecisionIndex(options: { clock: Clock }): DecisionIndex {
  const { clock } = options;
  const table = createIpTable<Slot>();
  // By id, for lifts; the prefix is parsed again from the value then (lifts are rare, and a
  // million decisions would otherwise each carry a parsed prefix).
  const byId = new Map<number, ActiveDecision>();
  /** Origins repeat (`cli`, `scenario:http-probing`): one string each, not one per decision. */
  const origins = new Map<string, string>();
  const scratch: Slot[] = [];

  const intern = (origin: string): string => {
    const known = origins.get(origin);
    if (known !== undefined) return known;
    if (origins.size < 10_000) origins.set(origin, origin);
    return origin;
  };

  const drop = (id: number): boolean => {
    const held = byId.get(id);
    if (held === undefined) return false;
    byId.delete(id);
    const prefix = parseIpPrefix(held.value)!;
    const slot = table.get(prefix);
    if (slot === held) {
      table.delete(prefix);
    } else if (Array.isArray(slot)) {
      const at = slot.indexOf(held);
      if (at !== -1) slot.splice(at, 1);
      if (slot.length === 1) table.set(prefix, slot[0]!);
    }
    return true;
  };

  const add = (decision: Decision): boolean => {
    drop(decision.id);
    const expiresAt = decision.expiresAt ?? Infinity;
    const prefix = parseIpPrefix(decision.value);
    if (prefix === null || !Object.hasOwn(RANK, decision.kind) || expiresAt <= clock.now()) return false;
    const active: ActiveDecision = { id: decision.id, kind: decision.kind, value: decision.value, origin: intern(decision.origin), expiresAt };
    const slot = table.get(prefix);
    if (slot === undefined) table.set(prefix, active);
    else if (Array.isArray(slot)) slot.push(active);
    else table.set(prefix, [slot, active]);
    byId.set(decision.id, active);
    return true;
  };

  /** The stronger of `best` and the live decisions of `slot`. */
  const strongest = (slot: Slot, best: ActiveDecision | null, now: number): ActiveDecision | null => {
    if (!Array.isArray(slot)) return slot.expiresAt > now && (best === null || RANK[slot.kind] > RANK[best.kind]) ? slot : best;
    for (let j = 0; j < slot.length; j++) {
      const d = slot[j]!;
      if (d.expiresAt > now && (best === null || RANK[d.kind] > RANK[best.kind])) best = d;
    }
    return best;
  };

  return {
    get size() {
      return byId.size;
    },
    match(ip) {
      if (byId.size === 0) return null;
      const found = table.collect(ip, scratch);
      if (found === 0) return null;
      const now = clock.now();
      let best: ActiveDecision | null = null;
      for (let i = 0; i < found; i++) best = strongest(scratch[i]!, best, now);
      return best;
    },
    add,
    remove: drop,
    replaceAll(decisions) {
      table.clear();
      byId.clear();
      origins.clear();
      for (const decision of decisions) add(decision);
    },
    prune() {
      const now = clock.now();
      let pruned = 0;
      for (const [id, held] of byId) {
        if (held.expiresAt <= now && drop(id)) pruned++;
      }
      return pruned;
    },
  };
}
