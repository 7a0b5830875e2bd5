/**
 * The `rules { ... }` block of the global `guard` option, through the real Caddyfile parser,
 * and its JSON form: the full syntax, defaults, and every mistake reported at its line
 * (`file:line: guard: message`), all at once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestRulesConfig } from './types.ts';
import { ErrorList } from '../kernel/errors.ts';
import { createDispenser } from './dispenser.ts';
import { parseCaddyfile } from './parser.ts';
import { builtinRuleNames, checkRequestRulesJson, parseGuardRules, ruleRegexpProblem } from './guard-rules.ts';

const FILE = '/etc/portcullis/Caddyfile';

/** The rules block holding `lines` (the first on line 4), parsed as the guard block's parser calls it. */
function parse(lines: string[]): { rules: RequestRulesConfig; errors: string[] } {
  const text = `{\n\tguard {\n\t\trules {\n${lines.map((l) => `\t\t\t${l}\n`).join('')}\t\t}\n\t}\n}\n`;
  const guard = parseCaddyfile(text, FILE, { env: {} }).global!.directives.find((d) => d.name === 'guard')!;
  const rulesDirective = guard.block!.find((d) => d.name === 'rules')!;
  const errors = new ErrorList();
  const rules = parseGuardRules(rulesDirective, createDispenser(errors, 'guard'), '/etc/portcullis');
  return { rules, errors: errors.errors.map((e) => e.describe().replace('/etc/portcullis/', '')) };
}

function errorsOf(lines: string[]): string[] {
  const { errors } = parse(lines);
  assert.ok(errors.length > 0, 'expected errors');
  return errors;
}

const at = (line: number) => ({ file: FILE, line });

