/**
 * The guard's challenge end to end: a running instance whose rule challenges /slow/*, a real
 * upstream behind it, the proof solved here with node:crypto (the page's algorithm), the
 * clearance cookie tied to the client's IP (clients told apart by loopback address).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPortcullis, type Running } from './support/instance.ts';
import { chromiumMissing, launchChromium } from './support/chromium.ts';
import { fields, form, send, solve, type Reply } from './support/guard-challenge.ts';

let upstream: Server;
let seenCookies: (string | undefined)[] = [];
let running: Running;

before(async () => {
  upstream = createServer((req, res) => {
    seenCookies.push(req.headers.cookie);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>site</title><p id="site">site page ${req.url}</p>`);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as AddressInfo).port;
  running = await startPortcullis(`{
	admin off
	database sqlite $DIR/guard.db
	guard {
		rules {
			rule crawl {
				path /slow/*
				action challenge
			}
			rule refused {
				ip 127.0.0.3
			}
		}
	}
}

http://127.0.0.1:0 {
	reverse_proxy 127.0.0.1:${up}
}
`);
});

after(async () => {
  await running?.stop();
  await new Promise<void>((r) => upstream.close(() => r()));
});

/** Gets a challenge page, solves it and posts the answer; the reply to the post. */
async function pass(path: string, from = '127.0.0.1'): Promise<Reply> {
  const page = await send(`${running.url}${path}`, { from });
  assert.equal(page.status, 403);
  const f = fields(page.body);
  const answer = form({ challenge: f.challenge!, difficulty: f.difficulty!, return: f.return!, nonce: solve(f.challenge!, Number(f.difficulty)) });
  return send(`${running.url}/.portcullis/challenge`, { method: 'POST', from, ...answer });
}

function clearanceOf(reply: Reply): string {
  const cookie = reply.headers['set-cookie']?.[0] ?? '';
  return cookie.split(';', 1)[0]!;
}

describe('guard challenge', () => {
  test('a challenged path gets the page: its script tag, CSP, no-store; other paths pass', async () => {
    const page = await send(`${running.url}/slow/x?y=1`);
    assert.equal(page.status, 403);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'.*form-action 'self'/);
    assert.match(page.body, /<script src="\/\.portcullis\/challenge\.js" defer>/);
    assert.match(page.body, /<form id="portcullis-challenge" method="post" action="\/\.portcullis\/challenge">/);
    assert.equal(fields(page.body).return, '/slow/x?y=1');
    assert.equal(fields(page.body).difficulty, '16');
    assert.equal((await send(`${running.url}/open`)).status, 200);
  });

  test('the script is served at its fixed path with an ETag; a repeat gets 304', async () => {
    const js = await send(`${running.url}/.portcullis/challenge.js`);
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.match(js.body, /crypto\.subtle|subtle\.digest/);
    const etag = String(js.headers.etag);
    assert.equal((await send(`${running.url}/.portcullis/challenge.js`, { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await send(`${running.url}/.portcullis/challenge.js`, { method: 'POST' })).status, 405);
  });

  test('a solved challenge earns a clearance cookie and a 303 back; with it the site answers', async () => {
    seenCookies = [];
    const answer = await pass('/slow/x?y=1');
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.location, '/slow/x?y=1');
    const setCookie = answer.headers['set-cookie']?.[0] ?? '';
    assert.match(setCookie, /^portcullis\.clearance=[\w-]+\.[\w-]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);
    const cookie = clearanceOf(answer);
    const page = await send(`${running.url}/slow/x?y=1`, { headers: { cookie: `${cookie}; app=1` } });
    assert.equal(page.status, 200);
    assert.match(page.body, /site page \/slow\/x\?y=1/);
    // Portcullis's cookie never goes upstream; the site's own cookies do.
    assert.deepEqual(seenCookies, ['app=1']);
  });

  test('the clearance is tied to the IP: another client (127.0.0.2) and a tampered cookie are challenged', async () => {
    const cookie = clearanceOf(await pass('/slow/a'));
    assert.equal((await send(`${running.url}/slow/a`, { headers: { cookie } })).status, 200);
    assert.equal((await send(`${running.url}/slow/a`, { from: '127.0.0.2', headers: { cookie } })).status, 403);
    const tampered = cookie.slice(0, -4) + (cookie.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const again = await send(`${running.url}/slow/a`, { headers: { cookie: tampered } });
    assert.equal(again.status, 403);
    assert.match(again.body, /portcullis-challenge/);
  });

  test('wrong answers: a bad nonce, another IP, a foreign return URL, an oversized body', async () => {
    const page = await send(`${running.url}/slow/b`);
    const f = fields(page.body);
    const bad = await send(`${running.url}/.portcullis/challenge`, { method: 'POST', ...form({ ...f, nonce: 'nope' }) });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers['set-cookie'], undefined);
    assert.match(bad.body, /portcullis-challenge/);
    const nonce = solve(f.challenge!, Number(f.difficulty));
    const elsewhere = await send(`${running.url}/.portcullis/challenge`, { method: 'POST', from: '127.0.0.2', ...form({ ...f, nonce }) });
    assert.equal(elsewhere.status, 403);
    // An open redirect is refused: the browser goes to / instead.
    for (const target of ['//evil.example/', '/\\evil.example', 'https://evil.example/']) {
      const answer = await send(`${running.url}/.portcullis/challenge`, { method: 'POST', ...form({ ...f, return: target, nonce }) });
      assert.equal(answer.status, 303);
      assert.equal(answer.headers.location, '/');
    }
    const big = await send(`${running.url}/.portcullis/challenge`, { method: 'POST', ...form({ ...f, nonce, pad: 'x'.repeat(5000) }) });
    assert.equal(big.status, 400);
    assert.equal((await send(`${running.url}/.portcullis/challenge`)).status, 405);
  });

  test('a refused client (here by a blocking rule) cannot reach the challenge paths either', async () => {
    assert.equal((await send(`${running.url}/.portcullis/challenge.js`, { from: '127.0.0.3' })).status, 403);
    const refused = await send(`${running.url}/.portcullis/challenge`, { method: 'POST', from: '127.0.0.3', ...form({ challenge: 'x', nonce: '1' }) });
    assert.equal(refused.status, 403);
    assert.doesNotMatch(refused.body, /portcullis-challenge/);
  });

  test('Chromium solves the page itself and ends on the site', { skip: chromiumMissing() ?? false, timeout: 60_000 }, async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${running.url}/slow/browser`);
      await page.waitForSelector('#site');
      assert.match(await page.textContent('#site') ?? '', /site page \/slow\/browser/);
      const cookies = await context.cookies();
      assert.ok(cookies.some((c) => c.name === 'portcullis.clearance' && c.httpOnly));
    } finally {
      await browser.close();
    }
  });
});

