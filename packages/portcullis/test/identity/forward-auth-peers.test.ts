/**
 * Portcullis as the identity provider of other proxies: real Caddy (`forward_auth` to
 * `/api/forward-auth`) and real nginx (`auth_request` to `/api/auth-request`) in front of a
 * recording upstream, with the configs docs/forward-auth-endpoints.md recommends. A browser
 * that is not signed in goes to Portcullis's sign-in page and comes back to the URL it asked
 * the peer for; the upstream receives the identity the peer copied from Portcullis's answer,
 * never a client's own copy nor the sign-in cookie; policies in the query refuse with 403.
 * Then, without peers: X-Forwarded-* / X-Original-URL are believed from trusted proxies only.
 * The peer suites skip when caddy or nginx is not installed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openIdentityAdmin } from '../../src/main.ts';
import { Browser, formAction, hiddenInput, type Page } from '../support/browser.ts';
import { freePort, startPortcullis, type Running } from '../support/instance.ts';
import { caddyMissing, nginxMissing, startCaddy, startNginx, type Peer } from '../support/peers.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

const ALICE = { username: 'alice', password: 'alice-password-long', email: 'alice@example.com', name: 'Alice Liddell' };
/** No groups and no email address: empty identity fields. */
const BOB = { username: 'bob', password: 'bob-password-long-enough' };

/** What a hostile client sends along, hoping the app believes it. */
const SPOOFED = {
  'Remote-User': 'admin',
  remote_user: 'admin',
  'REMOTE-GROUPS': 'admins',
  'Remote-Email': 'admin@example.com',
  'Remote-Name': 'Admin',
  remote_groups: 'admins',
};
const IDENTITY_HEADER = /^remote[-_]/i;
/** Every fetch is bounded. */
const bounded = () => ({ signal: AbortSignal.timeout(10_000) });

let idp: Running;
let issuer: string;
let upstream: Upstream;

const idpConfig = (origin: string, trusted: boolean) => `{
	admin off
	default_bind 127.0.0.1
	database sqlite $DIR/identity.db
	${trusted ? 'servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}' : ''}
	identity {
		issuer ${origin}
	}
}
${origin} {
	identity_provider
}
`;

before(async () => {
  upstream = await startUpstream();
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  idp = await startPortcullis(idpConfig(issuer, true));
  const { admin, close } = await openIdentityAdmin({ configFile: idp.configFile });
  try {
    await admin.addUser({ username: ALICE.username, email: ALICE.email, displayName: ALICE.name, password: ALICE.password });
    await admin.addUser({ username: BOB.username, password: BOB.password });
    await admin.addGroup('admins');
    await admin.addMember('admins', ALICE.username);
  } finally {
    await close();
  }
});

after(async () => {
  await idp?.stop();
  await upstream?.close();
});

function lastSeen(since: number) {
  assert.ok(upstream.seen.length > since, 'the upstream was called');
  return upstream.seen.at(-1)!;
}

/** Signs a browser in at Portcullis from the peer's redirect; returns the page it lands on. */
async function signInVia(browser: Browser, url: string, user: { username: string; password: string }): Promise<Page> {
  const first = await browser.get(url);
  assert.equal(first.status, 302, `anonymous ${url} is sent to sign in (got ${first.status})`);
  const login = await browser.follow(first);
  assert.match(login.body, /name="password"/, `the sign-in page, got ${login.status}`);
  const posted = await browser.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: user.username, password: user.password });
  assert.equal(posted.status, 303, `signed in (got ${posted.status})`);
  return browser.follow(posted);
}

async function signedIn(base: string, user: { username: string; password: string }): Promise<Browser> {
  const browser = new Browser();
  const landed = await signInVia(browser, `${base}/start`, user);
  assert.equal(landed.status, 200);
  return browser;
}

