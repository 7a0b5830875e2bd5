/**
 * The guard's Prometheus metrics on a running instance: requests a rule refused, and a ban
 * added by `portcullis bans add` (a separate process on the same database) counted as a
 * decision and held in the active decisions gauge.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger } from '../src/kernel/logger.ts';
import { start } from '../src/main.ts';

const BIN = new URL('../src/cli/bin.ts', import.meta.url).pathname;
const run = promisify(execFile);

let dir: string;
let env: NodeJS.ProcessEnv;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-guard-metrics-'));
  env = { ...process.env, PORTCULLIS_DATA_DIR: join(dir, 'data') };
});
after(() => rmSync(dir, { recursive: true, force: true }));

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line of the scrape, or null when absent. */
function sample(scrape: string, series: string): number | null {
  const line = scrape.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

test('blocked requests by rule, CLI bans as decisions and in the active gauge', async () => {
  const configFile = join(dir, 'Portcullisfile');
  writeFileSync(
    configFile,
    [
      '{',
      '\tadmin off',
      `\tdatabase sqlite ${join(dir, 'guard.db')}`,
      '\tguard {',
      '\t\trules {',
      '\t\t\tbuiltin off',
      '\t\t\trule x {',
      '\t\t\t\tpath /blocked/*',
      '\t\t\t\taction block',
      '\t\t\t}',
      '\t\t}',
      '\t}',
      '}',
      '',
      'http://127.0.0.1:0 {',
      '\tmetrics /metrics',
      // respond sorts before metrics (Caddy's directive order): it answers / only.
      '\trespond / "ok"',
      '}',
      '',
    ].join('\n'),
  );
  const instance = await start({ configFile, logger: silentLogger(), env });
  try {
    const base = `http://127.0.0.1:${instance.addresses().values().next().value!.port}`;
    assert.equal((await get(`${base}/`)).status, 200);
    assert.equal((await get(`${base}/blocked/a`)).status, 403);
    assert.equal((await get(`${base}/blocked/a`)).status, 403);

    const first = await get(`${base}/metrics`);
    assert.equal(first.status, 200);
    assert.equal(sample(first.body, 'portcullis_guard_blocked_requests_total{reason="rule:x"}'), 2);
    assert.match(first.body, /^# TYPE portcullis_guard_simulated_requests_total counter$/m);
    assert.equal(sample(first.body, 'portcullis_guard_active_decisions'), 0);
    // Scraping again counts nothing twice.
    assert.equal(sample((await get(`${base}/metrics`)).body, 'portcullis_guard_blocked_requests_total{reason="rule:x"}'), 2);

    const added = await run(process.execPath, [BIN, 'bans', 'add', '192.0.2.7', '--duration', '1h', '--config', configFile], { env, timeout: 30_000 });
    assert.match(added.stdout, /^banned 192\.0\.2\.7/);
    // The instance picks the ban up with its next poll of the store (every 2 s).
    let scrape = '';
    const deadline = Date.now() + 5000;
    for (let i = 0; i < 100 && Date.now() < deadline; i++) {
      scrape = (await get(`${base}/metrics`)).body;
      if (sample(scrape, 'portcullis_guard_active_decisions') === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(sample(scrape, 'portcullis_guard_active_decisions'), 1, scrape);
    assert.equal(sample(scrape, 'portcullis_guard_decisions_total{origin="cli",kind="ban"}'), 1);
    assert.equal(sample(scrape, 'portcullis_guard_blocked_requests_total{reason="rule:x"}'), 2);

    // A reload keeps the counters and does not register the metrics twice.
    await instance.reload();
    assert.equal((await get(`${base}/blocked/b`)).status, 403);
    scrape = (await get(`${base}/metrics`)).body;
    assert.equal(sample(scrape, 'portcullis_guard_blocked_requests_total{reason="rule:x"}'), 3);
    assert.equal(sample(scrape, 'portcullis_guard_decisions_total{origin="cli",kind="ban"}'), 1);
  } finally {
    await instance.stop();
  }
});

test('a config without a guard block serves no guard metrics', async () => {
  const configFile = join(dir, 'Portcullisfile.unguarded');
  writeFileSync(configFile, `{\n\tadmin off\n}\n\nhttp://127.0.0.1:0 {\n\tmetrics /metrics\n}\n`);
  const instance = await start({ configFile, logger: silentLogger(), env });
  try {
    const base = `http://127.0.0.1:${instance.addresses().values().next().value!.port}`;
    const scrape = await get(`${base}/metrics`);
    assert.equal(scrape.status, 200);
    assert.match(scrape.body, /^# TYPE portcullis_http_requests_total counter$/m);
    assert.doesNotMatch(scrape.body, /portcullis_guard_/);
  } finally {
    await instance.stop();
  }
});
