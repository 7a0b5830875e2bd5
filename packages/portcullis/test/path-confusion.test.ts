/**
 * Path confusion between the matchers and the upstream: the matchers see the path decoded and
 * cleaned (normalize-path.ts), so what goes upstream must not resolve to a path they did not
 * see. A request with dot segments is sent on resolved; one without keeps the client's form.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawRequest } from './support/raw-http.ts';
import { startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

/** How common upstreams read a request target's path: a WHATWG URL parser (Node, Deno, Bun, Hono, Next.js). */
function whatwgPath(target: string): string {
  return new URL(target, 'http://upstream.test').pathname;
}

describe('path confusion: a /admin* gate and the upstream agree on the path', () => {
  let portcullis: Running;
  let upstream: Upstream;
  before(async () => {
    upstream = await startUpstream();
    portcullis = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
}
http://:0 {
	@admin path /admin*
	respond @admin "no" 403
	reverse_proxy 127.0.0.1:${upstream.port}
}
`);
  });
  after(async () => {
    await portcullis?.stop();
    await upstream?.close();
  });

  const send = async (target: string) => {
    const before = upstream.seen.length;
    const res = await rawRequest(portcullis.port(), `GET ${target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`, 5000);
    return { status: res.status, forwarded: upstream.seen.slice(before).map((s) => s.url) };
  };

  const attacks = ['/admin//../users', '/admin/x//../../users', '/admin/..;/users', '/admin/..%2Fusers', '/admin/%2e%2e/users', '/admin/.%2e/users', '/admin/x/..//../users'];
  for (const target of attacks) {
    test(`security: ${target} reaches the upstream as the path the gate judged, never under /admin`, async () => {
      const { status, forwarded } = await send(target);
      assert.equal(status, 200);
      assert.deepEqual(forwarded, ['/users']);
      assert.equal(whatwgPath(forwarded[0]!), '/users');
    });
  }

  test('security: a raw backslash, or an encoded one beside a dot segment, is refused with 400 (upstreams that read it as a separator would climb out of the matched path)', async () => {
    for (const target of ['/public/..%5c..%5cadmin', '/public/..%5C..%5Cadmin', '/public/x%5C..%5C..%5Cadmin', '/public/.%5cadmin', '/public/..\\admin']) {
      const { status, forwarded } = await send(target);
      assert.equal(status, 400, target);
      assert.deepEqual(forwarded, []);
    }
  });

  test('a path without dot segments is sent as the client wrote it', async () => {
    for (const target of ['/a;jsessionid=1/b', '/files/a%2Fb', '//double//slash', '/q?x=/../admin']) {
      const { forwarded } = await send(target);
      assert.deepEqual(forwarded, [target]);
    }
  });

  test('dot segments that stay inside /admin are judged as /admin', async () => {
    for (const target of ['/public/../admin/x', '/x/%2e%2e/admin', '/admin/./x']) {
      const { status, forwarded } = await send(target);
      assert.equal(status, 403, target);
      assert.deepEqual(forwarded, []);
    }
  });
});
