/**
 * The client's address end to end: `{client_ip}`, the `client_ip` matcher, the access log and
 * X-Forwarded-For toward an upstream, through a real instance, with and without a trusted
 * proxy in front (the test client on 127.0.0.1 plays the proxy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startPortcullis, type Running } from './support/instance.ts';
import { startUpstream } from './support/upstream.ts';

function config(servers: string, upstreamPort = 1): string {
  return `
{
	admin off
	servers {
${servers}
	}
}
http://127.0.0.1:0 {
	log {
		output file $DIR/access.log
	}
	@internal client_ip 10.0.0.0/8
	handle @internal {
		respond "internal {client_ip}"
	}
	handle /upstream {
		reverse_proxy 127.0.0.1:${upstreamPort}
	}
	handle {
		respond "{client_ip}"
	}
}
`;
}

async function body(p: Running, headers: Record<string, string | string[]>, path = '/'): Promise<string> {
  const res = await request(`${p.url}${path}`, { headers });
  return res.body.text();
}

function accessLog(p: Running): { request: { client_ip: string; remote_ip: string; headers: Record<string, string[]> } }[] {
  return readFileSync(join(p.dir, 'access.log'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

test('X-Forwarded-For spoofing from an untrusted peer: {client_ip}, client_ip and the log use the peer', async () => {
  const p = await startPortcullis(config('\t\ttrusted_proxies static 192.0.2.0/24'));
  try {
    assert.equal(await body(p, { 'x-forwarded-for': '10.1.2.3' }), '127.0.0.1');
    assert.equal(await body(p, { forwarded: 'for=10.1.2.3', 'x-real-ip': '10.1.2.3', 'cf-connecting-ip': '10.1.2.3' }), '127.0.0.1');
  } finally {
    await p.instance.stop();
  }
  const log = accessLog(p);
  assert.equal(log.length, 2);
  for (const entry of log) {
    assert.equal(entry.request.client_ip, '127.0.0.1');
    assert.equal(entry.request.remote_ip, '127.0.0.1');
  }
  await p.stop();
});

test('behind a trusted proxy: X-Forwarded-For right to left, the matcher and the access log', async () => {
  const up = await startUpstream();
  const p = await startPortcullis(config('\t\ttrusted_proxies static 127.0.0.1/32 203.0.113.0/24\n\t\ttrusted_proxies_strict', up.port));
  try {
    assert.equal(await body(p, { 'x-forwarded-for': '198.51.100.7' }), '198.51.100.7');
    // The client put 10.1.2.3 at the left; its proxy (203.0.113.5, trusted) appended its address.
    assert.equal(await body(p, { 'x-forwarded-for': '10.1.2.3, 198.51.100.7, 203.0.113.5' }), '198.51.100.7');
    assert.equal(await body(p, { 'x-forwarded-for': '10.1.2.3' }), 'internal 10.1.2.3', 'client_ip matches the resolved address');
    assert.equal(await body(p, { 'x-forwarded-for': ['10.1.2.3', '203.0.113.9'] }), 'internal 10.1.2.3', 'several header lines');
    assert.equal(await body(p, { 'x-forwarded-for': '[2001:DB8::1]:4711' }), '2001:db8::1');
    assert.equal(await body(p, {}), '127.0.0.1', 'no header: the peer');
    // Toward an upstream: a trusted peer's chain is kept and the peer appended.
    await body(p, { 'x-forwarded-for': '198.51.100.7' }, '/upstream');
    assert.equal(up.seen[0]!.headers['x-forwarded-for'], '198.51.100.7, 127.0.0.1');
  } finally {
    await p.instance.stop();
    await up.close();
  }
  const clients = accessLog(p).map((e) => e.request.client_ip);
  assert.deepEqual(clients, ['198.51.100.7', '198.51.100.7', '10.1.2.3', '10.1.2.3', '2001:db8::1', '127.0.0.1', '198.51.100.7']);
  assert.ok(accessLog(p).every((e) => e.request.remote_ip === '127.0.0.1'), 'remote_ip stays the peer');
  await p.stop();
});

test('garbage fails closed: a malformed header makes the peer the client', async () => {
  const p = await startPortcullis(config('\t\ttrusted_proxies static 127.0.0.1/32'));
  try {
    for (const value of ['10.1.2.3, <script>', 'unknown', '10.1.2.3,', '999.1.1.1', '010.1.2.3', '10.1.2.3 10.1.2.4', 'x'.repeat(4000)]) {
      assert.equal(await body(p, { 'x-forwarded-for': value }), '127.0.0.1', JSON.stringify(value.slice(0, 40)));
    }
  } finally {
    await p.instance.stop();
  }
  assert.ok(accessLog(p).every((e) => e.request.client_ip === '127.0.0.1'));
  await p.stop();
});

test('Forwarded spoofing: RFC 7239 from a trusted proxy only, obfuscated nodes fail closed', async () => {
  const p = await startPortcullis(config('\t\ttrusted_proxies static 127.0.0.1/32\n\t\tclient_ip_headers Forwarded'));
  try {
    assert.equal(await body(p, { forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https' }), '2001:db8:cafe::17');
    assert.equal(await body(p, { forwarded: 'for=10.1.2.3;by=127.0.0.1' }), 'internal 10.1.2.3');
    assert.equal(await body(p, { forwarded: 'for=10.1.2.3, for=_hidden' }), '127.0.0.1');
    assert.equal(await body(p, { forwarded: 'for=unknown' }), '127.0.0.1');
    assert.equal(await body(p, { 'x-forwarded-for': '10.1.2.3' }), '127.0.0.1', 'headers not listed are not read');
  } finally {
    await p.stop();
  }
});

test('CF-Connecting-IP spoofing: believed only from the Cloudflare source, which a reload re-reads', async () => {
  // The test client is not Cloudflare; a list file naming 127.0.0.1 makes it play Cloudflare.
  const p = await startPortcullis(config('\t\ttrusted_proxies cloudflare file cf.txt\n\t\tclient_ip_headers CF-Connecting-IP'), {
    files: { 'cf.txt': '# test list\n173.245.48.0/20\n' },
  });
  try {
    assert.equal(await body(p, { 'cf-connecting-ip': '198.51.100.7' }), '127.0.0.1', 'not from a Cloudflare address');
    writeFileSync(join(p.dir, 'cf.txt'), '173.245.48.0/20\n127.0.0.1/32\n');
    await p.instance.reload();
    assert.equal(await body(p, { 'cf-connecting-ip': '198.51.100.7' }), '198.51.100.7');
    assert.equal(await body(p, { 'cf-connecting-ip': '198.51.100.7, 10.1.2.3' }), '127.0.0.1', 'a list in a single-value header');
    assert.equal(await body(p, { 'x-forwarded-for': '198.51.100.7' }), '127.0.0.1', 'X-Forwarded-For is not listed');
    // A broken list fails the reload and the running config keeps serving.
    writeFileSync(join(p.dir, 'cf.txt'), '# empty: a failed download\n');
    await assert.rejects(() => p.instance.reload(), /lists no ranges/);
    assert.equal(await body(p, { 'cf-connecting-ip': '198.51.100.7' }), '198.51.100.7');
  } finally {
    await p.stop();
  }
});

test('trusted_proxies cloudflare with the shipped list does not trust loopback', async () => {
  const p = await startPortcullis(config('\t\ttrusted_proxies cloudflare\n\t\tclient_ip_headers CF-Connecting-IP X-Forwarded-For'));
  try {
    assert.equal(await body(p, { 'cf-connecting-ip': '10.1.2.3', 'x-forwarded-for': '10.1.2.3' }), '127.0.0.1');
  } finally {
    await p.stop();
  }
});
