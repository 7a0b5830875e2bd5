import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../kernel/clock.ts';
import { silentLogger } from '../kernel/logger.ts';
import { createOnDemand, type NameFailures } from './on-demand.ts';
import type { OnDemandRule } from './site-plan.ts';

const MINUTE = 60_000;
const RULE = { site: { name: 'any', source: { file: 'Caddyfile', line: 1 }, hosts: [], tls: null }, hosts: [], issuer: 'acme' } as unknown as OnDemandRule;

/** An issuer whose every order fails, counting the orders. */
function failing(clock: ManualClock, failures: Map<string, NameFailures>) {
  const orders: string[] = [];
  const asked: string[] = [];
  const onDemand = createOnDemand({
    rules: [RULE],
    permits: async (name) => (asked.push(name), true),
    obtain: async (name) => {
      orders.push(name);
      throw new Error('validation failed');
    },
    contextFor: () => {
      throw new Error('never reached');
    },
    renewalTime: () => Infinity,
    clock,
    log: silentLogger(),
    failures,
  });
  return { onDemand, orders, asked };
}

test('security: a name that keeps failing is tried again after 1, 2, 4 ... minutes, up to an hour, and a reload does not forget it', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const failures = new Map<string, NameFailures>();
  let { onDemand, orders } = failing(clock, failures);
  const handshake = () => onDemand.lookup('shop.customer.example');
  const ordersAfter = async (minutes: number) => {
    clock.advance(minutes * MINUTE);
    await handshake();
    return orders.length;
  };
  assert.equal(await handshake(), null);
  assert.equal(orders.length, 1);
  assert.equal(await ordersAfter(0.9), 1, 'held for a minute');
  assert.equal(await ordersAfter(0.2), 2);
  assert.equal(await ordersAfter(1.9), 2, 'then two minutes');
  assert.equal(await ordersAfter(0.2), 3);
  // A reload builds a new issuer over the same failures: the hold goes on (four minutes now).
  ({ onDemand, orders } = failing(clock, failures));
  assert.equal(await ordersAfter(3), 0);
  assert.equal(await ordersAfter(1.1), 1);
  for (let i = 0; i < 12; i++) await ordersAfter(61);
  const before = orders.length;
  assert.equal(await ordersAfter(59), before, 'never held longer than an hour, never shorter once there');
  assert.equal(await ordersAfter(1.1), before + 1);
});

test('names with `_` or other non-host characters never reach the ask endpoint', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const { onDemand, asked } = failing(clock, new Map());
  for (const name of ['a_b.example.com', '_acme-challenge.example.com', '*.example.com', '192.0.2.1', 'bad..example']) assert.equal(onDemand.lookup(name), null, name);
  assert.deepEqual(asked, []);
  await onDemand.lookup('good.example.com');
  assert.deepEqual(asked, ['good.example.com']);
});
