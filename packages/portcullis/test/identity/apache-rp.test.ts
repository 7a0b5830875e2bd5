/**
 * A real third-party relying party: Apache httpd with mod_auth_openidc (Debian's 2.4.12) signs
 * a user in through Portcullis's identity provider, redeems the code server to server (PKCE,
 * client_secret_basic), calls userinfo, and hands the claims to a CGI script. Skips when
 * apache2 or the module is not installed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { apacheMissing, startApache, type Apache } from '../support/apache.ts';
import { Browser, type Page } from '../support/browser.ts';
import { freePort } from '../support/instance.ts';
import { ALICE, startIdentity, submitLogin, type IdentityHarness } from './harness.ts';

// The minimal set next to what Debian compiles in (unixd, log_config): authn_core for
// AuthType, authz_user for `Require valid-user`, alias for ScriptAlias, cgi to run the script.
const MODULES = ['authn_core', 'authz_user', 'auth_openidc', 'cgi', 'alias'];
const skip = apacheMissing(MODULES) ?? false;

const APACHE_CLIENT = { id: 'apache', secret: `apache-secret-${randomBytes(16).toString('hex')}` };
const SESSION_COOKIE = 'mod_auth_openidc_session';
// mod_auth_openidc answers 401 instead of redirecting to the provider unless the request looks
// like a top-level browser navigation (otherwise it takes it for an XHR / API call).
const NAVIGATE = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
// With LogLevel auth_openidc:debug the module logs every server-to-server call it makes.
const BACK_CHANNEL_CALL = /oidc_util_http_call: url=/g;

// Prints what mod_auth_openidc passed in the environment (OIDCPassClaimsAs environment), with
// nothing but shell builtins and /usr/bin/env so it does not depend on PATH.
const CLAIMS_CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
/usr/bin/env | while IFS= read -r line; do
	case "$line" in
		OIDC_CLAIM_*|REMOTE_USER=*) printf '%s\\n' "$line" ;;
	esac
done
`;

let idp: IdentityHarness | undefined;
let apache: Apache | undefined;

before(async () => {
  if (skip) return;
  const apachePort = await freePort();
  const redirectUri = `http://127.0.0.1:${apachePort}/protected/redirect_uri`;
  idp = await startIdentity(`client ${APACHE_CLIENT.id} {
			name "Apache"
			secret ${APACHE_CLIENT.secret}
			redirect_uri ${redirectUri}
			scopes openid profile email groups
			first_party
		}`);
  apache = await startApache({
    port: apachePort,
    modules: MODULES,
    files: {
      'cgi/claims.cgi': { content: CLAIMS_CGI, mode: 0o755 },
      'cgi/admins.cgi': { content: CLAIMS_CGI, mode: 0o755 },
      'cgi/auditors.cgi': { content: CLAIMS_CGI, mode: 0o755 },
    },
    // Plain http on loopback needs nothing special: 2.4.12 only warns that the metadata URL and
    // the redirect URI SHOULD be https. OIDCSSLValidateServer matters only for https.
    config: `
LogLevel warn auth_openidc:debug
OIDCProviderMetadataURL ${idp.issuer}/.well-known/openid-configuration
OIDCClientID ${APACHE_CLIENT.id}
OIDCClientSecret ${APACHE_CLIENT.secret}
OIDCRedirectURI ${redirectUri}
OIDCCryptoPassphrase ${randomBytes(24).toString('hex')}
OIDCScope "openid profile email groups"
OIDCPKCEMethod S256
OIDCSessionType server-cache
OIDCPassClaimsAs environment
OIDCRemoteUserClaim preferred_username
OIDCHTTPTimeoutLong 10
OIDCHTTPTimeoutShort 5
ScriptAlias /protected/ $DIR/cgi/
<Directory $DIR/cgi>
	Options +ExecCGI
	Require all granted
</Directory>
<Location /protected>
	AuthType openid-connect
	Require valid-user
</Location>
<Location /protected/admins.cgi>
	Require claim groups:admins
</Location>
<Location /protected/auditors.cgi>
	Require claim groups:auditors
</Location>
`,
  });
});

after(async () => {
  await apache?.stop();
  await idp?.stop();
});

function running(): { idp: IdentityHarness; apache: Apache } {
  assert.ok(idp && apache, 'before() started Portcullis and Apache');
  return { idp, apache };
}

/** Parses the `NAME=value` lines the CGI prints. */
function claimsOf(page: Page): Map<string, string> {
  const claims = new Map<string, string>();
  for (const line of page.body.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) claims.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return claims;
}

function backChannelCalls(apache: Apache): number {
  return apache.errorLog().match(BACK_CHANNEL_CALL)?.length ?? 0;
}

