import { test } from 'node:test';
import assert from 'node:assert/strict';
import { doublingDelay } from './backoff.ts';

test('doublingDelay doubles from the first delay and stops at the cap, also for huge counts', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => doublingDelay(60_000, 900_000, n)), [60_000, 120_000, 240_000, 480_000, 900_000]);
  assert.equal(doublingDelay(1000, 3_600_000, 1e9), 3_600_000);
  assert.equal(doublingDelay(1000, 3_600_000, -3), 1000);
});
