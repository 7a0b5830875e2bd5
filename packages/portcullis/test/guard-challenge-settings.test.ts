/**
 * The challenge's settings and its stored secret, end to end: a running instance with
 * `challenge { difficulty 10; clearance 30m }` on a SQLite database that outlives it, a real
 * upstream, proofs solved here with node:crypto (the page's algorithm). Clearances of a given
 * age are made with the database's secret and a clock set back, the way an instance that
 * issued them that long ago would have.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, systemClock } from '../src/kernel/clock.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import { createChallenges } from '../src/guard/index.ts';
import { CHALLENGE_DEFAULT_CLEARANCE_MS, CHALLENGE_DEFAULT_DIFFICULTY } from '../src/config/index.ts';
import { loadChallengeSecret } from '../src/guard/challenge-secret.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { fields, form, send, solve, type Reply } from './support/guard-challenge.ts';
import { startPortcullis, type Running } from './support/instance.ts';

/** Posts `values` to the challenge endpoint as the page's form does. */
function post(url: string, values: Record<string, string>): Promise<Reply> {
  return send(`${url}/.portcullis/challenge`, { method: 'POST', ...form(values) });
}

const MINUTE = 60_000;
let upstream: Server;
let dbDir: string;
let running: Running | null = null;

function configText(challenge: string): string {
  const up = (upstream.address() as AddressInfo).port;
  return `{
	admin off
	database sqlite ${dbDir}/guard.db
	guard {
		challenge {
${challenge}
		}
		rules {
			rule crawl {
				path /slow/*
				action challenge
			}
		}
	}
}

http://127.0.0.1:0 {
	reverse_proxy 127.0.0.1:${up}
}
`;
}
const SETTINGS = '\t\t\tdifficulty 10\n\t\t\tclearance 30m';

/** The secret in the database, read as a second instance would (only while none runs). */
async function storedSecret(): Promise<Buffer> {
  const store = await openSqliteStore({ path: join(dbDir, 'guard.db'), clock: systemClock });
  try {
    return await loadChallengeSecret(store.keys, systemClock);
  } finally {
    await store.close();
  }
}

/** A clearance cookie for 127.0.0.1 signed with `secret` `ageMs` ago. */
function clearanceIssuedAgo(secret: Buffer, ageMs: number): string {
  const then = createChallenges({ clock: new ManualClock(Date.now() - ageMs), logger: silentLogger(), secret, difficulty: CHALLENGE_DEFAULT_DIFFICULTY, clearanceTtlMs: CHALLENGE_DEFAULT_CLEARANCE_MS });
  return `portcullis.clearance=${then.clearance('127.0.0.1')}`;
}

before(async () => {
  upstream = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`site ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  dbDir = mkdtempSync(join(tmpdir(), 'portcullis-challenge-db-'));
});

after(async () => {
  await running?.stop();
  await new Promise<void>((r) => upstream.close(() => r()));
  rmSync(dbDir, { recursive: true, force: true });
});

describe('guard challenge settings and stored secret', () => {
  let cookie = '';

  test('the configured difficulty (10) is in the page and enforced; the cookie lasts the configured 30m', async () => {
    running = await startPortcullis(configText(SETTINGS));
    const page = await send(`${running.url}/slow/a`);
    assert.equal(page.status, 403);
    const f = fields(page.body);
    assert.equal(f.difficulty, '10');
    // Enough for 8 bits but not for 10; claiming a lower difficulty in the form changes nothing.
    const weak = await post(running.url, { ...f, difficulty: '8', nonce: solve(f.challenge!, 8, 10) });
    assert.equal(weak.status, 403);
    assert.equal(weak.headers['set-cookie'], undefined);
    const answer = await post(running.url, { ...f, nonce: solve(f.challenge!, 10) });
    assert.equal(answer.status, 303);
    const setCookie = answer.headers['set-cookie']?.[0] ?? '';
    assert.match(setCookie, /^portcullis\.clearance=[\w-]+\.[\w-]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Lax$/);
    cookie = setCookie.split(';', 1)[0]!;
    assert.equal((await send(`${running.url}/slow/a`, { headers: { cookie } })).status, 200);
  });

  test('a clearance from before a restart is still accepted: the secret is kept in the database', async () => {
    assert.notEqual(cookie, '');
    await running!.stop();
    running = null;
    const secret = await storedSecret();
    running = await startPortcullis(configText(SETTINGS));
    const restarted = await send(`${running.url}/slow/a`, { headers: { cookie } });
    assert.equal(restarted.status, 200);
    assert.equal(restarted.body, 'site /slow/a');
    // The instance signs with the stored secret: a clearance made with it here is accepted too.
    assert.equal((await send(`${running.url}/slow/b`, { headers: { cookie: clearanceIssuedAgo(secret, 0) } })).status, 200);
  });

  test('security: a clearance older than the configured clearance (30m) is refused', async () => {
    await running!.stop();
    running = null;
    const secret = await storedSecret();
    running = await startPortcullis(configText(SETTINGS));
    assert.equal((await send(`${running.url}/slow/c`, { headers: { cookie: clearanceIssuedAgo(secret, 29 * MINUTE) } })).status, 200);
    const expired = await send(`${running.url}/slow/c`, { headers: { cookie: clearanceIssuedAgo(secret, 30 * MINUTE + 5000) } });
    assert.equal(expired.status, 403);
    assert.match(expired.body, /portcullis-challenge/);
    // A reload that lengthens `clearance` governs clearances already handed out, and a new
    // difficulty applies to the next page.
    const longer = readFileSync(running.configFile, 'utf8').replace('difficulty 10', 'difficulty 12').replace('clearance 30m', 'clearance 1h');
    writeFileSync(running.configFile, longer);
    await running.instance.reload();
    assert.equal((await send(`${running.url}/slow/c`, { headers: { cookie: clearanceIssuedAgo(secret, 30 * MINUTE + 5000) } })).status, 200);
    assert.equal((await send(`${running.url}/slow/c`, { headers: { cookie: clearanceIssuedAgo(secret, 61 * MINUTE) } })).status, 403);
    assert.equal(fields((await send(`${running.url}/slow/d`)).body).difficulty, '12');
  });
});