/** The recommended Caddy config (docs/forward-auth-endpoints.md), on loopback ports. */
function caddyfile(caddyPort: number): string {
  const auth = (policy: string) => `forward_auth 127.0.0.1:${idp.port()} {
			uri /api/forward-auth?${policy}
			header_up Host {upstream_hostport}
			copy_headers Remote-User Remote-Email Remote-Name Remote-Groups
		}
		request_header Cookie "(^|;\\s*)(__Secure-)?portcullis\\.sso=[^;]*" "$none"`;
  return `{
	admin off
	auto_https off
}
http://127.0.0.1:${caddyPort} {
	request_header -Remote-*
	request_header -Remote_*
	handle /open/* {
		reverse_proxy 127.0.0.1:${upstream.port}
	}
	handle /admin/* {
		${auth('group=admins')}
		reverse_proxy 127.0.0.1:${upstream.port}
	}
	handle {
		${auth('')}
		reverse_proxy 127.0.0.1:${upstream.port}
	}
}
`;
}

/** The recommended nginx config (docs/forward-auth-endpoints.md), on loopback ports. */
function nginxConf(nginxPort: number): string {
  const ask = (name: string, query: string) => `location = ${name} {
			internal;
			proxy_pass http://127.0.0.1:${idp.port()}/api/auth-request${query};
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
		}`;
  return `
	map $http_cookie $portcullis_app_cookie {
		default $http_cookie;
		"~^(?<pc_before>.*?)(?:^|;\\s*)(?:__Secure-)?portcullis\\.sso=[^;]*(?<pc_after>.*)$" "$pc_before$pc_after";
	}
	server {
		listen 127.0.0.1:${nginxPort};
		${ask('/_portcullis', '')}
		${ask('/_portcullis_admins', '?group=admins')}

		auth_request_set $portcullis_user $upstream_http_remote_user;
		auth_request_set $portcullis_email $upstream_http_remote_email;
		auth_request_set $portcullis_name $upstream_http_remote_name;
		auth_request_set $portcullis_groups $upstream_http_remote_groups;
		auth_request_set $portcullis_login $upstream_http_location;
		error_page 401 =302 $portcullis_login;
		proxy_set_header Remote-User $portcullis_user;
		proxy_set_header Remote-Email $portcullis_email;
		proxy_set_header Remote-Name $portcullis_name;
		proxy_set_header Remote-Groups $portcullis_groups;
		proxy_set_header Cookie $portcullis_app_cookie;

		location /open/ {
			proxy_pass http://127.0.0.1:${upstream.port};
		}
		location /admin/ {
			auth_request /_portcullis_admins;
			proxy_pass http://127.0.0.1:${upstream.port};
		}
		location / {
			auth_request /_portcullis;
			proxy_pass http://127.0.0.1:${upstream.port};
		}
	}
`;
}

