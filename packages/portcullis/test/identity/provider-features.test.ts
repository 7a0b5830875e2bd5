/**
 * Provider features beyond the basic flows: per-client signing algorithms, key rotation through
 * `keys rotate` + reload, clients stored with the CLI, disabled users, back-channel logout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { systemClock } from '../../src/kernel/clock.ts';
import { rotateKeys } from '../../src/identity/index.ts';
import { openIdentityAdmin } from '../../src/main.ts';
import { Browser, formAction, hiddenInput } from '../support/browser.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';
import { ALICE, relyingParty, signIn, startIdentity, WEBAPP, type IdentityHarness } from './harness.ts';

const EC = { id: 'ec-app', secret: 'ec-app-secret-0123456789abcdef', redirect: 'http://127.0.0.1:9/ec' };
const ED = { id: 'ed-app', secret: 'ed-app-secret-0123456789abcdef', redirect: 'http://127.0.0.1:9/ed' };
const BCL = { id: 'bcl-app', secret: 'bcl-app-secret-0123456789abcdef', redirect: 'http://127.0.0.1:9/bcl', logout: 'http://127.0.0.1:9/bcl-bye' };

let idp: IdentityHarness;
let backchannel: Upstream;
before(async () => {
  backchannel = await startUpstream((_req, res) => {
    res.writeHead(200);
    res.end();
  });
  idp = await startIdentity(`
		client ${EC.id} {
			secret ${EC.secret}
			redirect_uri ${EC.redirect}
			signing_alg ES256
			first_party
		}
		client ${ED.id} {
			secret ${ED.secret}
			redirect_uri ${ED.redirect}
			signing_alg EdDSA
			first_party
		}
		client ${BCL.id} {
			secret ${BCL.secret}
			redirect_uri ${BCL.redirect}
			post_logout_redirect_uri ${BCL.logout}
			backchannel_logout_uri http://127.0.0.1:${backchannel.port}/backchannel
			first_party
		}`);
});
after(async () => {
  await idp.stop();
  await backchannel.close();
});

async function login(config: oidc.Configuration, redirect: string, browser = new Browser(), user = ALICE) {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid profile email groups',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await signIn(browser, url, user);
  return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
}

describe('signing algorithms per client', () => {
  for (const [client, alg] of [
    [EC, 'ES256'],
    [ED, 'EdDSA'],
  ] as const) {
    test(`${client.id} gets ${alg} ID tokens that verify against the JWKS`, async () => {
      const config = await relyingParty(idp.issuer, client.id, client.secret);
      const tokens = await login(config, client.redirect);
      assert.equal(decodeProtectedHeader(tokens.id_token!).alg, alg);
      const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)), { issuer: idp.issuer, audience: client.id, algorithms: [alg] });
      assert.equal(payload.preferred_username, ALICE.username);
    });
  }
});

describe('clients and users managed with the CLI', () => {
  test('a client added to the store signs users in; once deleted its refresh tokens are refused', async () => {
    const { admin, close } = await openIdentityAdmin({ configFile: idp.running.configFile });
    let secret: string;
    try {
      ({ secret } = (await admin.addClient({ id: 'stored-app', redirectUris: ['http://127.0.0.1:9/stored'], public: false, firstParty: true })) as { secret: string });
    } finally {
      await close();
    }
    const config = await relyingParty(idp.issuer, 'stored-app', secret);
    const tokens = await login(config, 'http://127.0.0.1:9/stored');
    assert.equal(tokens.claims()!.aud, 'stored-app');
    const again = await openIdentityAdmin({ configFile: idp.running.configFile });
    try {
      await again.admin.deleteClient('stored-app');
    } finally {
      await again.close();
    }
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!));
  });

  test('a disabled user cannot sign in, and their refresh tokens stop working', async () => {
    const bob = { username: 'bob', password: 'bob-password-long-enough', email: 'bob@example.com' };
    const first = await openIdentityAdmin({ configFile: idp.running.configFile });
    try {
      await first.admin.addUser({ username: bob.username, email: bob.email, password: bob.password });
    } finally {
      await first.close();
    }
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const tokens = await login(config, WEBAPP.redirect, new Browser(), bob);
    const second = await openIdentityAdmin({ configFile: idp.running.configFile });
    try {
      await second.admin.setDisabled('bob', true);
    } finally {
      await second.close();
    }
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false, 'introspection says so too');
    await assert.rejects(login(config, WEBAPP.redirect, new Browser(), bob), /expected a redirect back to the client/);
  });
});

describe('a password change', () => {
  test('security: ends the sign-ins before it: refresh tokens are refused and the browser session asks for the password again; a new sign-in works', async () => {
    const carol = { username: 'carol', password: 'carol-password-long-enough', email: 'carol@example.com' };
    const newPassword = 'carol-new-password-long-enough';
    const first = await openIdentityAdmin({ configFile: idp.running.configFile });
    try {
      await first.admin.addUser({ username: carol.username, email: carol.email, password: carol.password });
    } finally {
      await first.close();
    }
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const browser = new Browser();
    const tokens = await login(config, WEBAPP.redirect, browser, carol);
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true, 'the premise: a live token introspects active');
    // The premise: with its session, the browser is sent straight back, no password asked.
    const again = await browser.follow(await browser.get(authorizationUrl(config).href), (url) => !url.startsWith(idp.issuer));
    assert.ok(again.location?.startsWith(WEBAPP.redirect), `a live session skips the login page: ${again.status}`);
    // Tokens and sessions carry whole seconds: let a second pass so "before the change" is certain.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await openIdentityAdmin({ configFile: idp.running.configFile });
    try {
      await second.admin.setPassword('carol', newPassword);
    } finally {
      await second.close();
    }
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    // An app that validates tokens by introspection sees them ended too.
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false, 'the access token introspects inactive');
    assert.equal((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active, false, 'the refresh token introspects inactive');
    const page = await browser.follow(await browser.get(authorizationUrl(config).href));
    assert.match(page.body, /name="password"/, 'the old session no longer signs the browser in');
    const fresh = await login(config, WEBAPP.redirect, new Browser(), { ...carol, password: newPassword });
    assert.equal(fresh.claims()!.preferred_username, 'carol');
    assert.ok((await oidc.refreshTokenGrant(config, fresh.refresh_token!)).access_token, 'tokens from after the change work');
  });
});

/** An authorization request for WEBAPP (its answer is not redeemed). */
function authorizationUrl(config: oidc.Configuration): URL {
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: WEBAPP.redirect,
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
}

