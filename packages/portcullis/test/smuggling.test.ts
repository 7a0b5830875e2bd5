/**
 * Request smuggling regression tests: ambiguous framing must be refused at the edge with 400
 * and never reach an upstream, whatever the upstream would have made of it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPortcullis, type Running } from './support/instance.ts';
import { rawRequest } from './support/raw-http.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

const cases: [string, string][] = [
  ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n\r\n'],
  ['Content-Length list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 30\r\n\r\nhello'],
  ['obs-fold header continuation', 'GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n'],
  ['obs-fold on Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'],
  ['bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
  ['chunk size with junk', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 junk\r\nhello\r\n0\r\n\r\n'],
  ['Transfer-Encoding not ending in chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['unknown Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['space before colon', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n'],
  ['bare LF line endings in chunk', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n'],
  ['missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n'],
  ['Host with a path', 'GET / HTTP/1.1\r\nHost: a/evil.example\r\n\r\n'],
  ['Host with a backslash', 'GET / HTTP/1.1\r\nHost: a\\evil.example\r\n\r\n'],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: user@evil.example\r\n\r\n'],
  ['two Host headers', 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n'],
  ['NUL in header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n'],
];

describe('request smuggling shapes are refused (regression)', () => {
  let p: Running;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    p = await startPortcullis(`
{
	admin off
}
:0 {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:${up.port}
}
`);
  });
  after(async () => {
    await p.stop();
    await up.close();
  });

  for (const [name, payload] of cases) {
    test(name, async () => {
      const before = up.seen.length;
      const res = await rawRequest(p.port(), payload);
      assert.equal(res.status, 400, `expected 400, got: ${res.text.slice(0, 200)}`);
      // One response, then the connection is closed: nothing after the ambiguous request is parsed.
      assert.equal(res.text.match(/HTTP\/1\.1 /g)?.length, 1, res.text);
      assert.ok(res.closed, 'connection closed after the refusal');
      assert.equal(up.seen.length, before, 'nothing reached the upstream');
      assert.ok(!up.seen.some((r) => r.url === '/smuggled'));
    });
  }

  test('a well-formed chunked request still passes', async () => {
    const res = await rawRequest(p.port(), 'POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.equal(res.status, 200, res.text);
    assert.equal(up.seen.at(-1)?.body, 'hello');
  });

  test('request head larger than the limit gets 431', async () => {
    const res = await rawRequest(p.port(), `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200_000)}\r\n\r\n`);
    assert.equal(res.status, 431);
  });
});
