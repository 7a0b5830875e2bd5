import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../kernel/clock.ts';
import type { Decision, DecisionRepository, NewDecision } from '../store/index.ts';
import { createDecisionIndex } from './decision-index.ts';
import { createDecisionSync } from './decision-sync.ts';
import { recordingLogger } from '../../test/support/recording-logger.ts';

const START = 1_700_000_000_000;

/**
 * The repository's contract in a few lines (the SQL one passes the full suite in
 * store/contract.ts): rows carry the counter value of their last change.
 */
function fakeDecisions(clock: ManualClock) {
  const rows: { d: Decision; seq: number; removed: boolean }[] = [];
  let seq = 0;
  let id = 0;
  const state = { failWith: null as Error | null, queries: 0 };
  const check = () => {
    state.queries++;
    if (state.failWith !== null) throw state.failWith;
  };
  const live = (r: (typeof rows)[number]) => !r.removed && (r.d.expiresAt === null || r.d.expiresAt > clock.now());
  const lift = (pick: (d: Decision) => boolean) => {
    let n = 0;
    for (const r of rows) {
      if (live(r) && pick(r.d)) {
        r.removed = true;
        r.seq = ++seq;
        n++;
      }
    }
    return n;
  };
  const repository: DecisionRepository = {
    async add(input: NewDecision) {
      check();
      const d = { ...input, id: ++id, createdAt: clock.now() };
      rows.push({ d, seq: ++seq, removed: false });
      return d;
    },
    async remove(target) {
      check();
      return lift((d) => d.id === target) > 0;
    },
    async removeByValue(value) {
      check();
      return lift((d) => d.value === value);
    },
    async list() {
      check();
      return rows.filter(live).map((r) => r.d);
    },
    async version() {
      check();
      return seq;
    },
    async changedSince(version, limit = 10_000) {
      check();
      const changed = rows.filter((r) => r.seq > version).sort((a, b) => a.seq - b.seq).slice(0, limit);
      const last = changed.at(-1)?.seq ?? version;
      return {
        version: changed.length === limit ? last : Math.max(seq, version),
        added: changed.filter((r) => !r.removed).map((r) => r.d),
        removed: changed.filter((r) => r.removed).map((r) => r.d.id),
      };
    },
    async deleteExpired() {
      check();
      return 0;
    },
  };
  return { repository, state };
}


const ban = (value: string): NewDecision => ({ kind: 'ban', scope: 'ip', value, reason: '', origin: 'cli', expiresAt: START + 60_000 });

describe('decision sync', () => {
  test('start loads every active decision; polls apply what other processes add and lift', async () => {
    const clock = new ManualClock(START);
    const { repository } = fakeDecisions(clock);
    const index = createDecisionIndex({ clock });
    const { logger } = recordingLogger();
    const early = await repository.add(ban('192.0.2.1'));
    const sync = createDecisionSync({ decisions: repository, index, logger, intervalMs: 60_000 });
    try {
      await sync.start();
      assert.equal(index.match('192.0.2.1')?.id, early.id);
      // Another process (the CLI) writes to the store: nothing changes until a poll.
      await repository.add(ban('192.0.2.2'));
      await repository.removeByValue('192.0.2.1');
      assert.equal(index.match('192.0.2.2'), null);
      await sync.poll();
      assert.ok(index.match('192.0.2.2'));
      assert.equal(index.match('192.0.2.1'), null);
      assert.equal(index.size, 1);
    } finally {
      sync.stop();
    }
  });

  test('add and lift through the sync are in force when they resolve', async () => {
    const clock = new ManualClock(START);
    const { repository } = fakeDecisions(clock);
    const index = createDecisionIndex({ clock });
    const sync = createDecisionSync({ decisions: repository, index, logger: recordingLogger().logger, intervalMs: 60_000 });
    try {
      await sync.start();
      const d = await sync.add(ban('2001:db8::7'));
      assert.equal(index.match('2001:db8::7')?.id, d.id);
      assert.equal(await sync.remove(d.id), true);
      assert.equal(index.match('2001:db8::7'), null);
      await sync.add(ban('198.51.100.0/24'));
      assert.equal(await sync.removeByValue('198.51.100.0/24'), 1);
      assert.equal(index.match('198.51.100.9'), null);
    } finally {
      sync.stop();
    }
  });

  test('the timer polls; a store that fails is logged once and the decisions in force stay', async () => {
    const clock = new ManualClock(START);
    const { repository, state } = fakeDecisions(clock);
    const index = createDecisionIndex({ clock });
    const { logger, lines } = recordingLogger();
    await repository.add(ban('192.0.2.1'));
    const sync = createDecisionSync({ decisions: repository, index, logger, intervalMs: 10 });
    try {
      await sync.start();
      state.failWith = new Error('disk I/O error');
      const before = state.queries;
      for (let i = 0; i < 100 && state.queries < before + 5; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(state.queries >= before + 5, 'the timer kept polling');
      assert.equal(lines.filter((l) => /polling the store failed/.test(String(l.msg))).length, 1);
      assert.ok(index.match('192.0.2.1'), 'still banned while the store is away');
      state.failWith = null;
      await repository.add(ban('192.0.2.2'));
      for (let i = 0; i < 100 && index.match('192.0.2.2') === null; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(index.match('192.0.2.2'));
      assert.ok(lines.some((l) => /answers again/.test(String(l.msg))));
    } finally {
      sync.stop();
    }
    const stopped = state.queries;
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(state.queries <= stopped + 1, 'no polling after stop');
  });

  test('more changes than one page are all applied in one poll', async () => {
    const clock = new ManualClock(START);
    const { repository } = fakeDecisions(clock);
    const index = createDecisionIndex({ clock });
    const sync = createDecisionSync({ decisions: repository, index, logger: recordingLogger().logger, intervalMs: 60_000 });
    try {
      await sync.start();
      for (let i = 0; i < 25_000; i++) await repository.add(ban(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
      await sync.poll();
      assert.equal(index.size, 25_000);
    } finally {
      sync.stop();
    }
  });
});
