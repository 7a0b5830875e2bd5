/**
 * Review: response framing and host matching at the front door, compared with Caddy (Go's
 * net/http) for the same Caddyfile.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { rawRequest } from './support/raw-http.ts';

function req(target: string, host: string, extra = '', method = 'GET'): string {
  return `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`;
}

describe('framing and hosts', () => {
  let p: Running;
  before(async () => {
    p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
}
http://example.test:0 {
	handle {
		respond /nocontent "ignored body" 204
		respond "example site"
	}
}
http://[::1]:0 {
	respond "v6 site"
}
`);
  });
  after(async () => {
    await p.stop();
  });

  test('204 carries no Content-Length (RFC 9110 §8.6)', async () => {
    const res = await rawRequest(p.port(), req('/nocontent', 'example.test'));
    assert.equal(res.status, 204);
    assert.doesNotMatch(res.text, /\r\ncontent-length:/i, res.text);
  });

  test('Host matching is case-insensitive; a trailing dot (the fully qualified name) is the same host', async () => {
    const upper = await rawRequest(p.port(), req('/', 'Example.TEST'));
    assert.equal(upper.status, 200, upper.text.slice(0, 120));
    assert.match(upper.text, /example site/);
    // Caddy's MatchHost does not trim it, so a catch-all site takes `admin.test.` past the
    // admin site's authentication, to a backend that reads it as admin.test (nginx does).
    const dotted = await rawRequest(p.port(), req('/', 'example.test.'));
    assert.equal(dotted.status, 200, dotted.text.slice(0, 120));
    assert.match(dotted.text, /example site/);
  });

  test('security: a Host with an empty label, a bracketed non-address or a port that is not digits is refused with 400', async () => {
    for (const host of ['..', '.', '..:80', '[..]', '[..]:80', '.example.test', 'example..test', 'example.test..', '[example.test]', '[::1', '[::1%25eth0]', '[::1%eth0]:80', '[::1]x', '[::1]:8o', 'example.test:80:90', 'example.test:http']) {
      const res = await rawRequest(p.port(), req('/', host));
      assert.equal(res.status, 400, `${host}: ${res.text.slice(0, 120)}`);
    }
  });

  test('an IPv6 literal Host [::1]:port reaches the [::1] site', async () => {
    const res = await rawRequest(p.port(), req('/', `[::1]:${p.port()}`));
    assert.equal(res.status, 200, res.text.slice(0, 120));
    assert.match(res.text, /v6 site/);
  });

  test('absolute-form request target is accepted (RFC 9112 §3.2.2: a server MUST accept it)', async () => {
    const res = await rawRequest(p.port(), req(`http://example.test:${p.port()}/`, `example.test:${p.port()}`));
    assert.equal(res.status, 200, res.text.slice(0, 120));
    assert.match(res.text, /example site/);
  });

  test('HEAD of a respond route sends headers only', async () => {
    const res = await rawRequest(p.port(), req('/', 'example.test', '', 'HEAD'));
    assert.equal(res.status, 200);
    assert.ok(res.text.endsWith('\r\n\r\n'), JSON.stringify(res.text));
  });

  test('an unknown host gets a 404 that does not reflect markup', async () => {
    const res = await rawRequest(p.port(), req('/', 'nobody.test'));
    assert.equal(res.status, 404);
    assert.match(res.text, /content-type: text\/plain/i);
    // A Host carrying markup is not a host at all: refused before routing, nothing echoed.
    const markup = await rawRequest(p.port(), req('/', 'evil<script>.test'));
    assert.equal(markup.status, 400);
    assert.doesNotMatch(markup.text, /<script>/);
  });
});

describe('hosts and a root built from {host}', () => {
  test('security: Host `..` cannot make `root * <dir>/{host}` the parent directory; a trailing-dot Host reaches its own gated site, not the catch-all', async () => {
    const port = await freePort();
    const p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
}
http://admin.test:${port} {
	respond "admin: sign in first" 401
}
http://:${port} {
	root * $DIR/sites/{host}
	file_server
}
`, { files: { 'secret.txt': 'outside the sites directory' } });
    try {
      for (const host of ['..', '[..]', '..:80']) {
        const res = await rawRequest(port, req('/secret.txt', host));
        assert.equal(res.status, 400, `${host}: ${res.text.slice(0, 160)}`);
        assert.doesNotMatch(res.text, /outside the sites directory/);
      }
      const dotted = await rawRequest(port, req('/', 'admin.test.'));
      assert.equal(dotted.status, 401, dotted.text.slice(0, 160));
    } finally {
      await p.stop();
    }
  });
});
