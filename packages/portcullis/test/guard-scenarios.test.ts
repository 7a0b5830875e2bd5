/**
 * Behaviour scenarios in a running instance: a client that walks 25 paths the site does not
 * have is banned by `http-4xx-scan` (the ban is stored, survives a restart, and is lifted
 * here only by stopping the instance and dropping its database); `scenarios off` and the
 * allowlist keep the same client out of trouble; a slow crawl is challenged by
 * `slow-scraper`. The test client is 127.0.0.1, so each test has its own instance and
 * database; other loopback addresses tell a second client apart.
 *
 * The slow crawl takes 10 minutes of the instance's clock: the instance reads time through
 * its system clock (Date.now()), so the test mocks Date alone (node:test's mock timers) and
 * moves it 2 s between real requests. Timers stay real, so the decision sync and the HTTP
 * server run as usual.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/kernel/logger.ts';
import { openGuardAdmin, start, type Instance } from '../src/main.ts';
import { freePort } from './support/instance.ts';

let dir: string;
let env: NodeJS.ProcessEnv;
let configs = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-scenarios-'));
  env = { ...process.env, PORTCULLIS_DATA_DIR: join(dir, 'data') };
  mkdirSync(join(dir, 'www'));
  writeFileSync(join(dir, 'www', 'index.html'), '<h1>home</h1>\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A config serving files from www/ (so unknown paths are 404), with a database of its own. */
function writeConfig(guardLines: string[], options: { file?: string; port?: number } = {}): string {
  const file = options.file ?? join(dir, `Portcullisfile${++configs}`);
  const guard = `\tguard {\n${guardLines.map((l) => `\t\t${l}\n`).join('')}\t}\n`;
  writeFileSync(file, `{\n\tadmin off\n\tdatabase sqlite ${join(dir, `scenarios${configs}.db`)}\n${guard}}\n\nhttp://127.0.0.1:${options.port ?? 0} {\n\troot * ${join(dir, 'www')}\n\tfile_server\n}\n`);
  return file;
}

async function startFrom(configFile: string): Promise<{ instance: Instance; url: string }> {
  const instance = await start({ configFile, logger: silentLogger(), env });
  const port = instance.addresses().values().next().value!.port;
  return { instance, url: `http://127.0.0.1:${port}` };
}

function status(url: string, from = '127.0.0.1', headers: Record<string, string> = {}): Promise<number> {
  return fetchText(url, from, headers).then((r) => r.status);
}

function fetchText(url: string, from = '127.0.0.1', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, timeout: 5000, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Walks 25 paths the site does not have; returns the statuses, in order. */
async function scan(url: string): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < 25; i++) seen.push(await status(`${url}/not-here-${i}.html`));
  return seen;
}

