import type { Decision } from '../store/index.ts';
import type { DecisionIndex } from './decision-index.ts';

/**
 * `index`, calling `each` for every decision the DecisionSync puts in force for the first
 * time: the store's ids only grow, so a decision is new when its id is above every id seen.
 * The decisions loaded at start (replaceAll) were seen when they were decided and do not
 * count again, nor do the ones the first poll applies again. The metrics count through it
 * (guard-metrics.ts), and the CrowdSec watcher sends through it; the bouncer's own decisions
 * (negative ids) never pass here.
 */
export function onNewDecisions(index: DecisionIndex, each: (decision: Decision) => void): DecisionIndex {
  let newest = 0;
  return {
    get size() {
      return index.size;
    },
    match: (ip) => index.match(ip),
    add(decision) {
      const added = index.add(decision);
      if (added && decision.id > newest) {
        newest = decision.id;
        each(decision);
      }
      return added;
    },
    remove: (id) => index.remove(id),
    replaceAll(decisions) {
      // Another store's ids start again: only what this one holds is "seen".
      const all = [...decisions];
      newest = 0;
      for (const d of all) if (d.id > newest) newest = d.id;
      index.replaceAll(all);
    },
    prune: () => index.prune(),
  };
}
