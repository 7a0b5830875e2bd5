/**
 * Review: `redir` and `respond` with request placeholders in headers. A Location built from the
 * decoded `{path}` must never become a protocol-relative URL a browser follows to another host,
 * and a value with CR/LF must not turn a redirect into a 500 (Go, and so Caddy, writes such a
 * header with the newlines replaced by spaces).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPortcullis, type Running } from './support/instance.ts';
import { rawRequest } from './support/raw-http.ts';

/** What a WHATWG browser does with a Location value relative to https://site.test/x. */
function browserTarget(location: string): URL {
  return new URL(location, 'https://site.test/x');
}

function locationOf(text: string): string | null {
  const m = /\r\nLocation: ([^\r\n]*)\r\n/i.exec(text);
  return m ? m[1]! : null;
}

describe('open redirect regression: redirects built from placeholders', () => {
  let p: Running;
  before(async () => {
    p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	@noslash path_regexp noslash [^/]$
	redir @noslash {path}/ 308
	respond "ok"
}
`);
  });
  after(() => p.stop());

  for (const target of ['/%09/evil.example', '/%5Cevil.example', '/%5C%5Cevil.example']) {
    test(`redir {path}/ stays on this host for ${target}`, async () => {
      const res = await rawRequest(p.port(), `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 308, res.text);
      const location = locationOf(res.text);
      assert.ok(location !== null, res.text);
      assert.equal(browserTarget(location).host, 'site.test', `Location ${JSON.stringify(location)} sends the browser to another host`);
    });
  }

  test('a CR/LF in {path} does not turn the redirect into a 500', async () => {
    const res = await rawRequest(p.port(), `GET /a%0d%0aX-Evil:%20yes HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.doesNotMatch(res.text, /\r\nX-Evil:/i);
    assert.equal(res.status, 308, res.text.slice(0, 200));
  });
});
