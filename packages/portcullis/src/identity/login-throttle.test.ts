import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../kernel/clock.ts';
import { createLoginThrottle, ipKeyOf, type LoginThrottle } from './login-throttle.ts';

const MIN = 60_000;

function setup(maxEntries?: number): { clock: ManualClock; throttle: LoginThrottle } {
  const clock = new ManualClock(1_700_000_000_000);
  return { clock, throttle: createLoginThrottle({ clock, ...(maxEntries === undefined ? {} : { maxEntries }) }) };
}

function failTimes(throttle: LoginThrottle, login: string, ip: string, n: number): void {
  for (let i = 0; i < n; i++) throttle.recordFailure(login, ip);
}

function retryAfter(throttle: LoginThrottle, login: string, ip: string): number {
  const verdict = throttle.check(login, ip);
  return verdict.allowed ? 0 : verdict.retryAfterMs;
}

describe('login throttle: per account', () => {
  test('five failures are free, then the wait doubles from 1 minute up to the 15 minute cap', () => {
    const { clock, throttle } = setup();
    failTimes(throttle, 'alice', '192.0.2.1', 4);
    assert.deepEqual(throttle.check('alice', '192.0.2.1'), { allowed: true });
    throttle.recordFailure('alice', '192.0.2.1');
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const wait = retryAfter(throttle, 'alice', '192.0.2.1');
      waits.push(wait);
      clock.advance(wait - 1);
      assert.equal(throttle.check('alice', '192.0.2.1').allowed, false, 'still waiting 1 ms before the end');
      clock.advance(1);
      assert.equal(throttle.check('alice', '192.0.2.1').allowed, true);
      throttle.recordFailure('alice', '192.0.2.1');
    }
    assert.deepEqual(waits, [1 * MIN, 2 * MIN, 4 * MIN, 8 * MIN, 15 * MIN, 15 * MIN, 15 * MIN]);
  });

  test('the account count spans IPs, so spreading guesses over addresses does not help', () => {
    const { throttle } = setup();
    for (let i = 1; i <= 5; i++) throttle.recordFailure('alice', `198.51.100.${i}`);
    assert.equal(retryAfter(throttle, 'alice', '203.0.113.77'), MIN);
    assert.equal(throttle.check('bob', '203.0.113.77').allowed, true, 'other accounts are not affected');
  });

  test('logins are compared lower-cased and trimmed', () => {
    const { throttle } = setup();
    failTimes(throttle, 'Alice', '192.0.2.1', 3);
    failTimes(throttle, ' ALICE ', '192.0.2.2', 2);
    assert.equal(throttle.check('alice', '192.0.2.3').allowed, false);
  });

  test('a success resets the count', () => {
    const { throttle } = setup();
    failTimes(throttle, 'alice', '192.0.2.1', 4);
    throttle.recordSuccess('alice', '192.0.2.1');
    failTimes(throttle, 'alice', '192.0.2.1', 4);
    assert.equal(throttle.check('alice', '192.0.2.1').allowed, true);
  });

  test('refused attempts are not counted: the wait stops growing when the guesser hammers', () => {
    const { clock, throttle } = setup();
    failTimes(throttle, 'alice', '192.0.2.1', 5);
    for (let i = 0; i < 100; i++) throttle.check('alice', `192.0.2.${i % 250}`);
    clock.advance(MIN);
    assert.equal(throttle.check('alice', '192.0.2.9').allowed, true);
  });

  test('a run of failures is forgotten a day after the last one', () => {
    const { clock, throttle } = setup();
    failTimes(throttle, 'alice', '192.0.2.1', 9);
    clock.advance(24 * 60 * MIN);
    throttle.recordFailure('alice', '192.0.2.1');
    assert.equal(throttle.check('alice', '192.0.2.1').allowed, true, 'one failure after the reset is free');
  });

  test('an attack cannot keep the user out from an IP they signed in from before', () => {
    const { clock, throttle } = setup();
    const home = '203.0.113.10';
    throttle.recordSuccess('alice', home);
    clock.advance(60 * MIN);
    // A botnet: many IPs, each failing a few times on alice.
    for (let i = 0; i < 30; i++) {
      throttle.recordFailure('alice', `198.51.100.${i}`);
      clock.advance(MIN);
      // Only the attacker's shared counter is locked.
      if (i >= 5) assert.equal(throttle.check('alice', '198.51.100.200').allowed, false);
    }
    assert.equal(throttle.check('alice', home).allowed, true, 'home IP has its own counter');
    // The user mistypes at home: their own counter allows the usual free tries, then paces them.
    failTimes(throttle, 'alice', home, 4);
    assert.equal(throttle.check('alice', home).allowed, true);
    throttle.recordFailure('alice', home);
    assert.equal(retryAfter(throttle, 'alice', home), MIN);
    // The user's success at home does not hand the attacker fresh free guesses.
    clock.advance(MIN);
    throttle.recordSuccess('alice', home);
    assert.equal(throttle.check('alice', home).allowed, true);
    assert.equal(throttle.check('alice', '198.51.100.201').allowed, false);
  });

  test('the lock is never permanent: it ends at most 15 minutes after the attack stops', () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 40; i++) {
      const wait = retryAfter(throttle, 'alice', `198.51.100.${i}`);
      clock.advance(wait);
      throttle.recordFailure('alice', `198.51.100.${i}`);
    }
    assert.equal(retryAfter(throttle, 'alice', '203.0.113.5'), 15 * MIN);
    clock.advance(15 * MIN);
    assert.equal(throttle.check('alice', '203.0.113.5').allowed, true);
  });

  test('remembered IPs expire after 30 days', () => {
    const { clock, throttle } = setup();
    throttle.recordSuccess('alice', '203.0.113.10');
    clock.advance(31 * 24 * 60 * MIN);
    failTimes(throttle, 'alice', '198.51.100.1', 5);
    assert.equal(throttle.check('alice', '203.0.113.10').allowed, false);
  });
});