/** The same behaviour, asserted against each peer. */
function peerSuite(name: string, skip: string | false, start: (port: number) => Promise<Peer>): void {
  describe(name, { skip }, () => {
    let peer: Peer | undefined;
    let base: string;

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      peer = await start(port);
    });
    after(async () => {
      await peer?.stop();
    });

    const log = () => peer?.log(3000) ?? '';

    test('an anonymous browser goes to sign in with rd = the URL asked of the peer, and comes back to it signed in', async () => {
      const target = `${base}/dashboard/a%20b?x=1&y=%2F`;
      const first = await new Browser().get(target);
      assert.equal(first.status, 302, `${first.status} ${first.body.slice(0, 300)}\n${log()}`);
      const login = new URL(first.location!);
      assert.equal(`${login.origin}${login.pathname}`, `${issuer}/login`);
      assert.equal(login.searchParams.get('rd'), target, 'the forwarded URL is believed from the trusted peer');

      const since = upstream.seen.length;
      const landed = await signInVia(new Browser(), target, ALICE);
      assert.equal(landed.status, 200);
      assert.equal(landed.url, target, 'back at the original URL on the peer');
      const seen = lastSeen(since);
      assert.equal(seen.url, '/dashboard/a%20b?x=1&y=%2F');
      assert.equal(seen.headers['remote-user'], 'alice');
      assert.equal(seen.headers['remote-groups'], 'admins');
      assert.equal(seen.headers['remote-email'], ALICE.email);
      assert.equal(seen.headers['remote-name'], ALICE.name);
    });

    test('header spoofing: a signed-in user\'s request carries only the identity from Portcullis', async () => {
      const alice = await signedIn(base, ALICE);
      let since = upstream.seen.length;
      assert.equal((await alice.get(`${base}/page`, SPOOFED)).status, 200);
      let seen = lastSeen(since);
      assert.equal(seen.headers['remote-user'], 'alice');
      assert.equal(seen.headers['remote-groups'], 'admins');
      assert.equal(seen.headers['remote-email'], ALICE.email);
      assert.equal(seen.headers['remote-name'], ALICE.name);
      assert.equal(seen.headers['remote_user'], undefined);
      assert.equal(seen.headers['remote_groups'], undefined);

      // Bob's answer has empty Remote-Groups and Remote-Email: the client's values must not fill them.
      const bob = await signedIn(base, BOB);
      since = upstream.seen.length;
      assert.equal((await bob.get(`${base}/page`, SPOOFED)).status, 200);
      seen = lastSeen(since);
      assert.equal(seen.headers['remote-user'], 'bob');
      assert.equal(seen.headers['remote-name'], 'bob');
      assert.equal(seen.headers['remote-groups'] ?? '', '', `bob has no groups: ${seen.headers['remote-groups']}`);
      assert.equal(seen.headers['remote-email'] ?? '', '', `bob has no email: ${seen.headers['remote-email']}`);
      assert.equal(seen.headers['remote_user'], undefined);
      assert.equal(seen.headers['remote_groups'], undefined);
    });

    test('header spoofing: on an open route, client-sent identity headers are dropped', async () => {
      const since = upstream.seen.length;
      const res = await fetch(`${base}/open/x`, { headers: SPOOFED, ...bounded() });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      const seen = lastSeen(since);
      for (const header of Object.keys(seen.headers)) {
        assert.ok(!IDENTITY_HEADER.test(header), `open route leaked ${header}: ${seen.headers[header]}`);
      }
    });

    test('the sign-in cookie stays between the browser, the peer and Portcullis; the app\'s own cookies pass', async () => {
      const alice = await signedIn(base, ALICE);
      const url = new URL(`${base}/cookies`);
      const since = upstream.seen.length;
      assert.equal((await alice.get(url.href, { cookie: `app=1; ${alice.cookieHeader(url)}; theme=dark` })).status, 200);
      const cookie = String(lastSeen(since).headers.cookie ?? '');
      assert.ok(!cookie.includes('portcullis.sso'), `no sign-in cookie upstream: ${cookie}`);
      assert.match(cookie, /(^|; )app=1(;|$)/);
      assert.match(cookie, /(^|; )theme=dark(;|$)/);
    });

    test('the policy in the query: bob gets 403 on the admins-only route, alice passes', async () => {
      const bob = await signedIn(base, BOB);
      const since = upstream.seen.length;
      const refused = await bob.get(`${base}/admin/settings`);
      assert.equal(refused.status, 403);
      assert.equal(upstream.seen.length, since, 'nothing reached the upstream');
      const alice = await signedIn(base, ALICE);
      assert.equal((await alice.get(`${base}/admin/settings`)).status, 200);
      assert.equal(lastSeen(since).url, '/admin/settings');
      assert.equal(lastSeen(since).headers['remote-user'], 'alice');
    });

    test('an anonymous POST is sent to sign in too; a signed-in one reaches the upstream with its body', async () => {
      const anonymous = await new Browser().post(`${base}/form`, { a: '1' });
      assert.equal(anonymous.status, 302);
      assert.equal(new URL(anonymous.location!).searchParams.get('rd'), `${base}/form`);
      const alice = await signedIn(base, ALICE);
      const since = upstream.seen.length;
      assert.equal((await alice.post(`${base}/form`, { a: '1' })).status, 200);
      const seen = lastSeen(since);
      assert.equal(seen.method, 'POST');
      assert.equal(seen.body, 'a=1');
      assert.equal(seen.headers['remote-user'], 'alice');
    });

    test('signing out at Portcullis ends access through the peer', async () => {
      const alice = await signedIn(base, ALICE);
      assert.equal((await alice.get(`${base}/y`)).status, 200);
      const confirm = await alice.get(`${issuer}/logout`);
      const done = await alice.post(new URL(formAction(confirm.body), confirm.url).href, { xsrf: hiddenInput(confirm.body, 'xsrf'), logout: 'yes' });
      assert.equal(done.status, 200);
      assert.equal((await alice.get(`${base}/y`)).status, 302);
    });
  });
}

