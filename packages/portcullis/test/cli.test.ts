/** The CLI as a user runs it: a real process, real files, real signals. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort } from './support/instance.ts';

const BIN = new URL('../src/cli/bin.ts', import.meta.url).pathname;

// Certificates and the internal CA go to a temp dir, never the user's data dir.
const DATA_DIR = mkdtempSync(join(tmpdir(), 'portcullis-cli-data-'));
process.on('exit', () => rmSync(DATA_DIR, { recursive: true, force: true }));
const ENV = { ...process.env, PORTCULLIS_DATA_DIR: DATA_DIR };

function cli(args: string[], cwd?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 20_000, env: ENV });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'portcullis-cli-'));
}

describe('portcullis CLI', () => {
  test('--help lists the commands', () => {
    const { code, stdout } = cli(['--help']);
    assert.equal(code, 0);
    for (const command of ['run', 'validate', 'adapt', 'fmt', 'reload', 'version']) assert.match(stdout, new RegExp(`\\b${command}\\b`));
  });

  test('version prints the package version', () => {
    const { code, stdout } = cli(['version']);
    assert.equal(code, 0);
    assert.match(stdout, /^portcullis \d+\.\d+\.\d+/);
  });

  test('validate reports every error with file:line and exits 1', () => {
    const dir = tempDir();
    const file = join(dir, 'Portcullisfile');
    writeFileSync(file, 'http://localhost:8080 {\n\treverse_prxy localhost:3000\n\tfile_server {\n\t\tbrowsee\n\t}\n}\n');
    const { code, stderr } = cli(['validate', '--config', file]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`${file}:2: .*reverse_prxy`));
    assert.match(stderr, new RegExp(`${file}:4: .*browsee`));
    rmSync(dir, { recursive: true });
  });

  test('validate and adapt accept a good config; adapt prints JSON that --adapter json reads back', () => {
    const dir = tempDir();
    const file = join(dir, 'Portcullisfile');
    writeFileSync(file, 'http://localhost:8080 {\n\trespond "hi"\n}\n');
    assert.equal(cli(['validate', '-c', file]).code, 0);
    const adapted = cli(['adapt', '-c', file]);
    assert.equal(adapted.code, 0);
    const json = JSON.parse(adapted.stdout);
    assert.equal(json.sites.length, 1);
    const jsonFile = join(dir, 'config.json');
    writeFileSync(jsonFile, adapted.stdout);
    assert.equal(cli(['validate', '-c', jsonFile, '--adapter', 'json']).code, 0);
    rmSync(dir, { recursive: true });
  });

  test('a wildcard public name, which needs a DNS challenge, is refused with the site and the way out', () => {
    const dir = tempDir();
    const file = join(dir, 'Portcullisfile');
    writeFileSync(file, '*.example.com {\n\trespond "hi"\n}\n');
    const { code, stderr } = cli(['validate', '-c', file]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`${file}:1: .*\\*\\.example\\.com.*DNS challenge`));
    rmSync(dir, { recursive: true });
  });

  test('trust prints the internal root certificate path', () => {
    const { code, stdout } = cli(['trust', '--no-install']);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), join(DATA_DIR, 'pki', 'authorities', 'local', 'root.crt'));
    assert.match(readFileSync(stdout.trim(), 'utf8'), /BEGIN CERTIFICATE/);
  });

  test('a Caddyfile in the working directory is used when there is no Portcullisfile', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'Caddyfile'), 'http://localhost:8080 {\n\trespond "hi"\n}\n');
    assert.equal(cli(['validate'], dir).code, 0);
    rmSync(dir, { recursive: true });
  });

  test('fmt prints canonical formatting and --overwrite rewrites the file', () => {
    const dir = tempDir();
    const file = join(dir, 'Portcullisfile');
    writeFileSync(file, 'http://localhost:8080   {\n      respond    "hi"\n}\n');
    const printed = cli(['fmt', file]);
    assert.equal(printed.code, 0);
    assert.equal(printed.stdout, 'http://localhost:8080 {\n\trespond "hi"\n}\n');
    assert.equal(cli(['fmt', '--overwrite', file]).code, 0);
    assert.equal(readFileSync(file, 'utf8'), 'http://localhost:8080 {\n\trespond "hi"\n}\n');
    rmSync(dir, { recursive: true });
  });

  test('run serves, SIGUSR1 and `reload` apply changes, SIGTERM stops cleanly', async () => {
    const dir = tempDir();
    const file = join(dir, 'Portcullisfile');
    const port = await freePort();
    const adminPort = await freePort();
    const config = (text: string) => `{\n\tadmin 127.0.0.1:${adminPort}\n}\nhttp://127.0.0.1:${port} {\n\trespond "${text}"\n}\n`;
    writeFileSync(file, config('one'));
    const child = spawn(process.execPath, [BIN, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const body = async () => (await (await request(`http://127.0.0.1:${port}/`)).body.text());
      const until = async (want: string) => {
        for (let i = 0; i < 100; i++) {
          try {
            if ((await body()) === want) return;
          } catch {
            // not listening yet
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.fail(`never saw ${want}; stderr: ${stderr}`);
      };
      await until('one');
      writeFileSync(file, config('two'));
      child.kill('SIGUSR1');
      await until('two');
      writeFileSync(file, config('three'));
      const reload = cli(['reload', '--config', file]);
      assert.equal(reload.code, 0, reload.stderr);
      await until('three');
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true });
    }
  });
});