describe('guard rules: the Caddyfile block', () => {
  it('an empty block gives the defaults: built-ins on, enforcing, nothing excluded', () => {
    assert.deepEqual(parse([]), { rules: { builtin: true, logOnly: false, exclusions: [], custom: [] }, errors: [] });
  });

  it('the full syntax', () => {
    const { rules, errors } = parse([
      'builtin off',
      'log_only',
      'exclude wordpress.example.com wordpress',
      'exclude *.shop.example.com sqli backup-file-probe block-admin-probe',
      'exclude * scanners',
      'rule block-admin-probe {',
      '\tpath /manager/html* /solr/*',
      '\tquery_regexp (?i)union\\s+select',
      '\theader X-Scanner .+',
      '\tuser_agent "(?i)masscan|zgrab"',
      '\tmethod put delete',
      '\tip 203.0.113.0/24 private_ranges',
      '\taction challenge',
      '}',
      'rule quiet {',
      '\tpath /old/*',
      '\taction log',
      '}',
    ]);
    assert.deepEqual(errors, []);
    assert.deepEqual(rules, {
      builtin: false,
      logOnly: true,
      exclusions: [
        { host: 'wordpress.example.com', rules: ['wordpress'], source: at(6) },
        { host: '*.shop.example.com', rules: ['sqli', 'backup-file-probe', 'block-admin-probe'], source: at(7) },
        { host: '*', rules: ['scanners'], source: at(8) },
      ],
      custom: [
        {
          id: 'block-admin-probe',
          paths: ['/manager/html*', '/solr/*'],
          queryRegexps: ['(?i)union\\s+select'],
          headers: { 'X-Scanner': '.+' },
          userAgent: '(?i)masscan|zgrab',
          methods: ['PUT', 'DELETE'],
          ips: ['203.0.113.0/24', 'private_ranges'],
          action: 'challenge',
          source: at(9),
        },
        { id: 'quiet', paths: ['/old/*'], queryRegexps: [], headers: {}, userAgent: null, methods: [], ips: [], action: 'log', source: at(18) },
      ],
    });
  });

  it('exclude hosts: lower-cased, IDN as punycode, IP addresses', () => {
    const { rules, errors } = parse(['exclude WWW.Example.COM xss', 'exclude bücher.example cms', 'exclude [2001:db8::1] rce', 'exclude 192.0.2.10 php']);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      rules.exclusions.map((e) => e.host),
      ['www.example.com', 'xn--bcher-kva.example', '2001:db8::1', '192.0.2.10'],
    );
  });

  it('every mistake, at its line', () => {
    assert.deepEqual(
      errorsOf([
        'builtin maybe', // 4
        'builtin on', // 5
        'log_only now', // 6
        'exclude wp.example.com', // 7
        'exclude wp.example.com wordpres', // 8
        'exclude https://x.example.com:8443 wordpress', // 9
        'rule bad-re {', // 10
        '\tquery_regexp (unclosed', // 11
        '}',
        'rule redos {', // 13
        '\tuser_agent (?i)^(a+)+$', // 14
        '\theader X-A \\p{L}', // 15
        '\tquery_regexp (?i:select)', // 16
        '}',
        'rule bad-action {', // 18
        '\tpath /x',
        '\taction deny', // 20
        '}',
        'rule no-condition {', // 22
        '\taction log',
        '}',
        'rule sqli {', // 25
        '\tpath /x',
        '}',
        'rule dup {', // 28
        '\tpath /a',
        '}',
        'rule dup {', // 31
        '\tpath /b',
        '}',
        'rule paths {', // 34
        '\tpath admin /a%2fb /a//b /{path}', // 35
        '\tip 300.1.1.1', // 36
        '\tmethod GE:T', // 37
        '\tpaht /x', // 38
        '}',
        'rule no-block', // 40
        'exclude x.example.com no-such-rule bad-re', // 41
      ]),
      [
        'Caddyfile:4: guard: builtin: expected on or off, got "maybe"',
        'Caddyfile:5: guard: rules builtin is already set at /etc/portcullis/Caddyfile:4',
        'Caddyfile:6: guard: log_only: expected 0 arguments, got 1 (usage: log_only)',
        'Caddyfile:7: guard: exclude: expected at least 2 arguments, got 1 (usage: exclude <host> <rule ids or categories...>)',
        'Caddyfile:9: guard: exclude: "https://x.example.com:8443" is not a host (write the host alone: no scheme, port or path)',
        'Caddyfile:11: rule bad-re: query_regexp: invalid regexp "(unclosed": Unterminated group',
        'Caddyfile:14: rule redos: user_agent: regexp "(?i)^(a+)+$": nested repetition such as (a+)+ can take exponential time on hostile input; repeat a character class instead ([\\w.]+ rather than (\\w+\\.)+)',
        'Caddyfile:15: rule redos: header X-A: regexp "\\\\p{L}": \\p{...} and \\x{...} are not supported in rules',
        'Caddyfile:16: rule redos: query_regexp: regexp "(?i:select)": flag groups such as (?i:...) are not supported in rules; start the pattern with (?i) instead',
        'Caddyfile:20: rule bad-action: action: expected block, log or challenge, got "deny"',
        'Caddyfile:22: rule no-condition: a rule needs at least one condition (path, query_regexp, header, user_agent, method or ip)',
        'Caddyfile:25: guard: rule id "sqli" is the name of a built-in rule or category (exclude names either): choose another',
        'Caddyfile:31: guard: rule dup is already defined at /etc/portcullis/Caddyfile:28',
        'Caddyfile:35: rule paths: path "admin" never matches: request paths start with "/"',
        'Caddyfile:35: rule paths: path "/a%2fb": rules match the decoded path; write the characters, not %-escapes',
        'Caddyfile:35: rule paths: path "/a//b": rules match the normalised path, which has no "//"',
        'Caddyfile:35: rule paths: path "/{path}": placeholders are not supported in rules',
        'Caddyfile:36: rule paths: ip "300.1.1.1" is not an IP address or CIDR range',
        'Caddyfile:37: rule paths: method "GE:T" is not an HTTP method token',
        'Caddyfile:38: rule paths: unknown subdirective "paht" (did you mean "path"?)',
        'Caddyfile:40: guard: rule no-block: expected a block with at least one condition (usage: rule <id> { path ...; query_regexp <re>; header <name> <re>; user_agent <re>; method ...; ip ...; action block|log|challenge })',
        'Caddyfile:8: guard: exclude: unknown rule or category "wordpres" (did you mean "wordpress"?)',
        'Caddyfile:41: guard: exclude: unknown rule or category "no-such-rule"',
      ],
    );
  });

  it('exclude may name a custom rule defined further down, and the category custom', () => {
    const { rules, errors } = parse(['exclude api.example.com later custom', 'rule later {', '\tpath /x', '}']);
    assert.deepEqual(errors, []);
    assert.deepEqual(rules.exclusions[0]?.rules, ['later', 'custom']);
  });

  it('rules needs a block and takes no arguments', () => {
    const text = `{\n\tguard {\n\t\trules on\n\t}\n}\n`;
    const guard = parseCaddyfile(text, FILE, { env: {} }).global!.directives[0]!;
    const errors = new ErrorList();
    const rules = parseGuardRules(guard.block![0]!, createDispenser(errors, 'guard'), '/etc/portcullis');
    assert.deepEqual(rules, { builtin: true, logOnly: false, exclusions: [], custom: [] });
    assert.deepEqual(
      errors.errors.map((e) => e.describe()),
      [
        '/etc/portcullis/Caddyfile:3: guard: rules: expected 0 arguments, got 1 (usage: rules { ... })',
        '/etc/portcullis/Caddyfile:3: guard: rules: expected a block: rules { builtin on|off; log_only; exclude <host> <rules...>; rule <id> { ... } }',
      ],
    );
  });
});