peerSuite('Caddy forward_auth -> /api/forward-auth', caddyMissing() ?? false, (port) => startCaddy(caddyfile(port), [port]));
peerSuite('nginx auth_request -> /api/auth-request', nginxMissing() ?? false, (port) => startNginx(nginxConf(port), [port]));

describe('Caddy forward_auth: what Caddy passes on from the client', { skip: caddyMissing() ?? false }, () => {
  let peer: Peer | undefined;
  let base: string;
  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    peer = await startCaddy(caddyfile(port), [port]);
  });
  after(async () => {
    await peer?.stop();
  });

  // Caddy sends the client's own request headers to the auth server, X-Original-URL included.
  test('a client-sent X-Original-URL does not steer the return address', async () => {
    const res = await fetch(`${base}/here`, { headers: { 'X-Original-URL': `http://127.0.0.1:1/elsewhere` }, redirect: 'manual', ...bounded() });
    await res.arrayBuffer();
    assert.equal(res.status, 302);
    assert.equal(new URL(res.headers.get('location')!).searchParams.get('rd'), `${base}/here`);
  });

  // Without `?` in `uri`, Caddy appends the client's query to the auth request.
  test('an app URL whose query looks like a policy does not lock a signed-in user out (uri ends with `?`)', async () => {
    const alice = await signedIn(base, ALICE);
    const page = await alice.get(`${base}/search?user=bob&group=nobody`);
    assert.equal(page.status, 200);
  });
});

