import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigErrors, ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { adaptCaddyfileText, loadConfig } from './load.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-load-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('loadConfig adapts a Caddyfile, resolves its path and freezes the result', () => {
  withDir((dir) => {
    const file = join(dir, 'Portcullisfile');
    writeFileSync(file, 'localhost:{$PORT} {\n\trespond "hi"\n}\n');
    const config = loadConfig(file, { env: { PORT: '8088' } });
    assert.equal(config.sites[0]!.addresses[0]!.port, 8088);
    assert.deepEqual(config.sites[0]!.source, { file, line: 1 });
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.sites[0]!.routes[0]!.handle));
    assert.throws(() => {
      (config.server as { gracePeriodMs: number }).gracePeriodMs = 1;
    }, TypeError);
  });
});

test('loadConfig reads .json files (or --adapter json) as JSON config', () => {
  withDir((dir) => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ httpPort: 8080, sites: [] }));
    assert.equal(loadConfig(file).httpPort, 8080);
    const other = join(dir, 'config.txt');
    writeFileSync(other, JSON.stringify({ httpPort: 8081, sites: [] }));
    assert.equal(loadConfig(other, { adapter: 'json' }).httpPort, 8081);
  });
});

test('a missing file is ERR_CONFIG_NOT_FOUND; a bad file lists every error with file:line', () => {
  withDir((dir) => {
    assert.throws(
      () => loadConfig(join(dir, 'nope')),
      (err: unknown) => err instanceof PortcullisError && err.code === ErrorCodes.ERR_CONFIG_NOT_FOUND && /no such file/.test(err.message),
    );
  });
  assert.throws(
    () => adaptCaddyfileText('example.com {\n\trevers_proxy x\n\trespond "a" 42\n}\n', '/etc/Caddyfile'),
    (err: unknown) =>
      err instanceof ConfigErrors &&
      err.errors.map((e) => e.describe()).join('\n') ===
        '/etc/Caddyfile:2: revers_proxy: unknown directive (did you mean "reverse_proxy"?)\n/etc/Caddyfile:3: respond: status: "42" is not a status code from 100 to 599',
  );
});
