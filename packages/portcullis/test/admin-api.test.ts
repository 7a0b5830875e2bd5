/**
 * Review: admin API exposure. Browsers on a hostile page reach loopback too (DNS rebinding,
 * cross-site POST); only loopback Hosts and Origins may talk to it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { rawRequest } from './support/raw-http.ts';

describe('admin API', () => {
  let p: Running;
  let admin: number;
  before(async () => {
    admin = await freePort();
    p = await startPortcullis(`
{
	admin 127.0.0.1:${admin}
}
http://127.0.0.1:0 {
	respond "ok"
}
`);
  });
  after(() => p.stop());

  const cases: [string, string][] = [
    ['a rebound DNS name in Host', 'GET /config HTTP/1.1\r\nHost: attacker.example:2019\r\nConnection: close\r\n\r\n'],
    ['a loopback-looking DNS name in Host', 'GET /config HTTP/1.1\r\nHost: 127.0.0.1.attacker.example\r\nConnection: close\r\n\r\n'],
    ['a cross-site Origin', 'POST /stop HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://attacker.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'],
    ['an opaque (null) Origin', 'POST /stop HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: null\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'],
  ];
  for (const [name, payload] of cases) {
    test(`refuses ${name}`, async () => {
      const res = await rawRequest(admin, payload);
      assert.equal(res.status, 403, res.text.slice(0, 200));
    });
  }

  test('the instance is still serving after the refused /stop requests', async () => {
    const res = await fetch(p.url);
    assert.equal(await res.text(), 'ok');
  });

  test('refuses a non-loopback admin address at startup', async () => {
    await assert.rejects(
      startPortcullis(`
{
	admin 0.0.0.0:${admin + 0}
}
http://127.0.0.1:0 {
	respond "ok"
}
`),
      /loopback/,
    );
  });
});
