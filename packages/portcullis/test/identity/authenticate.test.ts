/**
 * `authenticate` end to end: a gated site next to the identity provider, a real upstream that
 * records what it receives, and a browser. Anonymous browsers go to sign in and come back to
 * the exact URL; policies per route; identity headers (and their aliases and the signed
 * assertion) reach the upstream; spoofed copies and the session cookie never do; one sign-in
 * covers the OpenID apps too; sign-out ends it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { openIdentityAdmin } from '../../src/main.ts';
import { Browser, formAction, hiddenInput, type Page } from '../support/browser.ts';
import { freePort, startPortcullis, type Running } from '../support/instance.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

const ALICE = { username: 'alice', password: 'alice-password-long', email: 'alice@example.com' };
const BOB = { username: 'bob', password: 'bob-password-long-enough', email: 'bob@example.com' };
const WEBAPP = { id: 'webapp', secret: 'webapp-secret-0123456789abcdef', redirect: 'http://127.0.0.1:9/callback' };

let running: Running;
let upstream: Upstream;
let issuer: string;
let site: string;

before(async () => {
  upstream = await startUpstream();
  const [idpPort, sitePort] = await Promise.all([freePort(), freePort()]);
  issuer = `http://127.0.0.1:${idpPort}`;
  site = `http://127.0.0.1:${sitePort}`;
  running = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
	database sqlite $DIR/identity.db
	identity {
		issuer ${issuer}
		client ${WEBAPP.id} {
			secret ${WEBAPP.secret}
			redirect_uri ${WEBAPP.redirect}
			first_party
		}
	}
}
${issuer} {
	identity_provider
}
${site} {
	handle /health {
		respond "ok"
	}
	handle /public/* {
		reverse_proxy 127.0.0.1:${upstream.port}
	}
	handle /admin/* {
		authenticate {
			require group admins
		}
		reverse_proxy 127.0.0.1:${upstream.port}
	}
	handle {
		authenticate {
			header_aliases authentik oauth2-proxy
			assertion
		}
		reverse_proxy 127.0.0.1:${upstream.port}
	}
}
`);
  const { admin, close } = await openIdentityAdmin({ configFile: running.configFile });
  try {
    await admin.addUser({ username: ALICE.username, email: ALICE.email, displayName: 'Alice Liddell', password: ALICE.password });
    await admin.addUser({ username: BOB.username, email: BOB.email, password: BOB.password });
    await admin.addGroup('admins');
    await admin.addGroup('staff');
    await admin.addMember('admins', ALICE.username);
    await admin.addMember('staff', ALICE.username);
  } finally {
    await close();
  }
});
after(async () => {
  await running.stop();
  await upstream.close();
});

/** Signs a browser in through the gated site's redirect; returns the page it lands on. */
async function signInVia(browser: Browser, url: string, user = ALICE): Promise<Page> {
  const first = await browser.get(url);
  assert.equal(first.status, 302, `anonymous ${url} is sent to sign in`);
  const login = await browser.follow(first);
  assert.match(login.body, /name="password"/);
  const posted = await browser.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: user.username, password: user.password });
  if (process.env.DEBUG_AUTH) console.log('posted', posted.status, posted.location, posted.headers['set-cookie'], browser.cookies);
  const final = await browser.follow(posted);
  if (process.env.DEBUG_AUTH) console.log('final', final.status, final.location, final.url);
  return final;
}

function lastSeen() {
  const seen = upstream.seen.at(-1);
  assert.ok(seen, 'the upstream was called');
  return seen;
}