describe('guard rules: regexps that are safe on hostile input', () => {
  it('accepts ordinary rule regexps', () => {
    for (const p of ['(?i)union\\s+select', '(?i)masscan|zgrab', '^/api/v[0-9]+/', '(?:ab)+c', '(\\d{1,3}\\.){3}\\d{1,3}', '[a-z]{1,64}', '(?P<id>[0-9]+)', '\\Qa.b\\E+']) {
      assert.equal(ruleRegexpProblem(p), null, p);
    }
  });

  it('refuses nested repetition, lookaround, back-references and Unicode classes', () => {
    for (const p of ['(a+)+', '(a*)*$', '(?:\\w+\\s?)*', '(x|y+)+z', '((a)+b)*', '(a{1,3})+', '(?:a+){2,100}', '(?=a)', '(a)\\1', '\\pL', '[\\p{Greek}]', '\\x{263a}', 'a(?i)b', '(?s:.)']) {
      assert.notEqual(ruleRegexpProblem(p), null, p);
    }
  });
});

describe('guard rules: the JSON form', () => {
  function check(v: unknown): { value: RequestRulesConfig | undefined; errors: string[] } {
    const errors: string[] = [];
    const value = checkRequestRulesJson(v, 'guard.rules', { fail: (p, m) => errors.push(`${p}: ${m}`), sourceAt: () => ({ file: 'config.json', line: 3 }) });
    return { value, errors };
  }

  it('fills defaults and reads back what the Caddyfile adapter writes', () => {
    assert.deepEqual(check({}), { value: { builtin: true, logOnly: false, exclusions: [], custom: [] }, errors: [] });
    const { rules } = parse(['log_only', 'exclude *.example.com wordpress r1', 'rule r1 {', '\tuser_agent (?i)zgrab', '\tip 192.0.2.0/24', '}']);
    assert.deepEqual(check(JSON.parse(JSON.stringify(rules))), { value: rules, errors: [] });
  });

  it('a short rule gets its defaults and the line of its object', () => {
    const { value, errors } = check({ custom: [{ id: 'x', paths: ['/x'] }] });
    assert.deepEqual(errors, []);
    assert.deepEqual(value?.custom[0], { id: 'x', paths: ['/x'], queryRegexps: [], headers: {}, userAgent: null, methods: [], ips: [], action: 'block', source: { file: 'config.json', line: 3 } });
  });

  it('reports every problem by its path', () => {
    const { errors } = check({
      builtin: 'yes',
      logonly: true,
      exclusions: [{ host: 'a.example.com', rules: ['wordpres'] }, { host: 'x/y', rules: [] }],
      custom: [
        { id: 'ok', paths: ['nope'], queryRegexps: ['(a+)+'], headers: { 'X-A': '(' }, userAgent: 5, methods: ['G T'], ips: ['1.2.3'], action: 'deny' },
        { id: 'xss', paths: ['/x'] },
        { id: 'empty' },
      ],
    });
    assert.deepEqual(errors, [
      'guard.rules.logonly: unknown field (did you mean "logOnly"?)',
      'guard.rules.builtin: expected true or false',
      'guard.rules.custom[0].headers["X-A"]: invalid regexp "(": Unterminated group',
      'guard.rules.custom[0].userAgent: expected a regexp or null',
      'guard.rules.custom[0].action: expected one of "block", "log", "challenge"',
      'guard.rules.custom[0].paths[0]: path "nope" never matches: request paths start with "/"',
      'guard.rules.custom[0].queryRegexps[0]: regexp "(a+)+": nested repetition such as (a+)+ can take exponential time on hostile input; repeat a character class instead ([\\w.]+ rather than (\\w+\\.)+)',
      'guard.rules.custom[0].methods[0]: method "G T" is not an HTTP method token',
      'guard.rules.custom[0].ips[0]: ip "1.2.3" is not an IP address or CIDR range',
      'guard.rules.custom[1].id: rule id "xss" is the name of a built-in rule or category (exclude names either): choose another',
      'guard.rules.custom[2]: a rule needs at least one condition (paths, queryRegexps, headers, userAgent, methods or ips)',
      'guard.rules.exclusions[0].rules: unknown rule or category "wordpres" (did you mean "wordpress"?)',
      'guard.rules.exclusions[1].host: exclude: "x/y" is not a host (write the host alone: no scheme, port or path)',
      'guard.rules.exclusions[1].rules: expected a non-empty list',
    ]);
  });

  it('the built-in names come from the shipped data files', () => {
    const names = builtinRuleNames();
    assert.equal(names.error, null);
    for (const id of ['wordpress-probe', 'dotfile-probe', 'vcs-probe', 'path-traversal', 'sqli', 'xss', 'scanner-user-agent', 'shell-probe', 'spring-actuator-probe']) assert.ok(names.ids.has(id), id);
    for (const c of ['wordpress', 'exposed-files', 'traversal', 'sqli', 'xss', 'scanners', 'rce', 'java', 'php', 'cms', 'devices']) assert.ok(names.categories.has(c), c);
    assert.match(builtinRuleNames('/nonexistent').error ?? '', /cannot read the built-in rules in \/nonexistent: ENOENT/);
  });
});