describe('key rotation', () => {
  test('after keys rotate and a reload, tokens carry the new kid and the old key stays published', async () => {
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const before = await login(config, WEBAPP.redirect);
    const oldKid = decodeProtectedHeader(before.id_token!).kid;
    const { store, close } = await openIdentityAdmin({ configFile: idp.running.configFile });
    try {
      await rotateKeys(store.keys, systemClock);
    } finally {
      await close();
    }
    await idp.running.instance.reload();
    const afterRotation = await login(config, WEBAPP.redirect);
    const newKid = decodeProtectedHeader(afterRotation.id_token!).kid;
    assert.notEqual(newKid, oldKid);
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: { kid: string; d?: string }[] };
    const kids = jwks.keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid!) && kids.includes(newKid!), `both keys published: ${kids.join(', ')}`);
    assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private key material in the JWKS');
    // Tokens signed before the rotation still verify.
    await jwtVerify(before.id_token!, createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)), { issuer: idp.issuer, audience: WEBAPP.id });
    // And sessions survive a reload: the browser's session cookie still works (sign-in is
    // skipped when the session is alive, so a fresh browser is used above on purpose).
  });
});

describe('back-channel logout', () => {
  test('ending the session posts a signed logout_token to the client', async () => {
    const config = await relyingParty(idp.issuer, BCL.id, BCL.secret);
    const browser = new Browser();
    const tokens = await login(config, BCL.redirect, browser);
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: BCL.logout });
    const confirm = await browser.get(end.href);
    await browser.post(new URL(formAction(confirm.body), confirm.url).href, { xsrf: hiddenInput(confirm.body, 'xsrf'), logout: 'yes' });
    const deadline = Date.now() + 5000;
    while (backchannel.seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const call = backchannel.seen[0];
    assert.ok(call, 'the back-channel logout endpoint was called');
    assert.equal(call.method, 'POST');
    const logoutToken = new URLSearchParams(call.body).get('logout_token')!;
    const { payload } = await jwtVerify(logoutToken, createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)), { issuer: idp.issuer, audience: BCL.id, typ: 'logout+jwt' });
    assert.equal(payload.sub, tokens.claims()!.sub);
    assert.ok(payload.sid, 'the logout token names the session');
    assert.ok((payload.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);
  });
});
