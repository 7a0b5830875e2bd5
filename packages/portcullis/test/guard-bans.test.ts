/**
 * The guard as an operator uses it: a running instance, `portcullis bans` run as a separate
 * process against the same database, blocklist files edited on disk, restarts. Clients are
 * told apart by the loopback address they connect from (127.0.0.1, 127.0.0.2, ...) or, behind
 * a trusted proxy, by X-Forwarded-For.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger, type Logger } from '../src/kernel/logger.ts';
import { start, type Instance } from '../src/main.ts';
import { freePort } from './support/instance.ts';
import { recordingLogger } from './support/recording-logger.ts';

const BIN = new URL('../src/cli/bin.ts', import.meta.url).pathname;
const NODE_BIN = new URL('../../../node_modules/.bin', import.meta.url).pathname;
const run = promisify(execFile);

let dir: string;
let env: NodeJS.ProcessEnv;
let configs = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-guard-'));
  env = { ...process.env, PATH: `${NODE_BIN}:${process.env.PATH ?? ''}`, PORTCULLIS_DATA_DIR: join(dir, 'data') };
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A config file in the test dir: one site answering "ok", a database of its own unless given. */
function writeConfig(guardLines: string[] | null, options: { database?: string; global?: string[]; port?: number; file?: string } = {}): string {
  const file = options.file ?? join(dir, `Portcullisfile${++configs}`);
  const database = options.database ?? join(dir, `guard${configs}.db`);
  const guard = guardLines === null ? '' : `\tguard {\n${guardLines.map((l) => `\t\t${l}\n`).join('')}\t}\n`;
  const global = (options.global ?? []).map((l) => `\t${l}\n`).join('');
  writeFileSync(file, `{\n\tadmin off\n\tdatabase sqlite ${database}\n${global}${guard}}\n\nhttp://127.0.0.1:${options.port ?? 0} {\n\trespond "ok"\n}\n`);
  return file;
}

async function startFrom(configFile: string, logger: Logger = silentLogger()): Promise<{ instance: Instance; url: string }> {
  const instance = await start({ configFile, logger, env });
  const port = instance.addresses().values().next().value!.port;
  return { instance, url: `http://127.0.0.1:${port}/` };
}

