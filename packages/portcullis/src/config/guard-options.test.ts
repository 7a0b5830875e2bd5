/** The global `guard` block, through the real parser and adapter, and its JSON form. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from './types.ts';
import { ConfigErrors } from '../kernel/errors.ts';
import { adaptCaddyfileText } from './load.ts';
import { parseConfigJson, validateConfig } from './validate-json.ts';

const FILE = '/etc/portcullis/Caddyfile';
const SITE = ':8080 {\n\trespond "ok"\n}\n';

function adapt(text: string): Config {
  return adaptCaddyfileText(text, FILE, { env: {} });
}

function errorsOf(text: string): string[] {
  try {
    adapt(text);
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.describe().replace('/etc/portcullis/', ''));
  }
  assert.fail('expected the config to be refused');
}

function withGuard(lines: string[]): string {
  return `{\n\tguard {\n${lines.map((l) => `\t\t${l}\n`).join('')}\t}\n}\n${SITE}`;
}

describe('guard block', () => {
  it('no guard block: no guard key, so plain configs read back unchanged', () => {
    assert.equal('guard' in adapt(SITE), false);
  });

  it('`guard` alone turns the guard on with its defaults', () => {
    assert.deepEqual(adapt(`{\n\tguard\n}\n${SITE}`).guard, {
      neverBan: [],
      blocklists: [],
      simulate: false,
      rules: { builtin: true, logOnly: false, exclusions: [], custom: [] },
      source: { file: FILE, line: 2 },
    });
  });

  it('allow and blocklist lines add up; paths are relative to the file; private_ranges expands; rules are read by guard-rules.ts', () => {
    const config = adapt(withGuard(['allow 192.0.2.10 2001:db8::/32', 'allow private_ranges 192.0.2.10', 'blocklist lists/a.txt /var/lib/b.txt', 'blocklist c.txt', 'simulate', 'rules {', '\tbuiltin off', '}']));
    const guard = config.guard!;
    assert.deepEqual(guard.neverBan, ['192.0.2.10', '2001:db8::/32', '192.168.0.0/16', '172.16.0.0/12', '10.0.0.0/8', '127.0.0.1/8', 'fd00::/8', '::1']);
    assert.deepEqual(guard.blocklists, ['/etc/portcullis/lists/a.txt', '/var/lib/b.txt', '/etc/portcullis/c.txt']);
    assert.equal(guard.simulate, true);
    assert.equal(guard.rules.builtin, false);
    assert.deepEqual(validateConfig(config).guard, guard, 'the JSON form reads back the same');
  });

  it('every mistake is reported at its line', () => {
    assert.deepEqual(
      errorsOf(`{\n\tguard extra {\n\t\tallow 10.0.0.300 010.0.0.1\n\t\tallow\n\t\tblocklist a.txt a.txt\n\t\tblocklist "" {\n\t\t}\n\t\tsimulate yes\n\t\tsimualte\n\t\trules {\n\t\t}\n\t\trules {\n\t\t}\n\t}\n\tguard\n}\n${SITE}`),
      [
        'Caddyfile:2: guard: expected 0 arguments, got 1 (usage: guard { allow <ranges...>; blocklist <files...>; simulate; rules { ... } })',
        'Caddyfile:3: guard: allow: "10.0.0.300" is not an IP address or CIDR range',
        'Caddyfile:3: guard: allow: "010.0.0.1" is not an IP address or CIDR range',
        'Caddyfile:4: guard: allow: expected at least 1 argument, got 0 (usage: allow <ranges...>)',
        'Caddyfile:5: guard: blocklist: a.txt is listed twice',
        'Caddyfile:6: guard: blocklist: does not take a block',
        'Caddyfile:6: guard: blocklist: the path is empty',
        'Caddyfile:8: guard: simulate: expected 0 arguments, got 1 (usage: simulate)',
        'Caddyfile:9: guard: unknown subdirective "simualte" (did you mean "simulate"?)',
        'Caddyfile:12: guard: rules: already set at /etc/portcullis/Caddyfile:10; write them in one block',
        'Caddyfile:15: guard: already set at /etc/portcullis/Caddyfile:2; write it once',
      ],
    );
  });
});

describe('guard in JSON', () => {
  const base = { sites: [] };

  it('defaults fill in; absent stays absent; null is none', () => {
    assert.equal('guard' in parseConfigJson(base), false);
    assert.equal(parseConfigJson({ ...base, guard: null }).guard, null);
    const guard = parseConfigJson({ ...base, guard: {} }).guard!;
    assert.deepEqual({ ...guard, source: null }, { neverBan: [], blocklists: [], simulate: false, rules: { builtin: true, logOnly: false, exclusions: [], custom: [] }, source: null });
  });

  it('bad values are named by path', () => {
    try {
      parseConfigJson(JSON.stringify({ ...base, guard: { neverBan: ['10.0.0.0/33'], blocklists: ['relative.txt', '/a', '/a'], simulate: 'yes', rules: { custom: [{ id: 'x' }] }, allow: [] } }, null, 2), 'c.json');
      assert.fail('expected errors');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors, String(err));
      assert.deepEqual(err.errors.map((e) => e.describe()), [
        'c.json:20: guard.allow: unknown field',
        'c.json:5: guard.neverBan[0]: "10.0.0.0/33" is not an IP address or CIDR range',
        'c.json:8: guard.blocklists[0]: expected an absolute path, got "relative.txt"',
        'c.json:10: guard.blocklists[2]: /a is listed twice',
        'c.json:12: guard.simulate: expected true or false, got string "yes"',
        'c.json:15: guard.rules.custom[0]: a rule needs at least one condition (paths, queryRegexps, headers, userAgent, methods or ips)',
      ]);
    }
  });
});
