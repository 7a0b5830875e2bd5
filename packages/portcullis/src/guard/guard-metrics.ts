/**
 * Prometheus metrics of the guard: requests refused and simulated by reason, decisions that
 * came into force by origin and kind, and the decisions held. Every value is read at scrape
 * time (prom-client `collect`) from counters the guard keeps anyway, so the request path does
 * no extra work, and nothing of this is loaded when the config has no `metrics` endpoint.
 */
import type { Counter, Gauge } from 'prom-client';
import type { MetricsKit } from '../kernel/metrics.ts';
import type { Decision } from '../store/index.ts';
import type { DecisionIndex } from './decision-index.ts';
import type { GateStats } from './gate.ts';
import { onNewDecisions } from './new-decisions.ts';

/** Decisions that came into force in this process, by origin and kind. */
export type DecisionCounts = Map<string, { origin: string; kind: string; count: number }>;

/** What the metrics read; the guard keeps all of it across reloads. */
export interface GuardMetricsSource {
  stats: GateStats;
  decisions: DecisionIndex;
  decided: DecisionCounts;
}

/**
 * Distinct (origin, kind) pairs counted; past this, counts go to origin `other`. Origins come
 * from the store, which any process with the database (or a future sync) may write.
 */
const MAX_DECISION_LABELS = 200;

const BLOCKED = 'portcullis_guard_blocked_requests_total';
const SIMULATED = 'portcullis_guard_simulated_requests_total';
const DECISIONS = 'portcullis_guard_decisions_total';
const ACTIVE = 'portcullis_guard_active_decisions';

/** Fresh, empty decision counts. */
export function createDecisionCounts(): DecisionCounts {
  return new Map();
}

/**
 * `index`, counting into `counts` each decision the DecisionSync puts in force for the first
 * time: ids only grow, so a decision is new when its id is above every id seen. The decisions
 * loaded at start (replaceAll) are not counted, nor are the ones the first poll applies again.
 */
export function countingDecisionIndex(index: DecisionIndex, counts: DecisionCounts): DecisionIndex {
  return onNewDecisions(index, (decision) => countDecision(counts, decision));
}

function countDecision(counts: DecisionCounts, decision: Decision): void {
  let key = `${decision.kind}\n${decision.origin}`;
  let entry = counts.get(key);
  if (entry === undefined && counts.size >= MAX_DECISION_LABELS) {
    key = `${decision.kind}\nother`;
    entry = counts.get(key);
  }
  if (entry === undefined) {
    entry = { origin: key.slice(key.indexOf('\n') + 1), kind: decision.kind, count: 0 };
    counts.set(key, entry);
  }
  entry.count++;
}

/**
 * Registers the guard's metrics on the kit's registry, reading `source` at each scrape. Once
 * per registry: a later call (a reload) keeps the metrics already registered.
 */
export function registerGuardMetrics({ registry, client }: MetricsKit, source: GuardMetricsSource): void {
  if (registry.getSingleMetric(BLOCKED) !== undefined) return;
  const blocked: Counter<'reason'> = new client.Counter({
    name: BLOCKED,
    help: 'Requests the guard refused, by reason (ban:<origin>, blocklist:<file>, rule:<id>, throttle:<origin>, challenge:...).',
    labelNames: ['reason'],
    registers: [registry],
    collect: () => copyCounts(blocked, source.stats.blocked),
  });
  const simulated: Counter<'reason'> = new client.Counter({
    name: SIMULATED,
    help: 'Requests the guard would have refused in simulate mode, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect: () => copyCounts(simulated, source.stats.simulated),
  });
  const decisions: Counter<'origin' | 'kind'> = new client.Counter({
    name: DECISIONS,
    help: 'Decisions that came into force in this process since it started, by origin (cli, scenario:<name>, ...) and kind.',
    labelNames: ['origin', 'kind'],
    registers: [registry],
    collect: () => {
      decisions.reset();
      for (const { origin, kind, count } of source.decided.values()) decisions.inc({ origin, kind }, count);
    },
  });
  const active: Gauge = new client.Gauge({
    name: ACTIVE,
    help: 'Decisions (bans, throttles, challenges) held by this process; expired ones leave within a minute.',
    registers: [registry],
    collect: () => {
      active.set(source.decisions.size);
    },
  });
}

/** The gate's counts as the counter's values (the gate's maps are capped at 1000 reasons). */
function copyCounts(counter: Counter<'reason'>, counts: Map<string, number>): void {
  counter.reset();
  for (const [reason, count] of counts) counter.inc({ reason }, count);
}