/** Polls GET / until it answers `expected`: at most 40 requests over at most 4 seconds. */
async function becomes(url: string, expected: number): Promise<void> {
  const deadline = Date.now() + 4000;
  let last = 0;
  for (let i = 0; i < 40 && Date.now() < deadline; i++) {
    last = await status(`${url}/`);
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(last, expected, `GET / did not become ${expected}`);
}

describe('guard scenarios in a running instance', () => {
  test('25 distinct 404s ban the client (stored with its scenario, kept across a restart); other clients pass', async () => {
    const config = writeConfig([]);
    let { instance, url } = await startFrom(config);
    try {
      assert.equal(await status(`${url}/`), 200);
      const statuses = await scan(url);
      assert.ok(statuses.slice(0, 20).every((s) => s === 404), `first answers: ${statuses.join(' ')}`);
      await becomes(url, 403);
      assert.equal(await status(`${url}/`, '127.0.0.2'), 200, 'only the scanning address is banned');

      const guard = await openGuardAdmin({ configFile: config, env });
      try {
        const decisions = await guard.admin.list();
        assert.deepEqual(decisions.map((d) => [d.kind, d.value, d.origin, d.reason]), [['ban', '127.0.0.1', 'scenario:http-4xx-scan', 'more than 20 4xx answers on distinct paths']]);
        const hours = (decisions[0]!.expiresAt! - decisions[0]!.createdAt) / 3_600_000;
        assert.ok(hours > 3.99 && hours <= 4.01, `lasts ${hours} h`);
      } finally {
        await guard.close();
      }

      await instance.stop();
      ({ instance, url } = await startFrom(config));
      assert.equal(await status(`${url}/`), 403, 'the ban was read back from the database');
    } finally {
      // Lifts the ban for everything else: this instance and its database are this test's alone.
      await instance.stop();
    }
  });

  test('`scenarios off` decides nothing', async () => {
    const { instance, url } = await startFrom(writeConfig(['scenarios off']));
    try {
      assert.ok((await scan(url)).every((s) => s === 404));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await status(`${url}/`), 200);
    } finally {
      await instance.stop();
    }
  });

  test('a reload that turns the scenarios on makes them listen', async () => {
    const port = await freePort();
    const config = writeConfig(['scenarios off'], { port });
    const { instance, url } = await startFrom(config);
    try {
      assert.ok((await scan(url)).every((s) => s === 404));
      writeConfig([], { file: config, port });
      await instance.reload();
      await scan(url);
      await becomes(url, 403);
    } finally {
      await instance.stop();
    }
  });

  test('an allowed address is never banned; simulate bans nobody', async () => {
    for (const lines of [['allow 127.0.0.1'], ['scenarios simulate'], ['simulate']]) {
      const config = writeConfig(lines);
      const { instance, url } = await startFrom(config);
      try {
        assert.ok((await scan(url)).every((s) => s === 404), lines.join());
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(await status(`${url}/`), 200, lines.join());
        const guard = await openGuardAdmin({ configFile: config, env });
        try {
          assert.deepEqual(await guard.admin.list(), [], `${lines.join()}: nothing stored`);
        } finally {
          await guard.close();
        }
      } finally {
        await instance.stop();
      }
    }
  });

  test('slow-scraper: one page every 2 s of the instance clock, without assets, cookies or referers, is challenged after ~300 pages; a reader is not', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const config = join(dir, `Portcullisfile${++configs}`);
    writeFileSync(config, `{\n\tadmin off\n\tdatabase sqlite ${join(dir, `scenarios${configs}.db`)}\n\tguard\n}\n\nhttp://127.0.0.1:0 {\n\trespond "<html><link rel=stylesheet href=/site.css>page</html>" 200\n}\n`);
    const { instance, url } = await startFrom(config);
    try {
      // A reader on the site: pages with their stylesheet, the site's cookie, links followed.
      const reader = '127.0.0.2';
      for (let i = 0; i < 12; i++) {
        assert.equal(await status(`${url}/articles/${i % 4}`, reader, { cookie: 'session=1', referer: `${url}/articles/${(i + 3) % 4}` }), 200);
        assert.equal(await status(`${url}/site.css`, reader, { cookie: 'session=1', referer: `${url}/articles/${i % 4}` }), 200);
        t.mock.timers.tick(30_000);
      }
      const began = Date.now();
      let pages = 0;
      let last = 200;
      while (last === 200 && pages < 400) {
        last = await status(`${url}/catalog/item-${pages++}`);
        t.mock.timers.tick(2000);
      }
      assert.equal(last, 403, `still served after ${pages} pages`);
      // The decision is stored, then put in force: a request or two may pass meanwhile.
      assert.ok(pages >= 280 && pages <= 340, `challenged after ${pages} pages`);
      const minutes = (Date.now() - began) / 60_000;
      assert.ok(minutes < 12, `after ${minutes.toFixed(1)} minutes of the instance's clock`);
      const challenged = await fetchText(`${url}/catalog/next`);
      assert.equal(challenged.status, 403);
      assert.match(challenged.body, /\/\.portcullis\/challenge\.js/, 'the challenge page, not a plain refusal');
      assert.equal(await status(`${url}/articles/1`, reader, { cookie: 'session=1' }), 200, 'the reader is not challenged');
      // It keeps crawling without solving: 30 challenge pages on distinct paths within a
      // minute would look like a 4xx scan (http-4xx-scan bans at 21); they are the guard's
      // answers, not the site's, and count for no scenario.
      for (let i = 0; i < 30; i++) {
        assert.equal(await status(`${url}/catalog/after-${i}`), 403);
        t.mock.timers.tick(2000);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.match((await fetchText(`${url}/catalog/still`)).body, /\/\.portcullis\/challenge\.js/, 'still a challenge, not a ban');

      const guard = await openGuardAdmin({ configFile: config, env });
      try {
        const decisions = await guard.admin.list();
        assert.deepEqual(decisions.map((d) => [d.kind, d.scope, d.value, d.origin]), [['challenge', 'ip', '127.0.0.1', 'scenario:slow-scraper']]);
        assert.match(decisions[0]!.reason, /^slow crawl: ~\d+ distinct pages in 1\d min \(0\.5\d a second\); no assets .*no cookies kept .*referers not from pages it fetched .*nobody else asked for lately, regular timing/);
        assert.equal(decisions[0]!.expiresAt! - decisions[0]!.createdAt, 24 * 3_600_000);
      } finally {
        await guard.close();
      }
    } finally {
      await instance.stop();
    }
  });
});
