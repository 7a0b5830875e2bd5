/** The global `guard` block, through the real parser and adapter, and its JSON form. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigErrors } from '../kernel/errors.ts';
import { parseConfigJson, validateConfig } from './validate-json.ts';
import { REDACTED_SECRET, redactSecrets } from './redact.ts';
import { adaptTestCaddyfile, caddyfileErrors, TEST_CADDYFILE } from '../../test/support/config-errors.ts';

const errorsOf = (text: string): string[] => caddyfileErrors(text);
const SITE = ':8080 {\n\trespond "ok"\n}\n';



function withGuard(lines: string[]): string {
  return `{\n\tguard {\n${lines.map((l) => `\t\t${l}\n`).join('')}\t}\n}\n${SITE}`;
}

describe('guard block', () => {
  it('no guard block: no guard key, so plain configs read back unchanged', () => {
    assert.equal('guard' in adaptTestCaddyfile(SITE), false);
  });

  it('`guard` alone turns the guard on with its defaults', () => {
    assert.deepEqual(adaptTestCaddyfile(`{\n\tguard\n}\n${SITE}`).guard, {
      neverBan: [],
      blocklists: [],
      simulate: false,
      rules: { builtin: true, logOnly: false, exclusions: [], custom: [] },
      source: { file: TEST_CADDYFILE, line: 2 },
    });
  });

  it('allow and blocklist lines add up; paths are relative to the file; private_ranges expands; rules are read by guard-rules.ts', () => {
    const config = adaptTestCaddyfile(withGuard(['allow 192.0.2.10 2001:db8::/32', 'allow private_ranges 192.0.2.10', 'blocklist lists/a.txt /var/lib/b.txt', 'blocklist c.txt', 'simulate', 'rules {', '\tbuiltin off', '}']));
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
        'Caddyfile:2: guard: expected 0 arguments, got 1 (usage: guard { allow <ranges...>; blocklist <files...>; simulate; scenarios on|off|simulate; rules { ... }; crowdsec { ... } })',
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

describe('guard crowdsec block', () => {
  const crowdsec = (lines: string[]) => withGuard(['crowdsec {', ...lines.map((l) => `\t${l}`), '}']);

  it('a bouncer: the URL is normalised, the interval defaults to 10s, push is off without a machine', () => {
    const config = adaptTestCaddyfile(crowdsec(['lapi_url http://127.0.0.1:8080/', 'api_key 0123abcd']));
    assert.deepEqual(config.guard!.crowdsec, {
      lapiUrl: 'http://127.0.0.1:8080',
      apiKey: '0123abcd',
      machineId: null,
      password: null,
      pollIntervalMs: 10_000,
      push: false,
      source: { file: TEST_CADDYFILE, line: 3 },
    });
    assert.deepEqual(validateConfig(config).guard, config.guard, 'the JSON form reads back the same');
  });

  it('a watcher pushes by default; both sides with a path prefix, an interval and {$ENV} secrets', () => {
    const watcher = adaptTestCaddyfile(crowdsec(['lapi_url https://LAPI.example.com/crowdsec/', 'machine_id portcullis-1', 'password "s3cret with spaces ✓"']));
    assert.equal(watcher.guard!.crowdsec!.password, 's3cret with spaces ✓');
    assert.equal(watcher.guard!.crowdsec!.push, true);
    assert.equal(watcher.guard!.crowdsec!.lapiUrl, 'https://lapi.example.com/crowdsec');
    const both = adaptTestCaddyfile(crowdsec(['lapi_url http://[::1]:8080', 'api_key {$KEY}', 'machine_id m1', 'password {$PW}', 'poll_interval 1m', 'push off']), { KEY: 'k3y', PW: 'pw' });
    assert.deepEqual({ ...both.guard!.crowdsec!, source: null }, { lapiUrl: 'http://[::1]:8080', apiKey: 'k3y', machineId: 'm1', password: 'pw', pollIntervalMs: 60_000, push: false, source: null });
    // `portcullis adapt` and the admin API print the config: never the key or the password.
    const printed = redactSecrets(both).guard!.crowdsec!;
    assert.equal(printed.apiKey, REDACTED_SECRET);
    assert.equal(printed.password, REDACTED_SECRET);
    assert.equal(both.guard!.crowdsec!.apiKey, 'k3y', 'the running config keeps them');
    assert.deepEqual(validateConfig(both).guard, both.guard);
  });

  it('every mistake is reported at its line, with did-you-mean', () => {
    assert.deepEqual(errorsOf(crowdsec(['lapi_url ftp://127.0.0.1:8080', 'api_kye abc', 'poll_interval 500ms', 'push maybe', 'machine_id a b', 'lapi_url http://x', 'api_key "with space"'])), [
      'Caddyfile:4: guard: crowdsec: lapi_url: "ftp://127.0.0.1:8080" is not an http:// or https:// URL',
      'Caddyfile:5: guard: crowdsec: unknown subdirective "api_kye" (did you mean "api_key"?)',
      'Caddyfile:6: guard: crowdsec: poll_interval: 500ms is shorter than 1s',
      'Caddyfile:7: guard: crowdsec: push: expected on or off, got "maybe"',
      'Caddyfile:8: guard: crowdsec: machine_id: expected 1 argument, got 2 (usage: machine_id <id>)',
      'Caddyfile:9: guard: crowdsec: lapi_url: already set at /etc/portcullis/Caddyfile:4',
      'Caddyfile:10: guard: crowdsec: api_key: the key may contain only printable ASCII characters without spaces',
    ]);
    assert.deepEqual(errorsOf(crowdsec(['lapi_url http://user:pw@127.0.0.1:8080', 'api_key k'])), ['Caddyfile:4: guard: crowdsec: lapi_url: the URL must not carry credentials: give api_key, or machine_id and password']);
    assert.deepEqual(errorsOf(crowdsec(['lapi_url http://127.0.0.1:8080/?x=1', 'api_key k'])), ['Caddyfile:4: guard: crowdsec: lapi_url: "http://127.0.0.1:8080/?x=1": a query or fragment has no place in the LAPI\'s base URL']);
    assert.deepEqual(errorsOf(crowdsec(['lapi_url not a url', 'api_key k'])), ['Caddyfile:4: guard: crowdsec: lapi_url: expected 1 argument, got 3 (usage: lapi_url <http(s) url>)']);
  });

  it('missing lapi_url, nothing to do, half a watcher, push without a machine, a second block', () => {
    assert.deepEqual(errorsOf(withGuard(['crowdsec', 'crowdsec {', '}'])), [
      'Caddyfile:3: guard: crowdsec: missing lapi_url (usage: crowdsec { lapi_url <url>; api_key <key>; machine_id <id>; password <password>; poll_interval <duration>; push on|off })',
      "Caddyfile:3: guard: crowdsec: neither api_key (to enforce CrowdSec's decisions, as a bouncer) nor machine_id and password (to send ours, as a watcher) is set",
      'Caddyfile:4: guard: crowdsec: already set at /etc/portcullis/Caddyfile:3; one Local API per guard',
    ]);
    assert.deepEqual(errorsOf(crowdsec(['lapi_url http://127.0.0.1:8080', 'machine_id m'])), [
      'Caddyfile:3: guard: crowdsec: machine_id is set without password: the watcher needs both',
      "Caddyfile:3: guard: crowdsec: neither api_key (to enforce CrowdSec's decisions, as a bouncer) nor machine_id and password (to send ours, as a watcher) is set",
    ]);
    assert.deepEqual(errorsOf(crowdsec(['lapi_url http://127.0.0.1:8080', 'api_key k', 'push on'])), ['Caddyfile:3: guard: crowdsec: push on needs machine_id and password (`cscli machines add NAME --password P`)']);
    assert.deepEqual(errorsOf(crowdsec(['lapi_url http://127.0.0.1:8080', 'machine_id m', 'password p', 'push off'])), ['Caddyfile:3: guard: crowdsec: push is off and there is no api_key: nothing to do']);
    assert.deepEqual(errorsOf(crowdsec(['lapi_url http://127.0.0.1:8080 {', '}', 'api_key k'])), ['Caddyfile:4: guard: crowdsec: lapi_url: does not take a block']);
  });

  it('in JSON: defaults fill in, the same checks apply, redacted secrets are refused', () => {
    const guard = parseConfigJson({ sites: [], guard: { crowdsec: { lapiUrl: 'http://127.0.0.1:8080/', machineId: 'm', password: 'p' } } }).guard!;
    assert.deepEqual({ ...guard.crowdsec!, source: null }, { lapiUrl: 'http://127.0.0.1:8080', apiKey: null, machineId: 'm', password: 'p', pollIntervalMs: 10_000, push: true, source: null });
    try {
      parseConfigJson(JSON.stringify({ sites: [], guard: { crowdsec: { lapiUrl: 'gopher://x', apiKey: '(redacted)', password: '(redacted)', pollIntervalMs: 10, push: 'yes', pollInterval: 1 } } }, null, 2), 'c.json');
      assert.fail('expected errors');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors, String(err));
      assert.deepEqual(err.errors.map((e) => e.describe()), [
        'c.json:10: guard.crowdsec.pollInterval: unknown field (did you mean "pollIntervalMs"?)',
        'c.json:5: guard.crowdsec.lapiUrl: "gopher://x" is not an http:// or https:// URL',
        'c.json:6: guard.crowdsec.apiKey: this secret was redacted when the config was printed; put the real key here',
        'c.json:7: guard.crowdsec.password: this secret was redacted when the config was printed; put the real password here',
        'c.json:8: guard.crowdsec.pollIntervalMs: must be at least 1000 (1s)',
        'c.json:9: guard.crowdsec.push: expected true or false, got string "yes"',
      ]);
    }
    try {
      parseConfigJson(JSON.stringify({ sites: [], guard: { crowdsec: { lapiUrl: 'http://127.0.0.1:8080', password: 'p' } } }, null, 2), 'c.json');
      assert.fail('expected errors');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors, String(err));
      assert.deepEqual(err.errors.map((e) => e.describe()), [
        'c.json:4: guard.crowdsec: password is set without machine_id: the watcher needs both',
        "c.json:4: guard.crowdsec: neither api_key (to enforce CrowdSec's decisions, as a bouncer) nor machine_id and password (to send ours, as a watcher) is set",
      ]);
    }
  });
});

describe('guard challenge block', () => {
  const challenge = (lines: string[]) => withGuard(['challenge {', ...lines.map((l) => `\t${l}`), '}']);

  it('difficulty and clearance, as written; the JSON form reads back the same', () => {
    const config = adaptTestCaddyfile(challenge(['difficulty 18', 'clearance 30m']));
    assert.deepEqual(config.guard!.challenge, { difficulty: 18, clearanceMs: 30 * 60_000, source: { file: TEST_CADDYFILE, line: 3 } });
    assert.deepEqual(validateConfig(config).guard, config.guard, 'the JSON form reads back the same');
    for (const [difficulty, clearance, ms] of [['8', '1m', 60_000], ['24', '30d', 30 * 86_400_000], ['16', '1h30m', 90 * 60_000]] as const) {
      const c = adaptTestCaddyfile(challenge([`difficulty ${difficulty}`, `clearance ${clearance}`])).guard!.challenge!;
      assert.deepEqual([c.difficulty, c.clearanceMs], [Number(difficulty), ms]);
    }
  });

  it('defaults: an empty block, or one setting alone; no block, no challenge key', () => {
    assert.deepEqual({ ...adaptTestCaddyfile(withGuard(['challenge'])).guard!.challenge!, source: null }, { difficulty: 16, clearanceMs: 3_600_000, source: null });
    assert.deepEqual({ ...adaptTestCaddyfile(challenge([])).guard!.challenge!, source: null }, { difficulty: 16, clearanceMs: 3_600_000, source: null });
    assert.equal(adaptTestCaddyfile(challenge(['difficulty 20'])).guard!.challenge!.clearanceMs, 3_600_000);
    assert.equal(adaptTestCaddyfile(challenge(['clearance 2h'])).guard!.challenge!.difficulty, 16);
    assert.equal('challenge' in adaptTestCaddyfile(withGuard(['simulate'])).guard!, false);
  });

  it('every bad value is reported at its line, naming the subdirective and the range', () => {
    assert.deepEqual(
      errorsOf(challenge(['difficulty 7', 'clearance 59s', 'difficulty 18', 'clearance 1h'])),
      [
        'Caddyfile:4: guard: challenge: difficulty: "7" is not an integer from 8 to 24',
        'Caddyfile:5: guard: challenge: clearance: 59s is shorter than 1m (allowed: 1m to 30d)',
        'Caddyfile:6: guard: challenge: difficulty is already set at /etc/portcullis/Caddyfile:4',
        'Caddyfile:7: guard: challenge: clearance is already set at /etc/portcullis/Caddyfile:5',
      ],
    );
    // One at a time, so each value's own message shows.
    const one = (line: string) => errorsOf(challenge([line]));
    assert.deepEqual(one('difficulty 25'), ['Caddyfile:4: guard: challenge: difficulty: "25" is not an integer from 8 to 24']);
    assert.deepEqual(one('difficulty 1.5'), ['Caddyfile:4: guard: challenge: difficulty: "1.5" is not an integer from 8 to 24']);
    assert.deepEqual(one('difficulty sixteen'), ['Caddyfile:4: guard: challenge: difficulty: "sixteen" is not an integer from 8 to 24']);
    assert.deepEqual(one('difficulty'), ['Caddyfile:4: guard: challenge: difficulty: expected 1 argument, got 0 (usage: difficulty <8..24>)']);
    assert.deepEqual(one('clearance 31d'), ['Caddyfile:4: guard: challenge: clearance: 31d is longer than 30d (allowed: 1m to 30d)']);
    assert.deepEqual(one('clearance 0'), ['Caddyfile:4: guard: challenge: clearance: 0 is shorter than 1m (allowed: 1m to 30d)']);
    assert.deepEqual(one('clearance 10'), ['Caddyfile:4: guard: challenge: clearance: invalid duration "10": missing unit (use ms, s, m, h or d, e.g. 10s)']);
    assert.deepEqual(one('clearance -1h'), ['Caddyfile:4: guard: challenge: clearance: duration "-1h" must not be negative']);
    assert.deepEqual(one('clearance 1h 2h'), ['Caddyfile:4: guard: challenge: clearance: expected 1 argument, got 2 (usage: clearance <duration>)']);
    assert.deepEqual(one('clearance 1h {\n}'), ['Caddyfile:4: guard: challenge: clearance: does not take a block']);
  });

  it('unknown subdirectives are refused (with did-you-mean); arguments and a second block too', () => {
    assert.deepEqual(errorsOf(challenge(['dificulty 18', 'ttl 1h'])), [
      'Caddyfile:4: guard: challenge: unknown subdirective "dificulty" (did you mean "difficulty"?)',
      'Caddyfile:5: guard: challenge: unknown subdirective "ttl"',
    ]);
    assert.deepEqual(errorsOf(withGuard(['challenge 18', 'challenge {', '}'])), [
      'Caddyfile:3: guard: challenge: expected 0 arguments, got 1 (usage: challenge { difficulty <8..24>; clearance <1m..30d> })',
      'Caddyfile:4: guard: challenge: already set at /etc/portcullis/Caddyfile:3; write it in one block',
    ]);
  });

  it('in JSON: defaults fill in, the same ranges apply, by path', () => {
    const guard = parseConfigJson({ sites: [], guard: { challenge: {} } }).guard!;
    assert.deepEqual({ ...guard.challenge!, source: null }, { difficulty: 16, clearanceMs: 3_600_000, source: null });
    assert.equal(parseConfigJson({ sites: [], guard: { challenge: { difficulty: 24, clearanceMs: 60_000 } } }).guard!.challenge!.clearanceMs, 60_000);
    try {
      parseConfigJson(JSON.stringify({ sites: [], guard: { challenge: { difficulty: 25, clearanceMs: 59_999, ttl: 1 } } }, null, 2), 'c.json');
      assert.fail('expected errors');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors, String(err));
      assert.deepEqual(err.errors.map((e) => e.describe()), [
        'c.json:7: guard.challenge.ttl: unknown field',
        'c.json:5: guard.challenge.difficulty: 25 is out of range (8 to 24)',
        'c.json:6: guard.challenge.clearanceMs: 59999 is shorter than 1m (allowed: 1m to 30d)',
      ]);
    }
    try {
      parseConfigJson(JSON.stringify({ sites: [], guard: { challenge: { difficulty: 12.5, clearanceMs: 2_592_000_001 } } }, null, 2), 'c.json');
      assert.fail('expected errors');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors, String(err));
      assert.deepEqual(err.errors.map((e) => e.describe()), [
        'c.json:5: guard.challenge.difficulty: expected a whole number, got 12.5',
        'c.json:6: guard.challenge.clearanceMs: 2592000001 is longer than 30d (allowed: 1m to 30d)',
      ]);
    }
  });
});
