/**
 * Exponential backoff: `firstMs` after the first failure, doubling with each one after, never
 * more than `maxMs`. Certificate orders and renewals, on-demand names and the sign-in throttle
 * all wait this way. The exponent is capped, so a count in the thousands never computes 2^huge.
 */
export function doublingDelay(firstMs: number, maxMs: number, doublings: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(0, doublings), 30));
}
