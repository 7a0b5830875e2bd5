import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigErrors } from '../kernel/errors.ts';
import { parseConfigJson } from './validate-json.ts';

function errorsOf(text: string): string[] {
  try {
    parseConfigJson(text, 'config.json');
  } catch (err) {
    assert.ok(err instanceof ConfigErrors);
    return err.errors.map((e) => e.describe());
  }
  assert.fail('expected errors');
}

test('a minimal JSON config gets every default', () => {
  const config = parseConfigJson(
    JSON.stringify({
      sites: [{ addresses: [{ original: ':8080', port: 8080 }], routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: 'localhost:9000' }] }] }] }],
    }),
    'config.json',
  );
  assert.equal(config.admin.listen, 'localhost:2019');
  assert.equal(config.server.readHeaderTimeoutMs, 10_000);
  assert.equal(config.server.maxHeaderBytes, 65_536);
  const site = config.sites[0]!;
  assert.equal(site.name, ':8080');
  assert.deepEqual(site.source, { file: 'config.json', line: 1 });
  assert.deepEqual(site.addresses[0], { original: ':8080', scheme: '', host: '', port: 8080, path: '' });
  const rp = site.routes[0]!.handle[0]!;
  assert.equal(rp.handler, 'reverse_proxy');
  if (rp.handler === 'reverse_proxy') {
    assert.equal(rp.transport.dial_timeout_ms, 3000);
    assert.equal(rp.load_balancing.try_interval_ms, 250);
    assert.deepEqual(rp.upstreams, [{ dial: 'localhost:9000', scheme: 'http' }]);
  }
});

test('every problem is reported with its path and line', () => {
  const text = `{
  "admin": { "listen": "0.0.0.0:2019" },
  "logLevel": "loud",
  "sites": [
    {
      "addresses": [],
      "routes": [
        {
          "match": [{ "remote_ip": { "ranges": ["10.0.0.0/33"] }, "pth": ["/x"] }],
          "handle": [
            { "handler": "reverse_proxy", "upstreams": [] },
            { "handler": "static_respons" },
            { "handler": "subroute", "routes": [{ "handle": [{ "handler": "vars", "vars": { "a": 1 } }] }] }
          ]
        }
      ]
    }
  ]
}`;
  assert.deepEqual(errorsOf(text), [
    'config.json:2: admin.listen: "0.0.0.0:2019": the admin endpoint must listen on a loopback address (localhost, 127.0.0.1, [::1]) or a unix socket, since it has no authentication',
    'config.json:3: logLevel: expected one of "debug", "info", "warn", "error", got string "loud"',
    'config.json:6: sites[0].addresses: expected a non-empty list',
    'config.json:9: sites[0].routes[0].match[0].pth: unknown field (did you mean "path"?)',
    'config.json:9: sites[0].routes[0].match[0].remote_ip.ranges[0]: "10.0.0.0/33" is not an IP address or CIDR range',
    'config.json:11: sites[0].routes[0].handle[0].upstreams: expected a non-empty list',
    'config.json:12: sites[0].routes[0].handle[1].handler: unknown handler string "static_respons" (did you mean "static_response"?) (expected one of vars, headers, static_response, rewrite, subroute, encode, request_body, error, file_server, reverse_proxy, metrics, identity_provider, authenticate, jwt, rate_limit, forward_auth)',
    'config.json:13: sites[0].routes[0].handle[2].routes[0].handle[0].vars.a: expected a string, got number 1',
  ]);
});

test('syntax errors, absurd nesting and wrong types are refused', () => {
  const syntax = errorsOf('{\n  "sites": [\n   1 2]}');
  assert.equal(syntax.length, 1);
  assert.match(syntax[0]!, /^config\.json:3: json: invalid JSON/);
  assert.match(errorsOf('{\n  "sites": [\n}')[0]!, /^config\.json:\d+: json: invalid JSON/);
  assert.throws(() => parseConfigJson('['.repeat(100) + ']'.repeat(100), 'deep.json'), /nested more than/);
  assert.match(errorsOf('[]')[0]!, /\(config\): expected an object, got a list/);
  assert.match(errorsOf('{"sites": [], "httpPort": 70000}')[0]!, /httpPort: 70000 is out of range/);
});

test('a parsed object (the admin API) is accepted as well as text', () => {
  const config = parseConfigJson({ sites: [] }, 'admin API');
  assert.deepEqual(config.sites, []);
  assert.equal(config.autoHttps, 'on');
});
