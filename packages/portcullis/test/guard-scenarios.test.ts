/**
 * Behaviour scenarios in a running instance: a client that walks 25 paths the site does not
 * have is banned by `http-4xx-scan` (the ban is stored, survives a restart, and is lifted
 * here only by stopping the instance and dropping its database); `scenarios off` and the
 * allowlist keep the same client out of trouble. The test client is 127.0.0.1, so each test
 * has its own instance and database; other loopback addresses tell a second client apart.
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

function status(url: string, from = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
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
});
