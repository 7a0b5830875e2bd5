/** The `not` matcher: true when none of the nested sets matches (sets ORed, then negated). */
import type { RequestContext } from '../context.ts';

type Predicate = (ctx: RequestContext) => boolean;

/** `sets` are compiled nested sets; null stands for a set that always matches. */
export function negateSets(sets: Array<Predicate | null>): Predicate {
  if (sets.some((s) => s === null)) return () => false;
  const tests = sets as Predicate[];
  return (ctx) => {
    for (let i = 0; i < tests.length; i++) if (tests[i]!(ctx)) return false;
    return true;
  };
}
