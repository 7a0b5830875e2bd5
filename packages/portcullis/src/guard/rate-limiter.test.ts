import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ManualClock } from '../kernel/clock.ts';
import { createRateLimiter, type RateLimit, type RateLimiter } from './rate-limiter.ts';

const FIVE_PER_SECOND: RateLimit = { events: 5, windowMs: 1000, burst: 0 };

/** How many of `n` events at this instant are allowed. */
function allowed(limiter: RateLimiter, n: number, limit: RateLimit, key = 'k', zone = 'z'): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (limiter.take(zone, key, limit) === 0) ok++;
  return ok;
}

describe('rate limiter: window', () => {
  test('events per window: a fresh key spends the window at once, then waits for the next event', () => {
    const clock = new ManualClock(1_000_000);
    const limiter = createRateLimiter({ clock });
    assert.equal(allowed(limiter, 5, FIVE_PER_SECOND), 5);
    assert.equal(limiter.take('z', 'k', FIVE_PER_SECOND), 200, 'one event is earned back every window / events');
    clock.advance(150);
    assert.equal(limiter.take('z', 'k', FIVE_PER_SECOND), 50);
    clock.advance(50);
    assert.equal(limiter.take('z', 'k', FIVE_PER_SECOND), 0);
    assert.equal(limiter.take('z', 'k', FIVE_PER_SECOND), 200);
  });

  test('a key quiet for a whole window has its whole budget again', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock });
    assert.equal(allowed(limiter, 10, FIVE_PER_SECOND), 5);
    clock.advance(1000);
    assert.equal(allowed(limiter, 10, FIVE_PER_SECOND), 5);
  });

  test('over a long run, never more than events per window on average', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock });
    let ok = 0;
    // One attempt every 10ms for 60 seconds.
    for (let t = 0; t < 6000; t++) {
      if (limiter.take('z', 'k', FIVE_PER_SECOND) === 0) ok++;
      clock.advance(10);
    }
    assert.ok(ok <= 5 + 60 * 5, `${ok} allowed`);
    assert.ok(ok >= 60 * 5, `${ok} allowed`);
  });

  test('refused events are not counted: a client that keeps knocking gets in when its wait is over', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock });
    const limit: RateLimit = { events: 2, windowMs: 60_000, burst: 0 };
    assert.equal(allowed(limiter, 2, limit), 2);
    for (let i = 0; i < 100; i++) assert.equal(limiter.take('z', 'k', limit), 30_000);
    clock.advance(30_000);
    assert.equal(limiter.take('z', 'k', limit), 0);
  });

  test('fractional intervals: the Nth event is not refused by rounding, at epoch-sized clock values too', () => {
    for (const start of [0, 1_760_000_000_000]) {
      const clock = new ManualClock(start);
      const limiter = createRateLimiter({ clock });
      const limit: RateLimit = { events: 3, windowMs: 1000, burst: 0 };
      assert.equal(allowed(limiter, 3, limit), 3);
      const wait = limiter.take('z', 'k', limit);
      assert.ok(Math.abs(wait - 1000 / 3) < 0.01, `wait ${wait}`);
      clock.advance(1000 / 3);
      assert.equal(limiter.take('z', 'k', limit), 0);
      clock.advance(1000);
      assert.equal(allowed(limiter, 4, limit), 3);
    }
  });

  test('one event per window', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock });
    const limit: RateLimit = { events: 1, windowMs: 5000, burst: 0 };
    assert.equal(limiter.take('z', 'k', limit), 0);
    assert.equal(limiter.take('z', 'k', limit), 5000);
    clock.advance(4999);
    assert.equal(limiter.take('z', 'k', limit), 1);
    clock.advance(1);
    assert.equal(limiter.take('z', 'k', limit), 0);
  });
});

describe('rate limiter: burst', () => {
  test('burst adds to what a quiet key may spend at once, not to the rate', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock });
    const limit: RateLimit = { events: 2, windowMs: 1000, burst: 3 };
    assert.equal(allowed(limiter, 10, limit), 5);
    assert.equal(limiter.take('z', 'k', limit), 500, 'then one event every 500ms, as without burst');
    clock.advance(500);
    assert.equal(allowed(limiter, 10, limit), 1);
    clock.advance(2500);
    assert.equal(allowed(limiter, 10, limit), 5, 'quiet for events + burst intervals: the whole burst again');
  });
});

