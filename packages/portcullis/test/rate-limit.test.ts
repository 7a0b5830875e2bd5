/**
 * `rate_limit` end to end on a real instance: 429 with Retry-After past the budget, a budget
 * per client behind a trusted proxy (the test client on 127.0.0.1 plays the proxy), no fresh
 * budget for a client that forges X-Forwarded-For, keys from a header, and counters that
 * survive a reload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { freePort, startPortcullis } from './support/instance.ts';

function configText(port: number, servers: string, body = 'ok'): string {
  return `
{
	admin off
	servers {
${servers}
	}
}
http://127.0.0.1:${port} {
	rate_limit /ip/* {
		zone per_client {
			key {client_ip}
			events 5
			window 1s
		}
	}
	rate_limit /peer/* {
		zone per_peer {
			key {remote_host}
			events 2
			window 1m
		}
	}
	rate_limit /api/* {
		zone per_api_key {
			key {header.X-Api-Key}
			events 2
			window 1m
		}
	}
	respond "${body}"
}
`;
}

const TRUSTED = '\t\ttrusted_proxies static 127.0.0.1/32';

interface Answer {
  status: number;
  retryAfter: string | null;
  body: string;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(url, { headers, headersTimeout: 5000, bodyTimeout: 5000 });
  const retry = res.headers['retry-after'];
  return { status: res.statusCode, retryAfter: typeof retry === 'string' ? retry : null, body: await res.body.text() };
}

test('5 events per 1s: the 6th gets 429 with Retry-After, another client has its own budget, and the budget comes back', async () => {
  const port = await freePort();
  const p = await startPortcullis(configText(port, TRUSTED));
  try {
    const url = `http://127.0.0.1:${port}/ip/x`;
    // One event is earned back every 200ms: the six requests go out at once, and an attempt
    // slower than that (a loaded machine) says nothing and is repeated with a fresh client.
    let conclusive: { statuses: number[]; refused: Answer; client: string } | null = null;
    for (let attempt = 0; attempt < 3 && conclusive === null; attempt++) {
      const client = `198.51.100.${10 + attempt}`;
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 6 }, () => get(url, { 'x-forwarded-for': client })));
      if (performance.now() - started >= 150) continue;
      const refused = answers.find((a) => a.status === 429);
      assert.ok(refused, `six requests within 150ms: one is refused (${answers.map((a) => a.status).join(' ')})`);
      conclusive = { statuses: answers.map((a) => a.status).sort(), refused, client };
    }
    assert.ok(conclusive !== null, 'no attempt finished within 150ms');
    assert.deepEqual(conclusive.statuses, [200, 200, 200, 200, 200, 429]);
    assert.equal(conclusive.refused.retryAfter, '1', 'the wait (at most 200ms) rounded up to whole seconds');
    assert.match(conclusive.refused.body, /^429 too many requests\n/);

    const other = await get(url, { 'x-forwarded-for': '203.0.113.50' });
    assert.equal(other.status, 200, 'another client (through the trusted proxy) has its own budget');

    await sleep(1000);
    assert.equal((await get(url, { 'x-forwarded-for': conclusive.client })).status, 200, 'after Retry-After the client gets in again');
  } finally {
    await p.stop();
  }
});

test('a forged X-Forwarded-For from an untrusted peer buys no fresh budget', async () => {
  const port = await freePort();
  const p = await startPortcullis(configText(port, '\t\ttrusted_proxies static 192.0.2.0/24'));
  try {
    const url = `http://127.0.0.1:${port}/peer/x`;
    assert.equal((await get(url, { 'x-forwarded-for': '10.0.0.1' })).status, 200);
    assert.equal((await get(url, { 'x-forwarded-for': '10.0.0.2' })).status, 200);
    const third = await get(url, { 'x-forwarded-for': '10.0.0.3' });
    assert.equal(third.status, 429, 'the client is the peer, whatever the header says');
    assert.ok(Number(third.retryAfter) >= 29 && Number(third.retryAfter) <= 30, `Retry-After ${third.retryAfter}`);
  } finally {
    await p.stop();
  }
});

test('{remote_host} in a key is the resolved client: behind a trusted proxy each client has its own budget', async () => {
  const port = await freePort();
  const p = await startPortcullis(configText(port, TRUSTED));
  try {
    const url = `http://127.0.0.1:${port}/peer/x`;
    for (let i = 0; i < 2; i++) assert.equal((await get(url, { 'x-forwarded-for': '198.51.100.1' })).status, 200);
    assert.equal((await get(url, { 'x-forwarded-for': '198.51.100.1' })).status, 429);
    assert.equal((await get(url, { 'x-forwarded-for': '198.51.100.2' })).status, 200, 'not one budget for everyone behind the proxy');
    assert.equal((await get(url)).status, 200, 'the proxy itself (no header) is one more client');
  } finally {
    await p.stop();
  }
});

test('keyed by a header: each key has its own budget, and the counters survive a reload', async () => {
  const port = await freePort();
  const p = await startPortcullis(configText(port, TRUSTED, 'before'));
  try {
    const url = `http://127.0.0.1:${port}/api/x`;
    for (let i = 0; i < 2; i++) assert.equal((await get(url, { 'x-api-key': 'alpha' })).status, 200);
    const refused = await get(url, { 'x-api-key': 'alpha' });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.retryAfter) >= 29 && Number(refused.retryAfter) <= 30, `Retry-After ${refused.retryAfter}`);
    assert.equal((await get(url, { 'x-api-key': 'beta' })).status, 200, 'another key, another budget');

    writeFileSync(p.configFile, configText(port, TRUSTED, 'after'));
    await p.instance.reload();
    const beta = await get(url, { 'x-api-key': 'beta' });
    assert.deepEqual([beta.status, beta.body], [200, 'after'], 'the new config serves');
    assert.equal((await get(url, { 'x-api-key': 'alpha' })).status, 429, 'the reload kept alpha refused');
    assert.equal((await get(url, { 'x-api-key': 'beta' })).status, 429, 'and beta\'s count went on');
  } finally {
    await p.stop();
  }
});

test('handle_errors may answer the 429; the response keeps its Retry-After', async () => {
  const port = await freePort();
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:${port} {
	rate_limit {
		zone everyone {
			key    all
			events 1
			window 1m
		}
	}
	respond "ok"
	handle_errors {
		respond "slow down ({err.status_code})" {err.status_code}
	}
}
`);
  try {
    const url = `http://127.0.0.1:${port}/`;
    assert.equal((await get(url)).status, 200);
    const refused = await get(url);
    assert.deepEqual([refused.status, refused.body, refused.retryAfter], [429, 'slow down (429)', '60']);
  } finally {
    await p.stop();
  }
});