describe('forward-auth endpoints: the original URL is believed from trusted proxies only', () => {
  let untrusted: Running | undefined;
  let untrustedIssuer: string;

  before(async () => {
    const port = await freePort();
    untrustedIssuer = `http://127.0.0.1:${port}`;
    untrusted = await startPortcullis(idpConfig(untrustedIssuer, false));
  });
  after(async () => {
    await untrusted?.stop();
  });

  const forwarded = { 'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': '127.0.0.1:8443', 'X-Forwarded-Uri': '/app/page?x=1' };
  const original = { 'X-Original-URL': 'http://127.0.0.1:8443/app/page?x=1' };

  async function ask(origin: string, path: string, headers: Record<string, string>, cookie?: string): Promise<{ status: number; location: string | null }> {
    const res = await fetch(`${origin}${path}`, { headers: { ...headers, ...(cookie ? { cookie } : {}) }, redirect: 'manual', ...bounded() });
    await res.arrayBuffer();
    return { status: res.status, location: res.headers.get('location') };
  }

  test('from a trusted proxy: /api/forward-auth 302 and /api/auth-request 401, both naming the forwarded URL in rd', async () => {
    const caddyStyle = await ask(issuer, '/api/forward-auth', forwarded);
    assert.equal(caddyStyle.status, 302);
    assert.equal(caddyStyle.location, `${issuer}/login?rd=${encodeURIComponent('http://127.0.0.1:8443/app/page?x=1')}`);
    const nginxStyle = await ask(issuer, '/api/auth-request', original);
    assert.equal(nginxStyle.status, 401);
    assert.equal(nginxStyle.location, `${issuer}/login?rd=${encodeURIComponent('http://127.0.0.1:8443/app/page?x=1')}`);
  });

  test('from a trusted proxy, a forwarded URL on a host Portcullis may not send browsers to is dropped', async () => {
    const res = await ask(issuer, '/api/forward-auth', { ...forwarded, 'X-Forwarded-Host': 'evil.example' });
    assert.equal(res.location, `${issuer}/login`);
    const nginxStyle = await ask(issuer, '/api/auth-request', { 'X-Original-URL': 'https://evil.example/' });
    assert.equal(nginxStyle.location, `${issuer}/login`);
  });

  test('without trusted_proxies, X-Forwarded-* and X-Original-URL are ignored: no rd', async () => {
    for (const [path, headers, status] of [
      ['/api/forward-auth', forwarded, 302],
      ['/api/forward-auth', original, 302],
      ['/api/auth-request', original, 401],
      ['/api/auth-request', forwarded, 401],
    ] as const) {
      const res = await ask(untrustedIssuer, path, headers);
      assert.equal(res.status, status, path);
      assert.equal(res.location, `${untrustedIssuer}/login`, `${path} ${JSON.stringify(headers)}`);
    }
  });

  test('/api/forward-auth takes the X-Forwarded-* a Caddy or Traefik sets over an X-Original-URL a client sent through it', async () => {
    const res = await ask(issuer, '/api/forward-auth', { ...forwarded, 'X-Original-URL': 'http://127.0.0.1:1/elsewhere' });
    assert.equal(res.location, `${issuer}/login?rd=${encodeURIComponent('http://127.0.0.1:8443/app/page?x=1')}`);
  });

  test('policies in the query: user, group, any_group, email', async () => {
    const alice = new Browser();
    const bob = new Browser();
    for (const [browser, user] of [[alice, ALICE], [bob, BOB]] as const) {
      const login = await browser.get(`${issuer}/login`);
      const posted = await browser.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: user.username, password: user.password });
      assert.equal(posted.status, 200);
    }
    const cases: [string, number, number][] = [
      ['', 200, 200],
      ['?user=alice', 200, 403],
      ['?user=ALICE,carol', 200, 403],
      ['?group=admins', 200, 403],
      ['?group=admins&group=staff', 403, 403],
      ['?any_group=staff,admins', 200, 403],
      ['?email=*@example.com', 200, 403],
      ['?user=bob', 403, 200],
    ];
    for (const [query, forAlice, forBob] of cases) {
      for (const [browser, expected, who] of [[alice, forAlice, 'alice'], [bob, forBob, 'bob']] as const) {
        const url = new URL(`${issuer}/api/forward-auth${query}`);
        const res = await ask(issuer, url.pathname + url.search, {}, browser.cookieHeader(url));
        assert.equal(res.status, expected, `${who} ${query}`);
      }
    }
    const answer = await fetch(`${issuer}/api/forward-auth`, { headers: { cookie: alice.cookieHeader(new URL(issuer)) }, ...bounded() });
    await answer.arrayBuffer();
    assert.equal(answer.headers.get('remote-user'), 'alice');
    assert.equal(answer.headers.get('remote-groups'), 'admins');
    assert.equal(answer.headers.get('remote-email'), ALICE.email);
    assert.equal(answer.headers.get('remote-name'), ALICE.name);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
  });

  test('a misspelt policy parameter refuses rather than admitting every signed-in user', async () => {
    const bob = new Browser();
    const login = await bob.get(`${issuer}/login`);
    await bob.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: BOB.username, password: BOB.password });
    for (const query of ['?groups=admins', '?group=', '?Group=admins']) {
      const url = new URL(`${issuer}/api/forward-auth${query}`);
      const res = await ask(issuer, url.pathname + url.search, {}, bob.cookieHeader(url));
      assert.notEqual(res.status, 200, query);
    }
  });
});
