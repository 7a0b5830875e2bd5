/**
 * The fast paths that write a response head as one raw field list (a cached file, a HEAD, a
 * proxied answer without header_down) must produce what the field-by-field path did: the same
 * fields, queued `header` edits applied, and the access log still seeing the body size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startPortcullis } from './support/instance.ts';
import { startUpstream } from './support/upstream.ts';

const BODY = 'x'.repeat(1000) + '\n';

test('cached file, HEAD, header edits and proxy: same head as before, access log sizes kept', async () => {
  const upstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '7', connection: 'keep-alive, x-hop', 'x-hop': 'dropped', 'x-kept': 'yes' });
    res.end('proxied');
  });
  const p = await startPortcullis(
    `
{
	admin off
}
http://127.0.0.1:0 {
	log {
		output file $DIR/access.log
	}
	handle /proxy/* {
		reverse_proxy 127.0.0.1:${upstream.port}
	}
	handle /edited/* {
		header X-Edit yes
		header -Last-Modified
		uri strip_prefix /edited
		root * $DIR
		file_server
	}
	handle {
		root * $DIR
		file_server
	}
}
`,
    { files: { 'page.txt': BODY } },
  );
  try {
    // Twice: the first read fills the cache, the second is answered from it.
    for (let i = 0; i < 2; i++) {
      const res = await request(`${p.url}/page.txt`);
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), BODY);
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(res.headers['content-length'], String(BODY.length));
      assert.equal(res.headers['accept-ranges'], 'bytes');
      assert.equal(res.headers.vary, 'Accept-Encoding');
      assert.match(String(res.headers.etag), /^"[0-9a-z]+-[0-9a-z]+"$/);
      assert.ok(!Number.isNaN(Date.parse(String(res.headers['last-modified']))));
    }

    const head = await request(`${p.url}/page.txt`, { method: 'HEAD' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], String(BODY.length));
    assert.equal(await head.body.text(), '');

    const edited = await request(`${p.url}/edited/page.txt`);
    assert.equal(edited.statusCode, 200);
    assert.equal(await edited.body.text(), BODY);
    assert.equal(edited.headers['x-edit'], 'yes');
    assert.equal(edited.headers['last-modified'], undefined, 'a queued deletion still applies');
    assert.ok(edited.headers.etag);

    const proxied = await request(`${p.url}/proxy/a`);
    assert.equal(proxied.statusCode, 200);
    assert.equal(await proxied.body.text(), 'proxied');
    assert.equal(proxied.headers['x-kept'], 'yes');
    assert.equal(proxied.headers['x-hop'], undefined, 'a field named in Connection is hop-by-hop');
  } finally {
    await p.instance.stop();
    await upstream.close();
  }
  const lines = readFileSync(join(p.dir, 'access.log'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { status: number; size: number; request: { method: string; uri: string } });
  const sizes = lines.map((l) => `${l.request.method} ${l.request.uri} ${l.status} ${l.size}`);
  assert.deepEqual(sizes, [
    `GET /page.txt 200 ${BODY.length}`,
    `GET /page.txt 200 ${BODY.length}`,
    `HEAD /page.txt 200 ${BODY.length}`,
    `GET /edited/page.txt 200 ${BODY.length}`,
    'GET /proxy/a 200 7',
  ]);
  await p.stop();
});
