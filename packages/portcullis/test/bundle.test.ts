/**
 * The bundled CLI (dist/bundle/, what `npx portcullis` runs through bin/portcullis.js) works
 * like the sources the other tests run: every lazily loaded chunk evaluates, and the
 * examples start and answer through the shim, executed as a user would. `npm test` builds
 * the bundle first (`npm run typecheck` runs `npm run build`).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './support/instance.ts';
import { stopProcess, waitForPort } from './support/child-process.ts';

const PACKAGE = new URL('../', import.meta.url).pathname;
const SHIM = join(PACKAGE, 'bin/portcullis.js');
const BUNDLE_DIR = join(PACKAGE, 'dist/bundle');
const EXAMPLES = new URL('../../../examples/', import.meta.url).pathname;
const run = promisify(execFile);

/** The bundle, built after every source file (else the test would check old code). */
function bundleChunks(): string[] {
  assert.ok(existsSync(join(BUNDLE_DIR, 'portcullis.js')), `${BUNDLE_DIR}/portcullis.js is missing: run npm run build`);
  const builtAt = statSync(join(BUNDLE_DIR, 'portcullis.js')).mtimeMs;
  const stale = (dir: string): string | null => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = stale(path);
        if (found) return found;
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && statSync(path).mtimeMs > builtAt) return path;
    }
    return null;
  };
  const newer = stale(join(PACKAGE, 'src'));
  assert.equal(newer, null, `${newer} is newer than the bundle: run npm run build`);
  return readdirSync(BUNDLE_DIR).filter((f) => f.startsWith('chunk-') && f.endsWith('.js'));
}

describe('the bundled CLI', () => {
  test('every chunk loads (the ones only some configs need included)', async () => {
    const chunks = bundleChunks();
    assert.ok(chunks.length >= 5, `only ${chunks.length} chunks`);
    // One child: a chunk that throws at evaluation (a require the bundler broke, a path
    // computed from a module's place) fails here instead of on a user's first ACME order.
    const script = chunks.map((c) => `await import(${JSON.stringify(join(BUNDLE_DIR, c))});`).join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `${script}\nconsole.log('loaded ${chunks.length}')`], { timeout: 30_000 });
    assert.equal(stdout.trim(), `loaded ${chunks.length}`);
  });

  test('no chunk is a CommonJS package behind a dynamic import (it would lose its named exports)', () => {
    // What esbuild makes of `await import('some-cjs-package')` when splitting: a chunk whose
    // only export is `default`, so `(await import('prom-client')).Registry` is undefined at
    // run time. Such packages are external in scripts/bundle.mjs.
    for (const chunk of bundleChunks()) {
      const text = readFileSync(join(BUNDLE_DIR, chunk), 'utf8');
      assert.doesNotMatch(text, /export\s*default\s*require_\w+\(\)\s*;?\s*(?:\/\/# sourceMappingURL=\S+\s*)?$/, `${chunk} re-exports a CommonJS module as default only`);
    }
  });

  test('every class the bundler renamed keeps its name (oidc-provider looks models and TTLs up by class name)', () => {
    // esbuild renames a class that clashes with another module's top-level name (`Session` ->
    // `Session2`); oidc-provider reads `this.name` for its models' TTLs and adapters, and a
    // renamed one failed the first sign-in with "ttl is not a function". scripts/bundle.mjs
    // keeps the libraries' names: such a class must set its name back right at its start.
    const endsInDigit = /\bclass ([A-Za-z_$][\w$]*\d)(?: extends [^{]+)?\{/g;
    let checked = 0;
    for (const chunk of [...bundleChunks(), 'portcullis.js']) {
      const text = readFileSync(join(BUNDLE_DIR, chunk), 'utf8');
      for (const match of text.matchAll(endsInDigit)) {
        const declaration = match[0];
        const declared = match[1]!;
        const body = text.slice(match.index + declaration.length, match.index + declaration.length + 300);
        const kept = /^static\{__name\d*\(this,\s*"([^"]+)"\)/.exec(body)?.[1];
        const ok = kept !== undefined && declared.startsWith(kept) && /^\d*$/.test(declared.slice(kept.length));
        assert.ok(ok, `${chunk}: class ${declared} does not set its name back (it would be named ${declared})`);
        checked++;
      }
    }
    assert.ok(checked > 0, 'the bundle renames some library classes (the check saw none: has its shape changed?)');
  });

  test('the shim runs it with its Node flags: version, validate, adapt', async () => {
    bundleChunks();
    const version = await run(SHIM, ['version'], { timeout: 30_000 });
    assert.match(version.stdout, /^portcullis \d+\.\d+\.\d+ \(node v\d+/);
    for (const example of ['Portcullisfile', 'https.Portcullisfile', 'identity.Portcullisfile', 'guard.Portcullisfile']) {
      const validated = await run(SHIM, ['validate', '-c', join(EXAMPLES, example)], { timeout: 30_000, env: { ...process.env, EXAMPLE_ROOT: join(EXAMPLES, 'site') } });
      assert.match(validated.stdout + validated.stderr, /valid/i, example);
    }
    const adapted = await run(SHIM, ['adapt', '-c', join(EXAMPLES, 'identity.Portcullisfile')], { timeout: 30_000 });
    assert.ok((JSON.parse(adapted.stdout) as { identity?: unknown }).identity, 'the identity block in the JSON');
  });

  test('serves the identity example: discovery, JWKS, the sign-in page and a token (oidc-provider keeps its class names)', async () => {
    bundleChunks();
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-bundle-'));
    const port = await freePort();
    const config = join(dir, 'Portcullisfile');
    // Plus a machine client: a grant makes oidc-provider look its models and TTLs up by class
    // name, which a bundle that renamed them would break ("ttl is not a function").
    const example = readFileSync(join(EXAMPLES, 'identity.Portcullisfile'), 'utf8').replaceAll('localhost:9000', `127.0.0.1:${port}`);
    const machineClient = '\t\tclient bundle-job {\n\t\t\tsecret bundle-job-secret-0123456789\n\t\t\tgrant_types client_credentials\n\t\t\tscopes jobs:run\n\t\t}\n';
    writeFileSync(config, example.replace(/(\tidentity \{\n(?:.*\n)*?)(\t\})/, `$1${machineClient}$2`));
    const child = spawn(SHIM, ['run', '-c', config], { env: { ...process.env, PORTCULLIS_DATA_DIR: join(dir, 'data') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      assert.ok(await waitForPort(port, 20_000, () => child.exitCode !== null), `Portcullis did not listen:\n${output}`);
      const base = `http://127.0.0.1:${port}`;
      const discovery = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string; token_endpoint: string };
      assert.equal(discovery.issuer, base);
      const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: { kty: string }[] };
      assert.ok(jwks.keys.some((k) => k.kty === 'RSA'));
      const login = await fetch(`${base}/login`);
      assert.equal(login.status, 200);
      assert.match(await login.text(), /<form[^>]+method="post"/i);
      assert.match(output, /one-time link/, 'the first start offers the admin link');
      const grant = await fetch(discovery.token_endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('bundle-job:bundle-job-secret-0123456789').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=jobs%3Arun',
      });
      const token = (await grant.json()) as { access_token?: string; token_type?: string; error_description?: string };
      assert.equal(grant.status, 200, `client_credentials grant: ${JSON.stringify(token)}\n${output}`);
      assert.equal(token.token_type, 'Bearer');
      assert.equal(token.access_token?.split('.').length, 3, 'a JWT access token');
    } finally {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
