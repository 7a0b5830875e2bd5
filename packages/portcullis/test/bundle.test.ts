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

  test('the shim runs it with its Node flags: version, validate, adapt', async () => {
    bundleChunks();
    const version = await run(SHIM, ['version'], { timeout: 30_000 });
    assert.match(version.stdout, /^portcullis \d+\.\d+\.\d+ \(node v\d+/);
    for (const example of ['Portcullisfile', 'https.Portcullisfile', 'identity.Portcullisfile']) {
      const validated = await run(SHIM, ['validate', '-c', join(EXAMPLES, example)], { timeout: 30_000, env: { ...process.env, EXAMPLE_ROOT: join(EXAMPLES, 'site') } });
      assert.match(validated.stdout + validated.stderr, /valid/i, example);
    }
    const adapted = await run(SHIM, ['adapt', '-c', join(EXAMPLES, 'identity.Portcullisfile')], { timeout: 30_000 });
    assert.ok((JSON.parse(adapted.stdout) as { identity?: unknown }).identity, 'the identity block in the JSON');
  });

  test('serves the identity example: discovery, JWKS and the sign-in page', async () => {
    bundleChunks();
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-bundle-'));
    const port = await freePort();
    const config = join(dir, 'Portcullisfile');
    writeFileSync(config, readFileSync(join(EXAMPLES, 'identity.Portcullisfile'), 'utf8').replaceAll('localhost:9000', `127.0.0.1:${port}`));
    const child = spawn(SHIM, ['run', '-c', config], { env: { ...process.env, PORTCULLIS_DATA_DIR: join(dir, 'data') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      assert.ok(await waitForPort(port, 20_000, () => child.exitCode !== null), `Portcullis did not listen:\n${output}`);
      const base = `http://127.0.0.1:${port}`;
      const discovery = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
      assert.equal(discovery.issuer, base);
      const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: { kty: string }[] };
      assert.ok(jwks.keys.some((k) => k.kty === 'RSA'));
      const login = await fetch(`${base}/login`);
      assert.equal(login.status, 200);
      assert.match(await login.text(), /<form[^>]+method="post"/i);
      assert.match(output, /one-time link/, 'the first start offers the admin link');
    } finally {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