/** The real CLI, as a separate process. */
async function cli(configFile: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args, '--config', configFile], { env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The status of GET url, from a given loopback address, with given headers. */
function status(url: string, options: { from?: string; headers?: Record<string, string> } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: options.from ?? '127.0.0.1', headers: options.headers ?? {}, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls until GET answers `expected`, for at most 6 seconds (a poll of the store is every 2; CI machines are busy). */
async function becomes(url: string, expected: number, options: { from?: string; headers?: Record<string, string> } = {}): Promise<void> {
  const deadline = Date.now() + 6000;
  let last = 0;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    last = await status(url, options);
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(last, expected, `GET ${url} from ${options.from ?? '127.0.0.1'} did not become ${expected} within 6s`);
}


describe('guard: bans from the CLI, blocklists, allow, simulate', () => {
  test('bans add takes effect within seconds, bans delete lifts it, and the ban survives a restart', async () => {
    const config = writeConfig([]);
    let { instance, url } = await startFrom(config);
    try {
      assert.equal(await status(url), 200);
      const added = await cli(config, ['bans', 'add', '127.0.0.1', '--duration', '1h', '--reason', 'e2e test']);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /^banned 127\.0\.0\.1 until \d{4}-\d\d-\d\dT.*Z \(id \d+\)\n$/);
      await becomes(url, 403);
      assert.equal(await status(url, { from: '127.0.0.2' }), 200, 'only the banned address');

      // A restart reads the ban from the database before serving.
      await instance.stop();
      ({ instance, url } = await startFrom(config));
      assert.equal(await status(url), 403);

      const lifted = await cli(config, ['bans', 'delete', '127.0.0.1']);
      assert.equal(lifted.code, 0, lifted.stderr);
      assert.equal(lifted.stdout, 'lifted 1 decision on 127.0.0.1\n');
      await becomes(url, 200);
    } finally {
      await instance.stop();
    }
  });

  test('bans list, decisions --json, delete by id, and what the CLI refuses', async () => {
    const config = writeConfig([]);
    assert.equal((await cli(config, ['bans', 'list'])).stdout, 'no bans\n');
    assert.equal((await cli(config, ['bans', 'add', '::ffff:198.51.100.0/120', '--duration', 'forever'])).code, 0);
    const v6 = await cli(config, ['bans', 'add', '2001:DB8::1', '--duration', '30m']);
    assert.match(v6.stdout, /^banned 2001:db8::1 until/);
    const table = await cli(config, ['bans', 'list']);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+KIND\s+VALUE\s+ORIGIN\s+EXPIRES\s+REASON$/);
    assert.match(lines[1]!, /^\d+\s+ban\s+198\.51\.100\.0\/24\s+cli\s+never\s+-$/);
    assert.match(lines[2]!, /^\d+\s+ban\s+2001:db8::1\s+cli\s+\d{4}-.*Z\s+-$/);
    const json = JSON.parse((await cli(config, ['decisions', '--json'])).stdout) as { id: number; kind: string; scope: string; value: string; origin: string; expiresAt: string | null }[];
    assert.deepEqual(json.map((d) => [d.kind, d.scope, d.value, d.origin]), [
      ['ban', 'range', '198.51.100.0/24', 'cli'],
      ['ban', 'ip', '2001:db8::1', 'cli'],
    ]);
    assert.equal(json[0]!.expiresAt, null);
    const byId = await cli(config, ['bans', 'delete', String(json[1]!.id)]);
    assert.equal(byId.stdout, `lifted decision ${json[1]!.id}\n`);
    // An address inside a banned range is not banned on its own: the message names the range.
    const inside = await cli(config, ['bans', 'delete', '198.51.100.7']);
    assert.equal(inside.code, 1);
    assert.match(inside.stderr, /ERR_STORE_NOT_FOUND: no decision in force on 198\.51\.100\.7 \(covered by 198\.51\.100\.0\/24, id \d+: lift that instead\)/);
    const refused = [
      [['bans', 'add', 'example.com'], /"example\.com" is not an IP address or CIDR range/],
      [['bans', 'add', '10.0.0.0/7'], /refusing to ban 10\.0\.0\.0\/7/],
      [['bans', 'add', '192.0.2.1', '--duration', '10'], /--duration: .*missing unit/],
      [['bans', 'add', '192.0.2.1', '--duration', '0s'], /--duration: must be longer than 0/],
      [['bans', 'delete', '999999'], /no decision in force has id 999999/],
    ] as const;
    const results = await Promise.all(refused.map(([args]) => cli(config, [...args])));
    refused.forEach(([args, message], i) => {
      assert.equal(results[i]!.code, 1, args.join(' '));
      assert.match(results[i]!.stderr, message);
    });
    assert.equal((await cli(config, ['decisions'])).stdout.trimEnd().split('\n').length, 2, 'the header and the range');
  });

  test('a ban applies to the address a trusted proxy names, in any spelling (IPv4-mapped included)', async () => {
    const config = writeConfig([], { global: ['servers {', '\ttrusted_proxies static 127.0.0.1/32', '}'] });
    const { instance, url } = await startFrom(config);
    try {
      assert.equal((await cli(config, ['bans', 'add', '203.0.113.7'])).code, 0);
      assert.equal((await cli(config, ['bans', 'add', '2001:db8:bad::/48'])).code, 0);
      // The two bans may reach the instance in different polls: wait for each.
      await becomes(url, 403, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      await becomes(url, 403, { headers: { 'x-forwarded-for': '2001:DB8:BAD:0::1' } });
      assert.equal(await status(url, { headers: { 'x-forwarded-for': '::ffff:203.0.113.7' } }), 403);
      assert.equal(await status(url, { headers: { 'x-forwarded-for': '[::FFFF:CB00:7107]:4711' } }), 403);
      assert.equal(await status(url, { headers: { 'x-forwarded-for': '203.0.113.8' } }), 200);
      assert.equal(await status(url), 200, 'the proxy itself is not banned');
    } finally {
      await instance.stop();
    }
  });

  test('a blocklist file refuses its addresses; editing the file lets them in again', async () => {
    const list = join(dir, 'blocklist.txt');
    writeFileSync(list, '# loopback, for the test\n127.0.0.0/8\n');
    const config = writeConfig([`blocklist ${list}`]);
    const { instance, url } = await startFrom(config);
    try {
      assert.equal(await status(url), 403);
      assert.equal(await status(url, { from: '127.0.0.9' }), 403);
      writeFileSync(list, '127.0.0.9\n');
      await becomes(url, 200);
      assert.equal(await status(url, { from: '127.0.0.9' }), 403);
    } finally {
      await instance.stop();
    }
  });

  test('allow: an allowed address is never refused, by a ban or by a blocklist', async () => {
    const list = join(dir, 'all-loopback.txt');
    writeFileSync(list, '127.0.0.0/8\n');
    const config = writeConfig(['allow 127.0.0.1', `blocklist ${list}`]);
    const { instance, url } = await startFrom(config);
    try {
      assert.equal(await status(url, { from: '127.0.0.2' }), 403, 'the list is in force');
      assert.equal(await status(url), 200);
      writeFileSync(list, '# empty now\n');
      await becomes(url, 200, { from: '127.0.0.2' });
      assert.equal((await cli(config, ['bans', 'add', '127.0.0.0/8'])).code, 0);
      await becomes(url, 403, { from: '127.0.0.2' });
      assert.equal(await status(url), 200);
    } finally {
      await instance.stop();
    }
  });

  test('simulate: a banned or blocklisted client is let through, and the refusal is logged', async () => {
    const list = join(dir, 'simulated.txt');
    writeFileSync(list, '127.0.0.2\n');
    const config = writeConfig([`blocklist ${list}`, 'simulate']);
    const { logger, lines } = recordingLogger('info');
    const { instance, url } = await startFrom(config, logger);
    try {
      assert.equal(await status(url, { from: '127.0.0.2' }), 200);
      const logged = lines.find((l) => l.msg === 'guard would refuse this request (simulate)');
      assert.ok(logged, 'the refusal is logged');
      assert.deepEqual([logged.clientIp, logged.status, logged.reason], ['127.0.0.2', 403, `blocklist:${list}`]);
      assert.equal(lines.filter((l) => l.msg === 'guard would refuse this request (simulate)').length, 1);
      assert.equal(await status(url), 200);
      assert.equal(lines.filter((l) => l.msg === 'guard would refuse this request (simulate)').length, 1, 'nothing logged for a client that matches nothing');
    } finally {
      await instance.stop();
    }
  });

  test('without a guard block or identity provider no database is opened, and no ban applies', async () => {
    const database = join(dir, 'plain.db');
    const config = writeConfig(null, { database });
    const { instance, url } = await startFrom(config);
    try {
      assert.equal(await status(url), 200);
      assert.equal(existsSync(database), false);
      // The CLI creates the database; the plain proxy never reads it.
      assert.equal((await cli(config, ['bans', 'add', '127.0.0.1'])).code, 0);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await status(url), 200);
    } finally {
      await instance.stop();
    }
  });

  test('a reload that adds the guard block starts enforcing the bans already in the database', async () => {
    const database = join(dir, 'reload.db');
    const port = await freePort();
    const config = writeConfig(null, { database, port });
    assert.equal((await cli(config, ['bans', 'add', '127.0.0.1'])).code, 0);
    const { instance, url } = await startFrom(config);
    try {
      assert.equal(await status(url), 200);
      writeConfig([], { database, port, file: config });
      await instance.reload();
      assert.equal(await status(url), 403);
      // And a reload with a blocklist that cannot be read fails, leaving the guard as it was.
      writeConfig([`blocklist ${join(dir, 'absent.txt')}`], { database, port, file: config });
      await assert.rejects(instance.reload(), /cannot read .*absent\.txt: ENOENT/);
      assert.equal(await status(url), 403);
    } finally {
      await instance.stop();
    }
  });
});
