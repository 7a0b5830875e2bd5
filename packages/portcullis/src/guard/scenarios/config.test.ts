/** `scenarios on|off|simulate` in the global `guard` block, and its JSON form. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigErrors } from '../../kernel/errors.ts';
import { adaptCaddyfileText } from '../../config/load.ts';
import { parseConfigJson, validateConfig } from '../../config/validate-json.ts';

const FILE = '/etc/portcullis/Caddyfile';
const SITE = ':8080 {\n\trespond "ok"\n}\n';
const withGuard = (lines: string[]) => `{\n\tguard {\n${lines.map((l) => `\t\t${l}\n`).join('')}\t}\n}\n${SITE}`;
const adapt = (text: string) => adaptCaddyfileText(text, FILE, { env: {} });

describe('guard scenarios setting', () => {
  it('absent: the scenarios run (no key, so existing configs read back unchanged)', () => {
    assert.equal('scenarios' in adapt(withGuard([])).guard!, false);
  });

  it('on, off and simulate are read, and read back the same from JSON', () => {
    for (const mode of ['on', 'off', 'simulate'] as const) {
      const config = adapt(withGuard([`scenarios ${mode}`]));
      assert.equal(config.guard!.scenarios, mode);
      assert.deepEqual(validateConfig(config).guard, config.guard);
    }
  });

  it('a wrong value, a missing one or a block is reported at its line', () => {
    try {
      adapt(withGuard(['scenarios maybe', 'scenarios', 'scenarios off {', '}']));
      assert.fail('expected errors');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors, String(err));
      assert.deepEqual(err.errors.map((e) => e.describe().replace('/etc/portcullis/', '')), [
        'Caddyfile:3: guard: scenarios: expected on, off or simulate, got "maybe"',
        'Caddyfile:4: guard: scenarios: expected 1 argument, got 0 (usage: scenarios on|off|simulate)',
        'Caddyfile:5: guard: scenarios: does not take a block',
      ]);
    }
  });

  it('JSON: optional, one of on/off/simulate', () => {
    assert.equal('scenarios' in parseConfigJson({ sites: [], guard: {} }).guard!, false);
    assert.equal(parseConfigJson({ sites: [], guard: { scenarios: 'simulate' } }).guard!.scenarios, 'simulate');
    assert.throws(() => parseConfigJson({ sites: [], guard: { scenarios: true } }), (err: unknown) => {
      assert.ok(err instanceof ConfigErrors);
      assert.match(err.errors[0]!.describe(), /guard\.scenarios: expected one of "on", "off", "simulate", got/);
      return true;
    });
  });
});
