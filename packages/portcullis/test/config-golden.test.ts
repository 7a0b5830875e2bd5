/**
 * Golden tests of the Caddyfile adapter: every fixtures/caddyfile/NAME.caddyfile is parsed and
 * adapted; NAME.json holds the expected config, NAME.errors the expected error lines
 * (`file:line: directive: message`, one per line). File names are relative to the fixtures
 * directory so the files are portable. Regenerate with `UPDATE_GOLDEN=1 node --test ...` and
 * review the diff: a changed golden file is a changed behaviour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { adaptCaddyfileText } from '../src/config/load.ts';
import { parseConfigJson } from '../src/config/validate-json.ts';
import { ConfigErrors } from '../src/kernel/errors.ts';

const dir = join(import.meta.dirname, 'fixtures', 'caddyfile');
const update = process.env.UPDATE_GOLDEN === '1';
/** The environment fixtures see for {$VAR} (never the real one, so results do not depend on the machine). */
const env = {
  SITE_DOMAIN: 'env.example.com',
  UPSTREAM_PORT: '9001',
  GRAFANA_OIDC_SECRET: 'grafana-fixture-secret-0123456789',
  BILLING_CLIENT_SECRET: 'billing-fixture-secret-0123456789',
};

/** Makes every absolute path under the fixtures dir relative, in sources and in messages. */
function portable(text: string): string {
  return text.split(dir + '/').join('');
}

function normalise(value: unknown): unknown {
  return JSON.parse(portable(JSON.stringify(value)));
}

/**
 * The examples in docs/ (fenced as `caddyfile`) are fixtures too, so the docs cannot drift from
 * what the adapter accepts: doc-PAGE-N.caddyfile must equal the Nth example of PAGE.
 */
const docsDir = join(import.meta.dirname, '..', '..', '..', 'docs');

function docExamples(): Map<string, string> {
  const out = new Map<string, string>();
  const pages = [
    ...readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => join(docsDir, f)),
    ...readdirSync(join(docsDir, 'directives')).filter((f) => f.endsWith('.md')).map((f) => join(docsDir, 'directives', f)),
  ];
  for (const page of pages) {
    const base = page.slice(page.lastIndexOf('/') + 1, -'.md'.length).replaceAll('_', '-');
    const blocks = [...readFileSync(page, 'utf8').matchAll(/^```caddyfile\n([\s\S]*?)^```$/gm)];
    blocks.forEach((m, i) => out.set(`doc-${base}-${i + 1}`, m[1]!));
  }
  return out;
}

const examples = docExamples();
if (update) for (const [name, text] of examples) writeFileSync(join(dir, `${name}.caddyfile`), text);

test('every docs example is a fixture, word for word', () => {
  assert.ok(examples.size >= 20, `${examples.size} examples in docs/`);
  for (const [name, text] of examples) {
    const file = join(dir, `${name}.caddyfile`);
    assert.ok(existsSync(file), `${name}.caddyfile is missing (run with UPDATE_GOLDEN=1)`);
    assert.equal(readFileSync(file, 'utf8'), text, `${name}.caddyfile differs from the docs`);
  }
  const stale = readdirSync(dir).filter((f) => f.startsWith('doc-') && f.endsWith('.caddyfile') && !examples.has(f.slice(0, -'.caddyfile'.length)));
  assert.deepEqual(stale, [], 'fixtures of examples no longer in the docs');
});

const names = readdirSync(dir)
  .filter((f) => f.endsWith('.caddyfile'))
  .map((f) => f.slice(0, -'.caddyfile'.length))
  .sort();

test('there are golden fixtures of both kinds', () => {
  const json = names.filter((n) => existsSync(join(dir, `${n}.json`)));
  const errors = names.filter((n) => existsSync(join(dir, `${n}.errors`)));
  assert.ok(json.length >= 25, `${json.length} golden configs`);
  assert.ok(errors.length >= 15, `${errors.length} error fixtures`);
});

for (const name of names) {
  test(`caddyfile golden: ${name}`, () => {
    const file = join(dir, `${name}.caddyfile`);
    const jsonFile = join(dir, `${name}.json`);
    const errorsFile = join(dir, `${name}.errors`);
    let result: { config: unknown } | { errors: string[] };
    try {
      result = { config: adaptCaddyfileText(readFileSync(file, 'utf8'), file, { env }) };
    } catch (err) {
      if (!(err instanceof ConfigErrors)) throw err;
      result = { errors: err.errors.map((e) => portable(e.describe())) };
    }
    if (update) {
      if ('config' in result) writeFileSync(jsonFile, JSON.stringify(normalise(result.config), null, 2) + '\n');
      else writeFileSync(errorsFile, result.errors.join('\n') + '\n');
      return;
    }
    if (existsSync(errorsFile)) {
      const expected = readFileSync(errorsFile, 'utf8').split('\n').filter((l) => l !== '');
      assert.ok('errors' in result, `${name} was expected to fail but adapted`);
      assert.deepEqual(result.errors, expected);
      return;
    }
    assert.ok(existsSync(jsonFile), `missing ${relative(process.cwd(), jsonFile)} (run with UPDATE_GOLDEN=1 to create it)`);
    assert.ok('config' in result, `${name} failed:\n${'errors' in result ? result.errors.join('\n') : ''}`);
    assert.deepEqual(normalise(result.config), JSON.parse(readFileSync(jsonFile, 'utf8')));
    // The adapted config is valid JSON config, and reading it back changes nothing.
    assert.deepEqual(parseConfigJson(JSON.stringify(result.config), `${name}.json`), JSON.parse(JSON.stringify(result.config)));
  });
}