describe('rate limiter: keys and zones', () => {
  test('keys and zones count apart', () => {
    const limiter = createRateLimiter({ clock: new ManualClock() });
    assert.equal(allowed(limiter, 6, FIVE_PER_SECOND, 'a'), 5);
    assert.equal(allowed(limiter, 6, FIVE_PER_SECOND, 'b'), 5, 'another key');
    assert.equal(allowed(limiter, 6, FIVE_PER_SECOND, 'a', 'other'), 5, 'the same key in another zone');
  });

  test('long keys are stored hashed: distinct when they differ at the end, shared when equal', () => {
    const limiter = createRateLimiter({ clock: new ManualClock() });
    const long = 'x'.repeat(10_000);
    assert.equal(allowed(limiter, 6, FIVE_PER_SECOND, `${long}1`), 5);
    assert.equal(allowed(limiter, 6, FIVE_PER_SECOND, `${long}2`), 5);
    assert.equal(allowed(limiter, 1, FIVE_PER_SECOND, `${long}1`), 0);
  });

  test('a short key cannot pose as the hash of a long one', () => {
    const limiter = createRateLimiter({ clock: new ManualClock() });
    const long = 'y'.repeat(100);
    assert.equal(allowed(limiter, 5, FIVE_PER_SECOND, long), 5);
    // A key of the stored form (NUL + 43 characters) is hashed itself, so it lands elsewhere.
    const posing = '\0' + createHash('sha256').update(long).digest('base64url');
    assert.equal(allowed(limiter, 5, FIVE_PER_SECOND, posing), 5);
  });

  test('a reload that shortens the window: the client waits for the new limit, not the old', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock });
    const hourly: RateLimit = { events: 2, windowMs: 3_600_000, burst: 0 };
    assert.equal(allowed(limiter, 2, hourly), 2);
    assert.equal(limiter.take('z', 'k', hourly), 1_800_000);
    const perSecond: RateLimit = { events: 2, windowMs: 1000, burst: 0 };
    assert.equal(limiter.take('z', 'k', perSecond), 500);
    clock.advance(500);
    assert.equal(limiter.take('z', 'k', perSecond), 0);
  });
});

describe('rate limiter: bounded memory', () => {
  test('a flood of distinct keys never holds more than maxKeysPerZone, and the hammered key stays limited', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock, maxKeysPerZone: 100 });
    const limit: RateLimit = { events: 2, windowMs: 60_000, burst: 0 };
    assert.equal(allowed(limiter, 2, limit, 'abuser'), 2);
    for (let i = 0; i < 10_000; i++) {
      limiter.take('z', `random-${i}-${Math.random()}`, limit);
      // The abuser keeps knocking while the flood goes on: least recently used goes first.
      if (i % 50 === 0) assert.ok(limiter.take('z', 'abuser', limit) > 0, `abuser let in at ${i}`);
      clock.advance(1);
    }
    assert.ok(limiter.keyCount('z') <= 100, `${limiter.keyCount('z')} keys`);
    assert.ok(limiter.take('z', 'abuser', limit) > 0);
  });

  test('expired keys are dropped as new keys come in, well before the zone is full', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ clock, maxKeysPerZone: 1000 });
    for (let i = 0; i < 200; i++) limiter.take('z', `old-${i}`, FIVE_PER_SECOND);
    assert.equal(limiter.keyCount('z'), 200);
    clock.advance(1000);
    for (let i = 0; i < 100; i++) limiter.take('z', `new-${i}`, FIVE_PER_SECOND);
    assert.equal(limiter.keyCount('z'), 100, 'two expired keys dropped per new key');
  });

  test('each zone has its own bound', () => {
    const limiter = createRateLimiter({ clock: new ManualClock(), maxKeysPerZone: 10 });
    for (let i = 0; i < 50; i++) {
      limiter.take('a', `k${i}`, FIVE_PER_SECOND);
      limiter.take('b', `k${i}`, FIVE_PER_SECOND);
    }
    assert.equal(limiter.keyCount('a'), 10);
    assert.equal(limiter.keyCount('b'), 10);
    assert.equal(limiter.keyCount('never'), 0);
  });
});
