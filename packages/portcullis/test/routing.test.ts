/** Sites, routes and the small handlers, end to end over real HTTP with Caddy's semantics. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

async function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await request(url, { method, headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('sites and routes', () => {
  let p: Running;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
}
http://a.test:0 {
	respond "site a"
}
http://*.wild.test:0 {
	respond "wildcard {labels.2}"
}
http://b.test:0 {
	@api path /api/*
	handle @api {
		reverse_proxy 127.0.0.1:${up.port}
	}
	handle_path /static/* {
		respond "static {path}"
	}
	handle /redir {
		redir https://elsewhere.test{uri} permanent
	}
	handle /rewrite {
		rewrite * /api/rewritten?x=1
		reverse_proxy 127.0.0.1:${up.port}
	}
	handle /strip/* {
		uri strip_prefix /strip
		reverse_proxy 127.0.0.1:${up.port}
	}
	handle /teapot {
		error "short and stout" 418
	}
	handle /boom {
		error "internal detail" 500
	}
	handle /admin/* {
		respond "admin area" 200
	}
	handle /vars {
		vars greeting hello
		respond "{vars.greeting} from {method} {path} q={query.q}"
	}
	handle /route {
		route {
			respond "first in route"
			respond "second in route"
		}
	}
	handle /limited {
		request_body {
			max_size 10
		}
		reverse_proxy 127.0.0.1:${up.port}
	}
	handle /abort {
		abort
	}
	handle /empty {
		header X-Only "yes"
	}
	handle {
		respond "fallback" 404
	}
}
http://errors.test:0 {
	error "gone away" 410
	handle_errors {
		respond "custom error page {err.status_code}: {err.message}" 410
	}
}
`);
  });
  after(async () => {
    await p.stop();
    await up.close();
  });

  const at = (host: string, path: string, headers: Record<string, string> = {}) => get(`${p.url}${path}`, { host, ...headers });

  test('picks the site by Host, exact before wildcard', async () => {
    assert.equal((await at('a.test', '/')).body, 'site a');
    assert.equal((await at('x.wild.test', '/')).body, 'wildcard x');
    // A wildcard covers one label only.
    assert.equal((await at('y.x.wild.test', '/')).status, 404);
    const unknown = await at('nobody.test', '/');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /no site/);
  });

  test('handle blocks are mutually exclusive and fall back to the last one', async () => {
    const api = await at('b.test', '/api/items?x=1');
    assert.equal(api.status, 200);
    assert.equal(JSON.parse(api.body).url, '/api/items?x=1');
    const fallback = await at('b.test', '/nothing-here');
    assert.equal(fallback.status, 404);
    assert.equal(fallback.body, 'fallback');
  });

  test('handle_path strips its prefix', async () => {
    assert.equal((await at('b.test', '/static/css/site.css')).body, 'static /css/site.css');
  });

  test('redir keeps the request URI', async () => {
    const res = await at('b.test', '/redir?next=1');
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'https://elsewhere.test/redir?next=1');
  });

  test('rewrite and uri strip_prefix change what the upstream sees', async () => {
    assert.equal(JSON.parse((await at('b.test', '/rewrite')).body).url, '/api/rewritten?x=1');
    assert.equal(JSON.parse((await at('b.test', '/strip/deep/path?k=v')).body).url, '/deep/path?k=v');
  });

  test('error gives its status; a 5xx shows only an error id', async () => {
    const teapot = await at('b.test', '/teapot');
    assert.equal(teapot.status, 418);
    assert.match(teapot.body, /short and stout/);
    const boom = await at('b.test', '/boom', { accept: 'application/json' });
    assert.equal(boom.status, 500);
    const body = JSON.parse(boom.body);
    assert.equal(body.error.status, 500);
    assert.match(body.error.id, /^[0-9a-f]{16}$/);
    assert.doesNotMatch(boom.body, /internal detail/);
  });

  test('handle_errors routes answer errors', async () => {
    const res = await at('errors.test', '/anything');
    assert.equal(res.status, 410);
    assert.equal(res.body, 'custom error page 410: gone away');
  });

  test('placeholders: vars, method, path, query', async () => {
    assert.equal((await at('b.test', '/vars?q=42')).body, 'hello from GET /vars q=42');
  });

  test('route keeps literal order: the first respond wins', async () => {
    assert.equal((await at('b.test', '/route')).body, 'first in route');
  });

  test('request_body max_size refuses larger bodies with 413', async () => {
    const small = await request(`${p.url}/limited`, { method: 'POST', headers: { host: 'b.test' }, body: '12345' });
    assert.equal(small.statusCode, 200);
    await small.body.text();
    const big = await request(`${p.url}/limited`, { method: 'POST', headers: { host: 'b.test' }, body: 'x'.repeat(100) });
    assert.equal(big.statusCode, 413);
    await big.body.text();
  });

  test('abort drops the connection without a response', async () => {
    await assert.rejects(at('b.test', '/abort'));
  });

  test('a route that writes nothing gets an empty 200, with its headers', async () => {
    const res = await at('b.test', '/empty');
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    assert.equal(res.headers['x-only'], 'yes');
  });
});

describe('path matching security (path-confusion regression)', () => {
  let p: Running;
  before(async () => {
    p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	handle /admin* {
		respond "protected" 403
	}
	handle {
		respond "open"
	}
}
`);
  });
  after(() => p.stop());

  for (const target of ['/admin', '/ADMIN', '/%61dmin', '//admin', '/public/../admin', '/./admin', '/admin/../admin/x', '/%2e/admin', '/public/%2e%2e/admin']) {
    test(`matcher /admin* still matches ${target}`, async () => {
      const { rawRequest } = await import('./support/raw-http.ts');
      const res = await rawRequest(p.port(), `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 403, res.text);
    });
  }

  test('malformed percent-encoding and NUL are refused with 400', async () => {
    const { rawRequest } = await import('./support/raw-http.ts');
    for (const target of ['/%zz', '/a%00b', '/%']) {
      const res = await rawRequest(p.port(), `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 400, target);
    }
  });
});
