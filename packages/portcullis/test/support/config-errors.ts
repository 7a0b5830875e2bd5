/** The errors the JSON config reader reports for `value`, as people read them; fails when it reports none. */
import assert from 'node:assert/strict';
import { parseConfigJson } from '../../src/config/validate-json.ts';
import { ConfigErrors } from '../../src/kernel/errors.ts';

export function jsonConfigErrors(value: unknown): string[] {
  try {
    parseConfigJson(JSON.stringify(value, null, 2), 'config.json');
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.describe());
  }
  assert.fail('expected errors');
}