describe('authenticate', () => {
  test('an anonymous browser is sent to sign in and comes back to the exact URL', async () => {
    const browser = new Browser();
    const target = `${site}/dashboard/a%20b?x=1&y=%2F`;
    const first = await browser.get(target);
    assert.equal(first.status, 302);
    const location = new URL(first.location!);
    assert.equal(location.origin + location.pathname, `${issuer}/login`);
    assert.equal(location.searchParams.get('rd'), target);
    const landed = await signInVia(new Browser(), target);
    assert.equal(landed.status, 200);
    assert.equal(lastSeen().url, '/dashboard/a%20b?x=1&y=%2F');
  });

  test('an anonymous API client gets 401, not a redirect', async () => {
    const res = await fetch(`${site}/api/thing`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    assert.equal(res.status, 401);
  });

  test('the upstream gets the identity headers, the aliases and a signed assertion, but never the session cookie', async () => {
    const browser = new Browser();
    await signInVia(browser, `${site}/me`);
    const seen = lastSeen();
    assert.equal(seen.headers['remote-user'], 'alice');
    assert.equal(seen.headers['remote-email'], ALICE.email);
    assert.equal(seen.headers['remote-name'], 'Alice Liddell');
    assert.equal(seen.headers['remote-groups'], 'admins,staff');
    assert.equal(seen.headers['x-authentik-username'], 'alice');
    assert.equal(seen.headers['x-authentik-groups'], 'admins|staff');
    assert.equal(seen.headers['x-auth-request-user'], 'alice');
    assert.equal(seen.headers['x-auth-request-groups'], 'admins,staff');
    assert.ok(!String(seen.headers.cookie ?? '').includes('.sso'), `no session cookie upstream: ${seen.headers.cookie}`);
    const assertion = String(seen.headers['x-portcullis-assertion']);
    const { payload } = await jwtVerify(assertion, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: site, algorithms: ['RS256'] });
    assert.equal(payload.preferred_username, 'alice');
    assert.deepEqual(payload.groups, ['admins', 'staff']);
    assert.ok(payload.exp! - payload.iat! <= 60);
  });

  test('policies per route: /admin/* needs admins; bob gets 403 there and passes elsewhere; /health is open', async () => {
    const browser = new Browser();
    await signInVia(browser, `${site}/home`, BOB);
    assert.equal(lastSeen().headers['remote-user'], 'bob');
    const admin = await browser.get(`${site}/admin/settings`);
    assert.equal(admin.status, 403);
    const health = await fetch(`${site}/health`);
    assert.equal(health.status, 200);
    const alice = new Browser();
    await signInVia(alice, `${site}/admin/settings`);
    assert.equal(lastSeen().url, '/admin/settings');
  });

  test('header spoofing: client-sent identity headers never reach the upstream, on open and gated routes', async () => {
    const spoofed = {
      'Remote-User': 'admin',
      remote_user: 'admin',
      'REMOTE-GROUPS': 'admins',
      'X-Authentik-Username': 'admin',
      'x_auth_request_user': 'admin',
      'X-Portcullis-Assertion': 'forged',
    };
    await fetch(`${site}/public/x`, { headers: spoofed });
    const open = lastSeen();
    for (const name of Object.keys(open.headers)) {
      assert.ok(!/^(remote[-_]|x[-_]authentik|x[-_]auth[-_]request|x[-_]portcullis)/i.test(name), `open route leaked ${name}: ${open.headers[name]}`);
    }
    const browser = new Browser();
    await signInVia(browser, `${site}/start`);
    const page = await browser.get(`${site}/gated`, spoofed);
    assert.equal(page.status, 200);
    const gated = lastSeen();
    assert.equal(gated.headers['remote-user'], 'alice', 'only the real identity');
    assert.equal(gated.headers['remote_user'], undefined);
    assert.equal(gated.headers['x_auth_request_user'], undefined);
    assert.notEqual(gated.headers['x-portcullis-assertion'], 'forged');
  });

  test('one sign-in covers the OpenID apps: the authorization request needs no second login', async () => {
    const browser = new Browser();
    await signInVia(browser, `${site}/x`);
    const config = await oidc.discovery(new URL(issuer), WEBAPP.id, undefined, oidc.ClientSecretBasic(WEBAPP.secret), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEBAPP.redirect,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const back = await browser.follow(await browser.get(url.href), (next) => next.startsWith('http://127.0.0.1:9/'));
    const callback = new URL(back.location!, back.url);
    assert.ok(callback.searchParams.get('code'), 'signed in without a form');
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    assert.equal(tokens.claims()!.preferred_username, 'alice');
  });

  test('signing out ends the session: the gated site asks to sign in again', async () => {
    const browser = new Browser();
    await signInVia(browser, `${site}/y`);
    assert.equal((await browser.get(`${site}/y`)).status, 200);
    const confirm = await browser.get(`${issuer}/logout?rd=${encodeURIComponent(`${site}/bye`)}`);
    const done = await browser.post(new URL(formAction(confirm.body), confirm.url).href, { xsrf: hiddenInput(confirm.body, 'xsrf'), logout: 'yes' });
    assert.equal(done.status, 303);
    assert.equal(done.location, `${site}/bye`);
    assert.equal((await browser.get(`${site}/y`)).status, 302);
  });

  test('sign-out without the form token is refused (logout CSRF)', async () => {
    const browser = new Browser();
    await signInVia(browser, `${site}/z`);
    const forged = await browser.post(`${issuer}/logout`, { logout: 'yes' });
    assert.equal(forged.status, 403);
    assert.equal((await browser.get(`${site}/z`)).status, 200, 'still signed in');
  });
});

describe('return addresses (open redirects)', () => {
  const evil = [
    'https://evil.example/',
    '//evil.example/',
    '/\\evil.example/',
    '/\t/evil.example/',
    '\t//evil.example',
    'https:evil.example',
    'https:/evil.example',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,x',
    `http://127.0.0.1:1@evil.example/`,
    'http://evil.example\\@127.0.0.1/',
    ' https://evil.example',
    'https://evil.example%2F@127.0.0.1/',
    'http://127.0.0.1.evil.example/',
    'http://evil127.0.0.1/',
    'http:\\\\evil.example',
    '/%0a/evil.example',
    '%2F%2Fevil.example',
  ];
  for (const rd of evil) {
    test(`open redirect: rd=${JSON.stringify(rd)} lands on the safe default, never elsewhere`, async () => {
      const browser = new Browser();
      const login = await browser.get(`${issuer}/login?rd=${encodeURIComponent(rd)}`);
      assert.equal(login.status, 200);
      const posted = await browser.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: ALICE.username, password: ALICE.password });
      if (posted.location !== null) {
        const target = new URL(posted.location, posted.url);
        assert.ok(target.hostname === '127.0.0.1', `redirected to ${posted.location}`);
      } else {
        assert.equal(posted.status, 200, 'the signed-in page');
      }
      // Signed in now: the login URL redirects straight away when rd is allowed.
      const again = await browser.get(`${issuer}/login?rd=${encodeURIComponent(rd)}`);
      if (again.location !== null) {
        const target = new URL(again.location, again.url);
        assert.equal(target.origin, issuer, `signed in, rd=${JSON.stringify(rd)} redirected to ${again.location}`);
      }
    });
  }

  test('control: a return address on a served host is followed', async () => {
    const browser = new Browser();
    await signInVia(browser, `${site}/c`);
    const again = await browser.get(`${issuer}/login?rd=${encodeURIComponent(`${site}/after`)}`);
    assert.equal(again.status, 303);
    assert.equal(again.location, `${site}/after`);
  });
});