describe('login throttle: per IP', () => {
  test('20 failures within 15 minutes lock the IP for 15 minutes, whatever the accounts', () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 19; i++) {
      throttle.recordFailure(`user${i}`, '192.0.2.50');
      clock.advance(10_000);
    }
    assert.equal(throttle.check('someone', '192.0.2.50').allowed, true);
    throttle.recordFailure('user19', '192.0.2.50');
    assert.equal(retryAfter(throttle, 'someone', '192.0.2.50'), 15 * MIN);
    assert.equal(throttle.check('someone', '192.0.2.51').allowed, true, 'other IPs are not affected');
    clock.advance(15 * MIN);
    assert.equal(throttle.check('someone', '192.0.2.50').allowed, true);
  });

  test('the window slides: 19 failures per 15 minutes, sustained, never lock', () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 100; i++) {
      throttle.recordFailure(`user${i}`, '192.0.2.50');
      clock.advance(Math.ceil((15 * MIN) / 19));
      assert.equal(throttle.check('someone', '192.0.2.50').allowed, true, `failure ${i}`);
    }
  });

  test('a success does not clear the IP count (a guesser with one real account cannot reset it)', () => {
    const { throttle } = setup();
    for (let i = 0; i < 19; i++) {
      throttle.recordFailure(`victim${i}`, '192.0.2.50');
      throttle.recordSuccess('mallory', '192.0.2.50');
    }
    throttle.recordFailure('victim19', '192.0.2.50');
    assert.equal(throttle.check('mallory', '192.0.2.50').allowed, false);
  });

  test('IPv6 clients are counted per /64; IPv4-mapped addresses as IPv4', () => {
    const { throttle } = setup();
    for (let i = 1; i <= 20; i++) throttle.recordFailure(`user${i}`, `2001:db8:1:2::${i.toString(16)}`);
    assert.equal(throttle.check('someone', '2001:db8:1:2:ffff::1').allowed, false, 'same /64');
    assert.equal(throttle.check('someone', '[2001:db8:1:2::abcd]').allowed, false, 'brackets');
    assert.equal(throttle.check('someone', '2001:db8:1:3::1').allowed, true, 'next /64');
    for (let i = 1; i <= 20; i++) throttle.recordFailure(`user${i}`, '::ffff:192.0.2.7');
    assert.equal(throttle.check('someone', '192.0.2.7').allowed, false);
  });

  test('ipKeyOf', () => {
    assert.equal(ipKeyOf('192.0.2.1'), '192.0.2.1');
    assert.equal(ipKeyOf('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(ipKeyOf('2001:DB8::1'), '2001:db8:0:0::/64');
    assert.equal(ipKeyOf('x'.repeat(1000)).length, 64);
  });
});

describe('login throttle: memory', () => {
  test('keeps at most maxEntries keys per table, forgetting the least recently used', () => {
    const { throttle } = setup(3);
    failTimes(throttle, 'alice', '192.0.2.1', 5);
    assert.equal(throttle.check('alice', '192.0.2.1').allowed, false);
    for (const name of ['bob', 'carol', 'dave']) throttle.recordFailure(name, '192.0.2.1');
    assert.equal(throttle.check('alice', '192.0.2.1').allowed, true, 'alice was evicted');
  });

  test('recent use keeps an entry: an account under attack is not the one evicted', () => {
    const { throttle } = setup(3);
    failTimes(throttle, 'alice', '192.0.2.1', 5);
    throttle.recordFailure('bob', '192.0.2.1');
    throttle.recordFailure('carol', '192.0.2.1');
    throttle.check('alice', '192.0.2.1');
    throttle.recordFailure('dave', '192.0.2.1');
    assert.equal(throttle.check('alice', '192.0.2.1').allowed, false);
  });

  test('huge logins are cut, so they cannot fill memory', () => {
    const { throttle } = setup();
    const huge = 'a'.repeat(1_000_000);
    failTimes(throttle, huge, '192.0.2.1', 5);
    assert.equal(throttle.check(huge.slice(0, 320) + 'different tail', '192.0.2.1').allowed, false);
  });
});

describe('login throttle: aliases', () => {
  test('failures recorded under several logins count for each, and for the IP once', () => {
    const { throttle } = setup();
    for (let i = 0; i < 3; i++) throttle.recordFailure(['alice', 'alice@example.com'], '192.0.2.1');
    for (let i = 0; i < 2; i++) throttle.recordFailure(['alice@example.com', 'alice'], '192.0.2.1');
    assert.equal(throttle.check('alice', '192.0.2.9').allowed, false);
    assert.equal(throttle.check('Alice@Example.com', '192.0.2.9').allowed, false);
    // 5 attempts, 5 IP failures: 15 more before the IP locks, not 10.
    for (let i = 0; i < 14; i++) throttle.recordFailure(`u${i}`, '192.0.2.1');
    assert.equal(throttle.check('nobody', '192.0.2.1').allowed, true);
    throttle.recordSuccess(['alice', 'alice@example.com'], '192.0.2.7');
    assert.equal(throttle.check('alice@example.com', '192.0.2.7').allowed, true);
  });
});
