/**
 * Review: placeholders inside `rewrite` targets. Caddy substitutes `{path}` in a rewrite path
 * with the ESCAPED path (rewrite.go escapePathPlaceholders) and query-escapes placeholder values
 * in the query (buildQueryString), so a rewrite never decodes client input a second time and a
 * value can never add query parameters.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPortcullis, type Running } from './support/instance.ts';
import { rawRequest } from './support/raw-http.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

describe('rewrite placeholder escaping', () => {
  let p: Running;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	handle /files/* {
		rewrite * /public{path}
		reverse_proxy 127.0.0.1:${up.port}
	}
	handle /search/* {
		rewrite * /api?term={path}
		reverse_proxy 127.0.0.1:${up.port}
	}
	handle /re/* {
		uri path_regexp ^/re/ /jail/
		@escaped not path /jail/*
		respond @escaped "escaped the jail: {path}" 200
		reverse_proxy 127.0.0.1:${up.port}
	}
}
`);
  });
  after(async () => {
    await p.stop();
    await up.close();
  });

  async function upstreamUrl(target: string): Promise<string | undefined> {
    const before = up.seen.length;
    const res = await rawRequest(p.port(), `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 200, res.text);
    return up.seen.length > before ? up.seen[up.seen.length - 1]!.url : undefined;
  }

  test('{path} in a rewrite is not decoded twice: a literal %2e%2e segment cannot become ..', async () => {
    // The client sent the literal segment "%2e%2e" (escaped as %252e%252e). After
    // `rewrite * /public{path}` the upstream must get it still escaped (%252e), never `%2e%2e`,
    // which every upstream resolves as `..` and so leaves the /public tree.
    const url = await upstreamUrl('/files/%252e%252e/%252e%252e/private/secret');
    assert.ok(url !== undefined);
    assert.doesNotMatch(url, /\/%2e%2e\//i, `upstream got ${url}: a literal segment turned into a dot-segment`);
  });

  test('a placeholder in the rewritten query cannot add query parameters', async () => {
    // `%26admin=1` in the path decodes to `&admin=1`; Caddy query-escapes the value (term=%2Fsearch%2Fx%26admin%3D1).
    const url = await upstreamUrl('/search/x%26admin=1');
    assert.ok(url !== undefined);
    const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
    assert.equal(query.get('admin'), null, `upstream got ${url}: the client injected a query parameter`);
    assert.equal(query.get('term'), '/search/x&admin=1');
  });

  test('path_regexp does not decode the path a second time', async () => {
    const res = await rawRequest(p.port(), `GET /re/%252e%252e/secret HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.doesNotMatch(res.text, /escaped the jail/, res.text.slice(0, 300));
  });
});
