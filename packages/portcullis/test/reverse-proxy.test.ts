/** reverse_proxy: the round trip, headers both ways, X-Forwarded-*, errors and timeouts. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { deadAddress, proxyConfig, send, sleep, startProxy, startUpstream, type Proxy, type TestUpstream } from './reverse-proxy-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function upstream(handle?: Parameters<typeof startUpstream>[0]): Promise<TestUpstream> {
  const u = await startUpstream(handle);
  cleanups.push(() => u.close());
  return u;
}

async function proxy(...args: Parameters<typeof startProxy>): Promise<Proxy> {
  const p = await startProxy(...args);
  cleanups.push(() => p.close());
  return p;
}

describe('round trip', () => {
  test('method, path, query, body and headers reach the upstream as sent; the answer comes back', async () => {
    const up = await upstream((req, res, body) => {
      res.writeHead(201, { 'content-type': 'text/plain', 'x-from-upstream': 'yes', 'set-cookie': ['a=1', 'b=2'] });
      res.end(`got ${req.method} ${req.url} ${body.toString()}`);
    });
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await send(p.port, {
      method: 'PUT',
      path: '/some/%2Fpath?q=1&r=%20x',
      headers: { 'content-type': 'application/json', 'x-custom': 'value', host: 'app.example' },
      body: '{"a":1}',
    });
    assert.equal(reply.status, 201);
    assert.equal(reply.text, 'got PUT /some/%2Fpath?q=1&r=%20x {"a":1}');
    assert.equal(reply.headers['x-from-upstream'], 'yes');
    assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
    const seen = up.seen[0]!;
    assert.equal(seen.headers['x-custom'], 'value');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers['content-length'], '7');
    // Caddy passes the Host the client sent.
    assert.equal(seen.headers.host, 'app.example');
  });

  test('HEAD, 204 and 304 answers carry no body', async () => {
    const up = await upstream((req, res) => {
      if (req.url === '/204') return res.writeHead(204).end();
      if (req.url === '/304') return res.writeHead(304, { etag: '"x"' }).end();
      res.writeHead(200, { 'content-length': '5' }).end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const p = await proxy(proxyConfig([up.dial]));
    const head = await send(p.port, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '5');
    assert.equal(head.body.length, 0);
    assert.equal((await send(p.port, { path: '/204' })).status, 204);
    const notModified = await send(p.port, { path: '/304' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"x"');
  });

  test('a chunked request body is passed on chunked', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await send(p.port, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: 'streamed body' });
    assert.equal(reply.status, 200);
    assert.equal(up.seen[0]!.body.toString(), 'streamed body');
    assert.equal(up.seen[0]!.headers['transfer-encoding'], 'chunked');
    assert.equal(up.seen[0]!.headers['content-length'], undefined);
  });

  test('response trailers reach the client', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end();
    });
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await send(p.port, { headers: { te: 'trailers' } });
    assert.equal(reply.text, 'body');
    assert.equal(reply.trailers['x-checksum'], 'abc123');
    assert.equal(reply.headers.trailer, 'x-checksum');
    assert.equal(up.seen[0]!.headers.te, 'trailers');
  });
});

describe('hop-by-hop headers', () => {
  test('are removed towards the upstream, including those named in Connection', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]));
    await send(p.port, {
      headers: {
        connection: 'keep-alive, x-secret-hop',
        'x-secret-hop': 'should go',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'proxy-connection': 'keep-alive',
        te: 'gzip',
        upgrade: 'something',
        'x-kept': 'stays',
      },
    });
    const h = up.seen[0]!.headers;
    assert.equal(h['x-secret-hop'], undefined);
    assert.equal(h['keep-alive'], undefined);
    assert.equal(h['proxy-authorization'], undefined);
    assert.equal(h['proxy-connection'], undefined);
    assert.equal(h.te, undefined);
    assert.equal(h.upgrade, undefined);
    assert.equal(h['x-kept'], 'stays');
    // The proxy keeps its own connection to the upstream alive whatever the client asked.
    assert.notEqual(h.connection, 'close');
  });

  test('Connection cannot strip the Host or Content-Length the proxy relies on', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await send(p.port, { method: 'POST', headers: { connection: 'host, content-length', host: 'kept.example' }, body: 'abc' });
    assert.equal(reply.status, 200);
    assert.equal(up.seen[0]!.headers.host, 'kept.example');
    assert.equal(up.seen[0]!.body.toString(), 'abc');
  });

  test('are removed from the response, including those named in Connection', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('connection', 'x-internal');
      res.setHeader('x-internal', 'secret');
      res.setHeader('keep-alive', 'timeout=99');
      res.setHeader('proxy-authenticate', 'Basic');
      res.setHeader('alt-svc', 'h3=":443"');
      res.setHeader('x-public', 'ok');
      res.end('x');
    });
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await send(p.port);
    assert.equal(reply.headers['x-internal'], undefined);
    assert.equal(reply.headers['proxy-authenticate'], undefined);
    assert.equal(reply.headers['alt-svc'], undefined);
    assert.notEqual(reply.headers['keep-alive'], 'timeout=99');
    assert.equal(reply.headers['x-public'], 'ok');
  });
});

describe('X-Forwarded-*', () => {
  test('security regression: spoofed X-Forwarded-For/-Proto/-Host from an untrusted peer are replaced, never passed on', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]), { trustedProxies: ['10.0.0.0/8'] });
    await send(p.port, {
      headers: {
        host: 'real.example',
        'x-forwarded-for': '1.2.3.4, 5.6.7.8',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=1.2.3.4;proto=https',
        'x-real-ip': '1.2.3.4',
      },
    });
    const h = up.seen[0]!.headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'real.example');
    assert.equal(h.forwarded, undefined);
    assert.equal(h['x-real-ip'], undefined);
  });

  test('security: client-IP claims CDNs set (CF-Connecting-IP, True-Client-IP, ...) and URL overrides (X-Original-URL, X-Rewrite-URL) pass only from a trusted peer', async () => {
    const claims = {
      'cf-connecting-ip': '1.2.3.4',
      'cf-connecting-ipv6': '2001:db8::4',
      'true-client-ip': '1.2.3.4',
      'fastly-client-ip': '1.2.3.4',
      'x-cluster-client-ip': '1.2.3.4',
      'x-original-forwarded-for': '1.2.3.4',
      'x-original-url': '/admin',
      'x-rewrite-url': '/admin',
    };
    const up = await upstream();
    const untrusted = await proxy(proxyConfig([up.dial]), { trustedProxies: ['10.0.0.0/8'] });
    await send(untrusted.port, { path: '/public', headers: claims });
    for (const name of Object.keys(claims)) assert.equal(up.seen[0]!.headers[name], undefined, name);
    const trusted = await proxy(proxyConfig([up.dial]), { trustedProxies: ['127.0.0.0/8'] });
    await send(trusted.port, { path: '/public', headers: claims });
    for (const [name, value] of Object.entries(claims)) assert.equal(up.seen[1]!.headers[name], value, name);
  });

  test('Connection cannot be used to drop X-Forwarded-For', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]));
    await send(p.port, { headers: { connection: 'x-forwarded-for', 'x-forwarded-for': '9.9.9.9' } });
    assert.equal(up.seen[0]!.headers['x-forwarded-for'], '127.0.0.1');
  });

  test('a trusted peer’s values are kept and the peer is appended', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]), { trustedProxies: ['127.0.0.0/8'] });
    await send(p.port, {
      headers: { host: 'inner.example', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'outer.example', 'x-real-ip': '203.0.113.7' },
    });
    const h = up.seen[0]!.headers;
    assert.equal(h['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'outer.example');
    assert.equal(h['x-real-ip'], '203.0.113.7');
  });

  test('without incoming headers they are set from the connection', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]), { trustedProxies: ['127.0.0.1'] });
    await send(p.port, { headers: { host: 'site.example:8080' } });
    const h = up.seen[0]!.headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'site.example:8080');
  });

  test('an invalid trusted_proxies entry is a config error', async () => {
    await assert.rejects(() => startProxy(proxyConfig(['127.0.0.1:1']), { trustedProxies: ['not-an-ip'] }), /trusted_proxies/);
  });
});

describe('header_up / header_down', () => {
  test('set, add, delete (with wildcards), replace and default, literal and with placeholders', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('server', 'internal/1.2');
      res.setHeader('x-powered-by', 'php');
      res.setHeader('x-debug-a', '1');
      res.setHeader('x-debug-b', '2');
      res.setHeader('location', 'http://internal.local/next');
      res.end('ok');
    });
    const config = proxyConfig([up.dial], {
      headers: {
        request: {
          set: { host: ['{upstream_hostport}'], 'x-set': ['literal'], 'x-method': ['{method}'] },
          add: { 'x-added': ['one', 'two'] },
          delete: ['x-remove-me', 'x-drop-*'],
          replace: { 'x-rewrite': [{ search: 'old', replace: 'new$1' }], 'x-re': [{ search_regexp: '(\\d+)', replace: '<$1>' }] },
          default: { 'x-default': ['fallback'], 'x-present': ['not used'] },
        },
        response: {
          delete: ['x-powered-by', 'x-debug-*'],
          set: { server: ['portcullis'], 'x-upstream': ['{upstream_hostport}'] },
          replace: { location: [{ search: 'http://internal.local', replace: 'https://public.example' }] },
        },
      },
    });
    const p = await proxy(config);
    const reply = await send(p.port, {
      method: 'PATCH',
      headers: { 'x-remove-me': '1', 'x-drop-a': '1', 'x-drop-b': '2', 'x-rewrite': 'old-old', 'x-re': 'id 42 and 7', 'x-present': 'client' },
    });
    const h = up.seen[0]!.headers;
    assert.equal(h.host, up.dial);
    assert.equal(h['x-set'], 'literal');
    assert.equal(h['x-method'], 'PATCH');
    assert.equal(h['x-added'], 'one, two');
    assert.equal(h['x-remove-me'], undefined);
    assert.equal(h['x-drop-a'], undefined);
    assert.equal(h['x-drop-b'], undefined);
    assert.equal(h['x-rewrite'], 'new$1-new$1');
    assert.equal(h['x-re'], 'id <42> and <7>');
    assert.equal(h['x-default'], 'fallback');
    assert.equal(h['x-present'], 'client');
    assert.equal(reply.headers.server, 'portcullis');
    assert.equal(reply.headers['x-powered-by'], undefined);
    assert.equal(reply.headers['x-debug-a'], undefined);
    assert.equal(reply.headers['x-debug-b'], undefined);
    assert.equal(reply.headers['x-upstream'], up.dial);
    assert.equal(reply.headers.location, 'https://public.example/next');
  });

  test('header_up can override X-Forwarded-For (applied after the proxy sets it)', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial], { headers: { request: { set: { 'x-forwarded-for': ['{remote_host}'] }, delete: ['x-forwarded-host'] } } }));
    await send(p.port, { headers: { 'x-forwarded-for': '6.6.6.6' } });
    assert.equal(up.seen[0]!.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(up.seen[0]!.headers['x-forwarded-host'], undefined);
  });

  test('a placeholder that yields a control character is not written into a header', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial], { headers: { request: { set: { 'x-path': ['{path}'] } } } }));
    const reply = await send(p.port, { path: '/a%0d%0aInjected:%20yes' });
    assert.equal(reply.status, 200);
    assert.equal(up.seen[0]!.headers.injected, undefined);
    assert.equal(up.seen[0]!.headers['x-path'], undefined);
  });
});

describe('failures', () => {
  test('an upstream that refuses connections gives 502 at once', async () => {
    const p = await proxy(proxyConfig([await deadAddress()]));
    const started = performance.now();
    const reply = await send(p.port);
    assert.equal(reply.status, 502);
    assert.equal(reply.text, 'ERR_UPSTREAM_FAILED');
    assert.ok(performance.now() - started < 1000);
  });

  test('a slow upstream gives 504 after response_header_timeout', async () => {
    const up = await upstream((_req, res) => {
      const timer = setTimeout(() => res.end('late'), 3000);
      res.on('close', () => clearTimeout(timer));
    });
    const p = await proxy(proxyConfig([up.dial], { transport: { response_header_timeout_ms: 300 } }));
    const started = performance.now();
    const reply = await send(p.port);
    const elapsed = performance.now() - started;
    assert.equal(reply.status, 504);
    assert.equal(reply.text, 'ERR_UPSTREAM_TIMEOUT');
    assert.ok(elapsed >= 250 && elapsed < 2500, `took ${elapsed} ms`);
  });

  test('an upstream that dies mid-body makes the proxy cut the client connection, not end it cleanly', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const p = await proxy(proxyConfig([up.dial]));
    await assert.rejects(() => send(p.port), /aborted|socket hang up|ECONNRESET/);
  });

  test('a chunked upstream body that breaks off is not terminated with a final chunk', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const p = await proxy(proxyConfig([up.dial]));
    await assert.rejects(() => send(p.port), /aborted|socket hang up|ECONNRESET/);
  });

  test('read_timeout cuts an upstream body that stalls', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first');
      const timer = setTimeout(() => res.end('never in time'), 3000);
      res.on('close', () => clearTimeout(timer));
    });
    const p = await proxy(proxyConfig([up.dial], { transport: { read_timeout_ms: 300 } }));
    await assert.rejects(() => send(p.port), /aborted|socket hang up|ECONNRESET/);
  });

  test('1xx interim responses are not relayed; the final response is', async () => {
    const up = await upstream((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      setTimeout(() => res.end('final'), 20);
    });
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await send(p.port);
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'final');
  });

  test('Expect: 100-continue is answered by the proxy and not sent on', async () => {
    const up = await upstream();
    const p = await proxy(proxyConfig([up.dial]));
    const reply = await send(p.port, { method: 'POST', headers: { expect: '100-continue', 'content-length': '4' }, body: 'data' });
    assert.equal(reply.status, 200);
    assert.equal(up.seen[0]!.headers.expect, undefined);
    assert.equal(up.seen[0]!.body.toString(), 'data');
  });

  test('keep-alive: many sequential requests reuse the pool without error', async () => {
    const up = await upstream((_req, res) => res.end('k'));
    const p = await proxy(proxyConfig([up.dial]));
    for (let i = 0; i < 20; i++) assert.equal((await send(p.port)).text, 'k');
    await sleep(10);
  });
});
