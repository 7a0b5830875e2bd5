/** What the config tests read back: the adapted config, or the errors a Caddyfile or JSON config is refused with. */
import assert from 'node:assert/strict';
import { adaptCaddyfileText } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { parseConfigJson } from '../../src/config/validate-json.ts';
import { ConfigErrors } from '../../src/kernel/errors.ts';

/** The errors the JSON config reader reports for `value`, as people read them; fails when it reports none. */
export function jsonConfigErrors(value: unknown): string[] {
  try {
    parseConfigJson(JSON.stringify(value, null, 2), 'config.json');
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.describe());
  }
  assert.fail('expected errors');
}

/** Where the Caddyfile texts of the config tests claim to live; messages are compared without the directory. */
export const TEST_CADDYFILE = '/etc/portcullis/Caddyfile';

/** `text` adapted as if read from TEST_CADDYFILE, with `env` as the environment. */
export function adaptTestCaddyfile(text: string, env: Record<string, string> = {}): Config {
  return adaptCaddyfileText(text, TEST_CADDYFILE, { env });
}

/**
 * The errors `text` is refused with, as people read them, the directory cut from the location
 * that starts each (`Caddyfile:4: ...`), or from every path in the message with `everywhere`;
 * fails when the config is accepted.
 */
export function caddyfileErrors(text: string, options: { env?: Record<string, string>; everywhere?: boolean } = {}): string[] {
  try {
    adaptTestCaddyfile(text, options.env);
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => (options.everywhere === true ? e.describe().replaceAll('/etc/portcullis/', '') : e.describe().replace('/etc/portcullis/', '')));
  }
  assert.fail('expected the config to be refused');
}
