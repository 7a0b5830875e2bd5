import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecisionIndex } from './decision-index.ts';
import { countingDecisionIndex, createDecisionCounts } from './guard-metrics.ts';
import type { Decision } from '../store/index.ts';

const NOW = 1_700_000_000_000;
const clock = { now: () => NOW };

function ban(id: number, origin = 'cli', expiresAt: number | null = null): Decision {
  return { id, kind: 'ban', scope: 'ip', value: `192.0.2.${id % 250}`, reason: '', origin, createdAt: NOW, expiresAt };
}

test('counts each decision once as it comes into force, not the ones loaded at start', () => {
  const index = createDecisionIndex({ clock });
  const counts = createDecisionCounts();
  const counted = countingDecisionIndex(index, counts);
  counted.replaceAll([ban(1), ban(2)]);
  assert.equal(counts.size, 0);
  assert.equal(counted.size, 2);
  // The first poll applies again what changed while the list was read.
  counted.add(ban(2));
  assert.equal(counts.size, 0);
  counted.add(ban(3));
  counted.add(ban(4, 'scenario:http-4xx-scan'));
  counted.add(ban(4, 'scenario:http-4xx-scan'));
  counted.add(ban(5, 'cli', NOW - 1)); // expired: never in force
  assert.deepEqual([...counts.values()], [
    { origin: 'cli', kind: 'ban', count: 1 },
    { origin: 'scenario:http-4xx-scan', kind: 'ban', count: 1 },
  ]);
  assert.equal(index.size, 4);
  assert.equal(counted.remove(3), true);
  assert.equal(index.size, 3);
});

test('origins past the cap are counted as other', () => {
  const counts = createDecisionCounts();
  const counted = countingDecisionIndex(createDecisionIndex({ clock }), counts);
  for (let id = 1; id <= 210; id++) counted.add(ban(id, `origin-${id}`));
  assert.equal(counts.size, 201);
  assert.deepEqual(counts.get('ban\nother'), { origin: 'other', kind: 'ban', count: 10 });
});
