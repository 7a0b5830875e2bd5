/**
 * ReDoS safety of every regexp the rules run on hostile input. V8 hands a regexp that
 * backtracks too much to its linear-time engine (main.ts sets the flag), but only one that
 * engine can run: no `i` or `u` flag, no lookahead, no back-references, no quantifier bound
 * above 16. These tests prove, in a child Node with `--enable-experimental-regexp-engine`
 * (which makes the `l` flag compile only such regexps), that every built-in regexp, every
 * combined per-field regexp and the custom-rule regexps after case folding qualify (the folding
 * itself is proven equivalent to the `i` flag in kernel/case-fold.test.ts). (Path
 * segment patterns use no regexps at all: see path-index.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compileRuleRegexp } from './rule-regexp.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Runs `code` (an ES module body) in a child Node with extra V8 flags; returns its stdout. */
function runChild(flags: string[], code: string): string {
  return execFileSync(process.execPath, [...flags, '--input-type=module', '-e', code], { cwd: HERE, encoding: 'utf8', timeout: 120_000 });
}

describe('rule regexps', () => {
  it('rule regexps: RE2 syntax in, flagless out (except s and m)', () => {
    assert.equal(compileRuleRegexp('(?i)union\\s+select').flags, '');
    assert.equal(compileRuleRegexp('(?is)a.b').flags, 's');
    assert.ok(compileRuleRegexp('(?i)MASSCAN|zgrab').test('Masscan/1.3'));
    // `\z` becomes `$` (a lookahead would not be linear-time).
    assert.equal(compileRuleRegexp('abc\\z').source, 'abc$');
    assert.ok(compileRuleRegexp('(?i)^/ADMIN\\z').test('/admin'));
  });
});

describe("V8's linear-time engine takes every rule regexp", () => {
  it('built-in regexps, combined per field, and custom ones after folding compile with the l flag', () => {
    const code = `
      import { loadBuiltinRules, TARGETS } from './rule-files.ts';
      import { combineSources } from './field-matcher.ts';
      import { compileRuleRegexp } from './rule-regexp.ts';
      const rules = loadBuiltinRules();
      const sources = [];
      for (const r of rules) for (const x of r.regexps) sources.push(x.pattern);
      for (const t of TARGETS) sources.push(combineSources(rules.flatMap((r) => r.regexps.filter((x) => x.in.includes(t)).map((x) => x.pattern))));
      const custom = ['(?i)union\\\\s+select', '(?i)masscan|zgrab', '(?i)^/(a+)+$', '(?i)^Mozilla/5\\\\.0 \\\\(compatible; [A-Z]+bot', '(?i)\\\\bselect\\\\b.*\\\\bfrom\\\\b', '^/api/v[0-9]+/\\\\z', '(?i)[à-ÿ]+'];
      for (const p of custom) { const re = compileRuleRegexp(p); sources.push([re.source, re.flags]); }
      const refused = [];
      for (const s of sources) {
        const [source, flags] = Array.isArray(s) ? s : [s, ''];
        try { new RegExp(source, flags + 'l'); } catch (e) { refused.push(source.slice(0, 120) + ': ' + e.message.slice(-40)); }
      }
      console.log(JSON.stringify({ count: sources.length, refused }));
    `;
    const result = JSON.parse(runChild(['--enable-experimental-regexp-engine'], code)) as { count: number; refused: string[] };
    assert.ok(result.count > 40, `checked ${result.count} regexps`);
    assert.deepEqual(result.refused, []);
  });

  it('with the flag main.ts sets, hostile input against the compiled rules comes back (no catastrophic backtracking)', () => {
    // A hang guard, not a speed test: the child is killed after 120 s (see runChild).
    const code = `
      import { setFlagsFromString } from 'node:v8';
      setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
      const { compileRequestRules } = await import('./compile.ts');
      const { gateRequest } = await import('../../../test/support/gate-request.ts');
      const check = compileRequestRules({ builtin: true, logOnly: false, exclusions: [], custom: [
        { id: 'evil', paths: [], queryRegexps: ['(?i)^(a+)+$'], headers: {}, userAgent: null, methods: [], ips: [], action: 'block', source: { file: 'x', line: 1 } },
      ] });
      const long = (s, n) => s.repeat(n);
      const queries = [long('a', 40) + '!', long("' or ", 2000), long('<a ', 3000), long('union ', 2000) + 'x', long('/*', 3000), long('\${', 3000), long('../', 3000) + 'x', long('%25', 3000), long(' and 1', 2000), long('javascript', 800), long('select(', 2000)];
      const out = [];
      for (const q of queries) {
        const req = gateRequest({ clientIp: '192.0.2.1', method: 'GET', path: '/x', rawPath: '/x', query: q, host: 'h', siteName: 'h' }, { 'user-agent': long('Mozilla/5.0 (', 1000), referer: long('x() {', 2000) });
        out.push(check(req)?.id ?? null);
      }
      console.log(JSON.stringify(out));
    `;
    const ids = JSON.parse(runChild([], code)) as (string | null)[];
    assert.equal(ids.length, 11);
    assert.equal(ids[0], null); // 40 a's and a '!': (a+)+$ does not match, and returns
  });
});
