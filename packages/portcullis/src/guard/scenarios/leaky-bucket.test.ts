import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../kernel/clock.ts';
import { createLeakyBuckets } from './leaky-bucket.ts';

describe('leaky buckets', () => {
  it('fires on the event after capacity, not before', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const buckets = createLeakyBuckets({ capacity: 5, leakPerSecond: 1, blackholeMs: 0, clock });
    for (let i = 0; i < 5; i++) assert.equal(buckets.pour('a'), null, `event ${i + 1}`);
    const overflow = buckets.pour('a');
    assert.ok(overflow);
    assert.equal(overflow.key, 'a');
    assert.equal(buckets.pour('b'), null, 'keys are apart');
  });

  it('leaks at its rate: a steady stream slower than the leak never fires', () => {
    const clock = new ManualClock(0);
    const buckets = createLeakyBuckets({ capacity: 3, leakPerSecond: 0.1, blackholeMs: 0, clock });
    for (let i = 0; i < 1000; i++) {
      assert.equal(buckets.pour('steady'), null, `event ${i}`);
      clock.advance(10_000);
    }
    // Full, then exactly one unit leaks out in 10 s: one more fits, the next does not.
    for (let i = 0; i < 3; i++) buckets.pour('burst');
    clock.advance(10_000);
    assert.equal(buckets.pour('burst'), null);
    assert.ok(buckets.pour('burst'));
  });

  it('counts only distinct values when asked to', () => {
    const clock = new ManualClock(0);
    const buckets = createLeakyBuckets({ capacity: 3, leakPerSecond: 0.001, blackholeMs: 0, clock });
    for (let i = 0; i < 50; i++) assert.equal(buckets.pour('ip', '/favicon.ico'), null);
    assert.equal(buckets.pour('ip', '/a'), null);
    assert.equal(buckets.pour('ip', '/b'), null);
    assert.ok(buckets.pour('ip', '/c'), 'the fourth distinct value overflows');
  });

  it('tells long distinct values apart (they are stored hashed)', () => {
    const clock = new ManualClock(0);
    const buckets = createLeakyBuckets({ capacity: 2, leakPerSecond: 0.001, blackholeMs: 0, clock });
    const long = '/x'.repeat(4000);
    assert.equal(buckets.pour('ip', long + 'a'), null);
    assert.equal(buckets.pour('ip', long + 'a'), null);
    assert.equal(buckets.pour('ip', long + 'b'), null);
    assert.ok(buckets.pour('ip', long + 'c'));
  });

  it('blackholes a key after it fired, then starts it afresh', () => {
    const clock = new ManualClock(0);
    const buckets = createLeakyBuckets({ capacity: 2, leakPerSecond: 1, blackholeMs: 60_000, clock });
    buckets.pour('k');
    buckets.pour('k');
    assert.ok(buckets.pour('k'));
    for (let i = 0; i < 100; i++) assert.equal(buckets.pour('k'), null, 'ignored while blackholed');
    clock.advance(60_000);
    assert.equal(buckets.pour('k'), null);
    assert.equal(buckets.pour('k'), null);
    assert.ok(buckets.pour('k'), 'fires again once the blackhole ended');
  });

  it('reports how many events each source contributed', () => {
    const clock = new ManualClock(0);
    const buckets = createLeakyBuckets({ capacity: 5, leakPerSecond: 0.001, blackholeMs: 1000, clock });
    const from = ['192.0.2.1', '192.0.2.1', '192.0.2.2', '192.0.2.1', '192.0.2.3', '192.0.2.1'];
    let overflow = null;
    for (const source of from) overflow = buckets.pour('alice', undefined, source);
    assert.ok(overflow);
    assert.deepEqual([...overflow.sources].sort(), [['192.0.2.1', 4], ['192.0.2.2', 1], ['192.0.2.3', 1]]);
  });

  it('keeps at most maxSources sources, dropping the least active', () => {
    const clock = new ManualClock(0);
    const buckets = createLeakyBuckets({ capacity: 1000, leakPerSecond: 0.001, blackholeMs: 0, clock, maxSources: 4 });
    for (let i = 0; i < 10; i++) buckets.pour('alice', undefined, 'persistent');
    for (let i = 0; i < 990; i++) buckets.pour('alice', undefined, `spray-${i}`);
    const overflow = buckets.pour('alice', undefined, 'last');
    assert.ok(overflow);
    assert.ok(overflow.sources.size <= 4);
    assert.equal(overflow.sources.get('persistent'), 10);
  });

  it('bounds memory under a flood of fresh keys, and still fires for the key being hammered', () => {
    const clock = new ManualClock(0);
    const buckets = createLeakyBuckets({ capacity: 10, leakPerSecond: 0.01, blackholeMs: 3_600_000, clock, maxKeys: 1000 });
    let fired = 0;
    for (let i = 0; i < 50_000; i++) {
      const random = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      buckets.pour(random, `/p${i}`);
      if (i % 500 === 0 && buckets.pour('203.0.113.66') !== null) fired++;
      clock.advance(1);
      assert.ok(buckets.size <= 1000);
    }
    assert.equal(fired, 1, 'the hammered key fired once (touched more often than maxKeys fresh keys arrive, it is never the least recently used)');
  });

  it('drops drained buckets as new keys arrive, once the keys fill half the room', () => {
    const clock = new ManualClock(0);
    const roomy = createLeakyBuckets({ capacity: 10, leakPerSecond: 1, blackholeMs: 0, clock, maxKeys: 1000 });
    for (let i = 0; i < 100; i++) roomy.pour(`old-${i}`);
    clock.advance(10_000);
    for (let i = 0; i < 100; i++) roomy.pour(`new-${i}`);
    assert.equal(roomy.size, 200, 'under half full, drained buckets stay (no churn for returning clients)');
    const buckets = createLeakyBuckets({ capacity: 10, leakPerSecond: 1, blackholeMs: 0, clock, maxKeys: 150 });
    for (let i = 0; i < 100; i++) buckets.pour(`old-${i}`);
    clock.advance(10_000);
    for (let i = 0; i < 100; i++) buckets.pour(`new-${i}`);
    assert.ok(buckets.size <= 101, `held ${buckets.size}`);
  });

  it('refuses a leak rate that is not positive', () => {
    assert.throws(() => createLeakyBuckets({ capacity: 1, leakPerSecond: 0, blackholeMs: 0, clock: new ManualClock() }), RangeError);
  });
});