/** From Apache's protected page through Portcullis's login to Apache's redirect_uri; returns that callback URL. */
async function signInThroughApache(browser: Browser, startUrl: string): Promise<URL> {
  const { idp, apache } = running();
  const fromIdp = (url: string) => url.startsWith(`${idp.issuer}/`);
  const first = await browser.get(startUrl, NAVIGATE);
  assert.equal(first.status, 302, `Apache should send the browser to the provider:\n${first.body}\n${apache.errorLog(4000)}`);
  const authorize = new URL(first.location!, first.url);
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${idp.issuer}/auth`);
  assert.equal(authorize.searchParams.get('client_id'), APACHE_CLIENT.id);
  assert.equal(authorize.searchParams.get('response_type'), 'code');
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256', 'mod_auth_openidc sends PKCE');
  assert.ok(authorize.searchParams.get('nonce'), 'mod_auth_openidc sends a nonce');

  const loginPage = await browser.follow(first);
  assert.match(loginPage.body, /name="password"/, `expected the login page, got ${loginPage.status}`);
  const posted = await submitLogin(browser, loginPage, ALICE.username, ALICE.password);
  const back = await browser.follow(posted, (url) => !fromIdp(url));
  assert.ok(back.location, `expected a redirect back to Apache, got ${back.status}:\n${back.body.slice(0, 1000)}`);
  const callback = new URL(back.location, back.url);
  assert.equal(`${callback.origin}${callback.pathname}`, `${apache.url}/protected/redirect_uri`);
  assert.ok(callback.searchParams.get('code'));
  assert.equal(callback.searchParams.get('iss'), idp.issuer, 'RFC 9207 iss, which mod_auth_openidc checks');
  return callback;
}

describe('Apache mod_auth_openidc as a relying party', { skip }, () => {
  test('signs alice in through Portcullis and passes her claims to the application', async () => {
    const { idp, apache } = running();
    const browser = new Browser();
    const protectedUrl = `${apache.url}/protected/claims.cgi`;
    const callback = await signInThroughApache(browser, protectedUrl);
    const callsBefore = backChannelCalls(apache);
    // Apache redeems the code at the token endpoint, checks the ID token against the JWKS and
    // calls userinfo, then sends the browser to the page it first asked for.
    const redeemed = await browser.get(callback.href);
    assert.equal(redeemed.status, 302, `Apache should accept the code:\n${redeemed.body}\n${apache.errorLog(4000)}`);
    assert.equal(new URL(redeemed.location!, redeemed.url).href, protectedUrl);
    assert.ok(backChannelCalls(apache) > callsBefore, 'the code was redeemed server to server');
    assert.ok(browser.cookie(SESSION_COOKIE), 'Apache keeps its own session cookie');

    const landed = await browser.follow(redeemed);
    assert.equal(landed.status, 200, `Apache should serve the protected page:\n${landed.body}\n${apache.errorLog(4000)}`);
    assert.equal(landed.url, protectedUrl);
    const claims = claimsOf(landed);
    assert.equal(claims.get('OIDC_CLAIM_preferred_username'), ALICE.username);
    assert.equal(claims.get('OIDC_CLAIM_email'), ALICE.email);
    assert.equal(claims.get('OIDC_CLAIM_name'), 'Alice Liddell');
    assert.equal(claims.get('OIDC_CLAIM_groups'), 'admins');
    assert.match(claims.get('OIDC_CLAIM_sub') ?? '', /^[\w-]{8,}$/);
    assert.equal(claims.get('OIDC_CLAIM_iss'), idp.issuer);
    assert.equal(claims.get('OIDC_CLAIM_aud'), APACHE_CLIENT.id);
    assert.equal(claims.get('REMOTE_USER'), ALICE.username);

    // The session cookie alone is enough now: no trip to the provider, by browser or back channel.
    const callsSignedIn = backChannelCalls(apache);
    const again = await browser.get(protectedUrl, NAVIGATE);
    assert.equal(again.status, 200, `a signed-in request should not leave Apache: ${again.status} ${again.location}`);
    assert.equal(claimsOf(again).get('OIDC_CLAIM_sub'), claims.get('OIDC_CLAIM_sub'));
    assert.equal(backChannelCalls(apache), callsSignedIn, 'no server-to-server call to Portcullis either');
  });

  test('groups from Portcullis drive Apache authorization (Require claim groups:...)', async () => {
    const { apache } = running();
    const browser = new Browser();
    const callback = await signInThroughApache(browser, `${apache.url}/protected/admins.cgi`);
    const landed = await browser.follow(await browser.get(callback.href));
    assert.equal(landed.status, 200, `alice is in admins:\n${landed.body}\n${apache.errorLog(4000)}`);
    assert.equal(claimsOf(landed).get('OIDC_CLAIM_groups'), 'admins');
    const refused = await browser.get(`${apache.url}/protected/auditors.cgi`, NAVIGATE);
    assert.ok(refused.status === 401 || refused.status === 403, `alice is not in auditors: ${refused.status}`);
    assert.doesNotMatch(refused.body, /OIDC_CLAIM_/);
  });

  test('a wrong password never reaches the application', async () => {
    const { idp, apache } = running();
    const fromIdp = (url: string) => url.startsWith(`${idp.issuer}/`);
    const protectedUrl = `${apache.url}/protected/claims.cgi`;
    const browser = new Browser();
    const first = await browser.get(protectedUrl, NAVIGATE);
    assert.equal(first.status, 302);
    const loginPage = await browser.follow(first);
    assert.match(loginPage.body, /name="password"/);
    const posted = await browser.follow(await submitLogin(browser, loginPage, ALICE.username, 'not her password'), (url) => !fromIdp(url));
    assert.ok(fromIdp(posted.url), `the browser stays at the provider, not ${posted.url}`);
    assert.ok(posted.location === null || fromIdp(new URL(posted.location, posted.url).href), `no redirect back to Apache: ${posted.location}`);
    assert.match(posted.body, /name="password"/, 'the login form again');
    assert.equal(browser.cookie(SESSION_COOKIE), undefined);
    // And Apache still sends the browser to the provider.
    const retry = await browser.get(protectedUrl, NAVIGATE);
    assert.equal(retry.status, 302);
    assert.ok(fromIdp(new URL(retry.location!, retry.url).href));
    assert.doesNotMatch(retry.body, /OIDC_CLAIM_/);
  });
});
