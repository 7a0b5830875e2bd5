/** The `method` matcher: exact, case-sensitive; config values are upper-cased once. */
import type { RequestContext } from '../context.ts';

export function compileMethodMatcher(methods: string[]): (ctx: RequestContext) => boolean {
  const set = new Set(methods.map((m) => m.toUpperCase()));
  if (set.size === 1) {
    const only = [...set][0]!;
    return (ctx) => ctx.method === only;
  }
  return (ctx) => set.has(ctx.method);
}
