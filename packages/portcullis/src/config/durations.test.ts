import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './durations.ts';
import { parseSize } from './sizes.ts';

test('durations: Go syntax plus days, in milliseconds', () => {
  const cases: [string, number][] = [
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1d', 86_400_000],
    ['1.5h', 5_400_000],
    ['250us', 0.25],
    ['0', 0],
    ['-1s', -1000],
    ['2h45m', 9_900_000],
  ];
  for (const [text, ms] of cases) assert.deepEqual(parseDuration(text), { ok: true, value: ms }, text);
});

test('durations: bare numbers, unknown units and junk are rejected with a reason', () => {
  for (const text of ['10', '', '1x', 's', '1 s', '1s2', '--1s', '1e3s', 'soon']) {
    const r = parseDuration(text);
    assert.equal(r.ok, false, text);
  }
  const bare = parseDuration('30');
  assert.ok(!bare.ok && /missing unit/.test(bare.error));
  assert.equal(parseDuration('9999999999d').ok, false);
});

test('sizes: decimal and binary units, case-insensitive, commas, fractions', () => {
  const cases: [string, number][] = [
    ['512', 512],
    ['10MB', 10_000_000],
    ['10mb', 10_000_000],
    ['10M', 10_000_000],
    ['1KiB', 1024],
    ['1ki', 1024],
    ['64KB', 64_000],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['1,000 B', 1000],
    ['0', 0],
  ];
  for (const [text, bytes] of cases) assert.deepEqual(parseSize(text), { ok: true, value: bytes }, text);
  for (const text of ['lots', '10QB', '-1MB', 'MB', '', '1e9']) assert.equal(parseSize(text).ok, false, text);
  assert.equal(parseSize('99999999PB').ok, false);
});
