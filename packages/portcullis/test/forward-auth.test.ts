/**
 * forward_auth end to end: a real Portcullis from a Caddyfile, a real auth server (node:http on
 * 127.0.0.1) and a real upstream. The auth server's verdict is chosen per request by the test
 * through the X-Test-Verdict header, which Portcullis forwards to it like any other field.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { adaptCaddyfileText } from '../src/config/load.ts';
import { parseConfigJson } from '../src/config/validate-json.ts';
import { ConfigErrors } from '../src/kernel/errors.ts';
import { deadAddress, listen } from './reverse-proxy-harness.ts';
import { startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

interface AuthSeen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const verdicts: Record<string, (res: ServerResponse) => void> = {
  'allow-bob': (res) => res.writeHead(200, { 'remote-user': 'bob', 'remote-groups': 'admins,dev', 'remote-email': 'bob@example.com' }).end('fine'),
  'allow-nobody': (res) => res.writeHead(200).end(),
  'deny-login': (res) => {
    res.setHeader('set-cookie', ['auth_flow=abc; Path=/; HttpOnly; SameSite=Lax']);
    res.writeHead(302, { location: 'https://auth.example/login?rd=https%3A%2F%2Fapp.example%2Fprivate', 'content-type': 'text/html' });
    res.end('<a href="https://auth.example/login">Found</a>');
  },
  'deny-401': (res) => {
    res.setHeader('set-cookie', ['tries=1; Path=/']);
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="app"', 'content-type': 'application/json' });
    res.end('{"error":"unauthorized"}');
  },
};

/** A response header's raw values, in every spelling the client or upstream used. */
function rawValues(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with fields given as a raw list (so one name can be sent twice), bounded in time. */
function send(port: number, options: { method?: string; path?: string; headers?: string[]; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = ['Host', 'app.example', ...(options.headers ?? [])];
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('forward_auth end to end', () => {
  let portcullis: Running;
  let upstream: Upstream;
  const authSeen: AuthSeen[] = [];
  const auth = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      authSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      const verdict = verdicts[String(req.headers['x-test-verdict'])] ?? verdicts['deny-401']!;
      verdict(res);
    });
  });

  before(async () => {
    const authPort = await listen(auth);
    // The upstream echoes its request, raw field list included, so a duplicated field shows.
    upstream = await startUpstream((req, res, body) => {
      const text = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, raw: req.rawHeaders, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    });
    portcullis = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
}
http://:0 {
	handle /dead/* {
		forward_auth ${await deadAddress()} {
			uri /verify
			copy_headers Remote-User
		}
		reverse_proxy 127.0.0.1:${upstream.port}
	}
	handle {
		forward_auth 127.0.0.1:${authPort} {
			uri /api/authz/forward-auth?site=app
			copy_headers Remote-User Remote-Groups>X-Groups {
				Remote-Email
			}
		}
		reverse_proxy 127.0.0.1:${upstream.port}
	}
}
`);
  });

  after(async () => {
    await portcullis?.stop();
    await upstream?.close();
    auth.closeAllConnections();
    await new Promise<void>((resolve) => auth.close(() => resolve()));
  });

  const seenBefore = (): number => upstream.seen.length;

  test('2xx: the listed fields, renamed, reach the upstream; so do the request and its body', async () => {
    const reply = await send(portcullis.port(), { method: 'POST', path: '/app/items?id=7', headers: ['X-Test-Verdict', 'allow-bob', 'Content-Type', 'text/plain'], body: 'payload' });
    assert.equal(reply.status, 200);
    const echoed = JSON.parse(reply.body) as { method: string; url: string; headers: IncomingHttpHeaders; body: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.url, '/app/items?id=7');
    assert.equal(echoed.body, 'payload');
    assert.equal(echoed.headers['remote-user'], 'bob');
    assert.equal(echoed.headers['x-groups'], 'admins,dev');
    assert.equal(echoed.headers['remote-groups'], undefined);
    assert.equal(echoed.headers['remote-email'], 'bob@example.com');
  });

  test('the auth server gets a GET to uri, no body, with X-Forwarded-Method and the raw X-Forwarded-Uri', async () => {
    authSeen.length = 0;
    const target = '/docs/%7Ea%2Fb/c;v=1?q=%20x&r';
    await send(portcullis.port(), { method: 'PATCH', path: target, headers: ['X-Test-Verdict', 'allow-bob', 'Content-Type', 'application/json', 'Cookie', 'session=s1'], body: '{"big":"secret"}' });
    const seen = authSeen[0]!;
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/api/authz/forward-auth?site=app');
    assert.equal(seen.body, '');
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.headers['x-forwarded-method'], 'PATCH');
    assert.equal(seen.headers['x-forwarded-uri'], target);
    assert.equal(seen.headers['x-forwarded-host'], 'app.example');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers.cookie, 'session=s1', 'the session cookie the auth server needs');
  });

  test('spoofing regression: a client-sent Remote-User (any spelling) never reaches the upstream when the auth answer lacks it', async () => {
    const reply = await send(portcullis.port(), {
      headers: ['X-Test-Verdict', 'allow-nobody', 'Remote-User', 'admin', 'remote-user', 'admin', 'X-Groups', 'admins', 'REMOTE-EMAIL', 'root@example.com'],
    });
    assert.equal(reply.status, 200);
    const echoed = JSON.parse(reply.body) as { headers: IncomingHttpHeaders; raw: string[] };
    assert.deepEqual(rawValues(echoed.raw, 'remote-user'), []);
    assert.deepEqual(rawValues(echoed.raw, 'x-groups'), []);
    assert.deepEqual(rawValues(echoed.raw, 'remote-email'), []);
  });

  test('spoofing regression: when the auth server sends Remote-User, the upstream sees its value only, once', async () => {
    const reply = await send(portcullis.port(), {
      headers: ['X-Test-Verdict', 'allow-bob', 'Remote-User', 'admin', 'remote-user', 'root', 'X-Groups', 'admins'],
    });
    const echoed = JSON.parse(reply.body) as { raw: string[] };
    assert.deepEqual(rawValues(echoed.raw, 'remote-user'), ['bob']);
    assert.deepEqual(rawValues(echoed.raw, 'x-groups'), ['admins,dev']);
  });

  test('spoofing regression: a copy_headers target spelled with `_` (Remote_User, which CGI, PHP and WSGI read as REMOTE_USER) never reaches the upstream, on any route of the site', async () => {
    // The targets here: Remote-User, X-Groups (renamed from the answer's Remote-Groups), Remote-Email.
    const spoofed = ['Remote_User', 'admin', 'X_GROUPS', 'admins', 'Remote_Email', 'root@example.com'];
    for (const verdict of ['allow-nobody', 'allow-bob']) {
      const reply = await send(portcullis.port(), { headers: ['X-Test-Verdict', verdict, ...spoofed] });
      assert.equal(reply.status, 200);
      const echoed = JSON.parse(reply.body) as { raw: string[] };
      for (const name of ['remote_user', 'x_groups', 'remote_email']) assert.deepEqual(rawValues(echoed.raw, name), [], `${verdict}: ${name}`);
      assert.deepEqual(rawValues(echoed.raw, 'remote-user'), verdict === 'allow-bob' ? ['bob'] : []);
    }
    // The site strips them before any route runs: the auth server does not see them either.
    authSeen.length = 0;
    await send(portcullis.port(), { headers: ['X-Test-Verdict', 'allow-nobody', ...spoofed] });
    assert.equal(authSeen[0]!.headers.remote_user, undefined);
  });

  test('non-2xx: a redirect to sign in, with its cookie and body, reaches the client unchanged; the upstream is not called', async () => {
    const before = seenBefore();
    const reply = await send(portcullis.port(), { path: '/private', headers: ['X-Test-Verdict', 'deny-login'] });
    assert.equal(reply.status, 302);
    assert.equal(reply.headers.location, 'https://auth.example/login?rd=https%3A%2F%2Fapp.example%2Fprivate');
    assert.deepEqual(reply.headers['set-cookie'], ['auth_flow=abc; Path=/; HttpOnly; SameSite=Lax']);
    assert.equal(reply.headers['content-type'], 'text/html');
    assert.equal(reply.body, '<a href="https://auth.example/login">Found</a>');
    assert.equal(seenBefore(), before);
  });

  test('non-2xx: a 401 with a body and a Set-Cookie reaches the client unchanged; the upstream is not called', async () => {
    const before = seenBefore();
    const reply = await send(portcullis.port(), { method: 'POST', path: '/api', headers: ['X-Test-Verdict', 'deny-401', 'Remote-User', 'admin'], body: 'x' });
    assert.equal(reply.status, 401);
    assert.equal(reply.headers['www-authenticate'], 'Bearer realm="app"');
    assert.deepEqual(reply.headers['set-cookie'], ['tries=1; Path=/']);
    assert.equal(reply.body, '{"error":"unauthorized"}');
    assert.equal(seenBefore(), before);
  });

  test('auth server down: a 502 error response, and the upstream is not called', async () => {
    const before = seenBefore();
    const reply = await send(portcullis.port(), { path: '/dead/x', headers: ['Remote-User', 'admin'] });
    assert.equal(reply.status, 502);
    assert.equal(seenBefore(), before);
  });
});

describe('forward_auth config errors name file and line', () => {
  const errorsOf = (text: string): string[] => {
    try {
      adaptCaddyfileText(text, 'Caddyfile', { env: {} });
    } catch (error) {
      if (error instanceof ConfigErrors) return error.errors.map((e) => e.describe());
      throw error;
    }
    assert.fail('the config was accepted');
  };

  test('no upstream', () => {
    assert.deepEqual(errorsOf('example.com {\n\tforward_auth {\n\t\turi /verify\n\t}\n}\n'), [
      'Caddyfile:2: forward_auth: no upstreams (usage: forward_auth [<matcher>] <upstreams...> { uri <to> }, or to <upstreams...> in the block)',
    ]);
  });

  test('a copy_headers rename without a target', () => {
    assert.deepEqual(errorsOf('example.com {\n\tforward_auth auth:9091 {\n\t\turi /verify\n\t\tcopy_headers Remote-User A>\n\t}\n}\n'), [
      'Caddyfile:4: forward_auth: copy_headers: "A>" is not <field> or <from>><to>',
    ]);
  });

  test('an unknown subdirective, and a missing uri', () => {
    assert.deepEqual(errorsOf('example.com {\n\tforward_auth auth:9091 {\n\t\tcopy_headers Remote-User\n\t\tverify_tls yes\n\t}\n}\n'), [
      'Caddyfile:2: forward_auth: the uri subdirective is required: the auth server\'s verification endpoint (e.g. uri /api/authz/forward-auth)',
      'Caddyfile:4: forward_auth: unknown subdirective "verify_tls"',
    ]);
  });

  test('a JSON config is held to the same rules', () => {
    const json = (handler: Record<string, unknown>): string =>
      JSON.stringify({ sites: [{ name: 'x', addresses: [{ original: ':80', scheme: '', host: '', port: 80, path: '' }], routes: [{ handle: [handler] }] }] });
    assert.throws(() => parseConfigJson(json({ handler: 'forward_auth', upstreams: [{ dial: 'auth:9091' }] }), 'c.json'), /missing field "uri"/);
    assert.throws(
      () => parseConfigJson(json({ handler: 'forward_auth', uri: '/v', upstreams: [{ dial: 'auth:9091' }], copy_headers: [{ from: 'A', to: 'Host' }] }), 'c.json'),
      /Host frames or routes the request/,
    );
    assert.throws(
      () => parseConfigJson(json({ handler: 'forward_auth', uri: '/v', upstreams: [{ dial: 'auth:9091' }], copy_headers: [{ from: 'A', to: 'X' }, { from: 'B', to: 'x' }] }), 'c.json'),
      /already set from another field/,
    );
    const ok = parseConfigJson(json({ handler: 'forward_auth', uri: '/v', upstreams: [{ dial: 'auth:9091' }] }), 'c.json');
    const handler = ok.sites[0]!.routes[0]!.handle[0]!;
    assert.equal(handler.handler, 'forward_auth');
    assert.deepEqual(handler.handler === 'forward_auth' ? handler.copy_headers : null, []);
  });
});
