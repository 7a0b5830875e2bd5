/**
 * The OpenID provider end to end with openid-client as the relying party: authorization code
 * with PKCE (public and confidential clients), claims, userinfo, refresh rotation and reuse
 * detection, client_credentials, introspection, revocation and RP-initiated logout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser, formAction, hiddenInput } from '../support/browser.ts';
import { rawRequest } from '../support/raw-http.ts';
import { ALICE, relyingParty, SERVICE, signIn, SPA, startIdentity, THIRD, WEBAPP, type IdentityHarness } from './harness.ts';

let idp: IdentityHarness;
before(async () => {
  idp = await startIdentity();
});
after(() => idp.stop());

async function codeFlow(config: oidc.Configuration, redirect: string, browser = new Browser()) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid profile email groups',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const callback = await signIn(browser, url);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  return { tokens, callback, browser };
}

describe('authorization code flow', () => {
  test('discovery names the issuer and the endpoints at the configured origin', async () => {
    const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc.issuer, idp.issuer);
    assert.equal(doc.token_endpoint, `${idp.issuer}/token`);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    assert.ok((doc.id_token_signing_alg_values_supported as string[]).includes('RS256'));
    assert.equal(doc.authorization_response_iss_parameter_supported, true);
  });

  test('discovery ignores a spoofed Host and X-Forwarded-Host', async () => {
    const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc.authorization_endpoint, `${idp.issuer}/auth`);
  });

  test('a confidential client gets RS256 ID token with the scoped claims and groups', async () => {
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const { tokens, callback } = await codeFlow(config, WEBAPP.redirect);
    assert.equal(callback.searchParams.get('iss'), idp.issuer, 'RFC 9207 iss in the authorization response');
    const claims = tokens.claims()!;
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, WEBAPP.id);
    assert.equal(claims.preferred_username, ALICE.username);
    assert.equal(claims.email, ALICE.email);
    assert.equal(claims.name, 'Alice Liddell');
    assert.deepEqual(claims.groups, ['admins']);
    assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
    assert.equal(claims.password_hash, undefined);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(userinfo.email, ALICE.email);
    assert.deepEqual(userinfo.groups, ['admins']);
    assert.ok(tokens.refresh_token, 'a client allowed to refresh gets a refresh token');
  });

  test('a public client signs in with PKCE and no secret', async () => {
    const config = await relyingParty(idp.issuer, SPA.id);
    const { tokens } = await codeFlow(config, SPA.redirect);
    assert.equal(tokens.claims()!.preferred_username, ALICE.username);
  });

  test('a third-party client asks for consent; allowing it completes the flow', async () => {
    const config = await relyingParty(idp.issuer, THIRD.id, THIRD.secret);
    const browser = new Browser();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: THIRD.redirect,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const login = await browser.follow(await browser.get(url.href));
    const afterLogin = await browser.follow(
      await browser.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: ALICE.username, password: ALICE.password }),
    );
    assert.match(afterLogin.body, /Third Party/);
    assert.match(afterLogin.body, /name="decision"/);
    const consented = await browser.post(new URL(formAction(afterLogin.body), afterLogin.url).href, { csrf: hiddenInput(afterLogin.body, 'csrf') });
    const back = await browser.follow(consented, (next) => next.startsWith('http://127.0.0.1:9/'));
    const callback = new URL(back.location!, back.url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    assert.equal(tokens.claims()!.email, ALICE.email);
  });

  test('denying consent sends access_denied back to the client', async () => {
    const config = await relyingParty(idp.issuer, THIRD.id, THIRD.secret);
    const browser = new Browser();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: THIRD.redirect,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const login = await browser.follow(await browser.get(url.href));
    const consent = await browser.follow(
      await browser.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: ALICE.username, password: ALICE.password }),
    );
    const denied = await browser.post(new URL(formAction(consent.body), consent.url).href, { csrf: hiddenInput(consent.body, 'csrf'), decision: 'deny' });
    const back = await browser.follow(denied, (next) => next.startsWith('http://127.0.0.1:9/'));
    assert.equal(new URL(back.location!, back.url).searchParams.get('error'), 'access_denied');
  });
});

describe('refresh tokens', () => {
  test('rotate on every use; reusing a rotated one revokes the whole grant', async () => {
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const { tokens } = await codeFlow(config, WEBAPP.redirect);
    const first = tokens.refresh_token!;
    const second = await oidc.refreshTokenGrant(config, first);
    assert.ok(second.refresh_token && second.refresh_token !== first, 'a new refresh token every time');
    assert.equal(second.claims()!.sub, tokens.claims()!.sub);
    await assert.rejects(oidc.refreshTokenGrant(config, first), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    // Reuse detection: the legitimate holder's newer token died with the grant.
    await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    const introspected = await oidc.tokenIntrospection(config, second.access_token);
    assert.equal(introspected.active, false, 'access tokens of the revoked grant are dead too');
  });
});

describe('client_credentials', () => {
  test('issues an RS256 JWT access token (RFC 9068) for the issuer, verifiable from the JWKS', async () => {
    const config = await relyingParty(idp.issuer, SERVICE.id, SERVICE.secret);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'reports' });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: idp.issuer, audience: idp.issuer, typ: 'at+jwt', algorithms: ['RS256'] });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.client_id, SERVICE.id);
    assert.equal(payload.scope, 'reports');
  });

  test('a wrong secret is refused with 401 invalid_client', async () => {
    const config = await relyingParty(idp.issuer, SERVICE.id, 'not-the-secret-0123456789abcdef');
    await assert.rejects(oidc.clientCredentialsGrant(config, { scope: 'reports' }), (error: oidc.WWWAuthenticateChallengeError) => {
      return error.status === 401 && error.cause[0]?.parameters.error === 'invalid_client';
    });
  });

  test('client_secret_post works as well as basic', async () => {
    const config = await oidc.discovery(new URL(idp.issuer), SERVICE.id, undefined, oidc.ClientSecretPost(SERVICE.secret), { execute: [oidc.allowInsecureRequests] });
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'reports' });
    assert.ok(tokens.access_token);
  });
});

describe('introspection and revocation', () => {
  test('an access token is active until revoked', async () => {
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const { tokens } = await codeFlow(config, WEBAPP.redirect);
    const before = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(before.active, true);
    assert.equal(before.client_id, WEBAPP.id);
    await oidc.tokenRevocation(config, tokens.access_token);
    const afterRevoke = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(afterRevoke.active, false);
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub));
  });

  test('a revoked refresh token cannot be used', async () => {
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const { tokens } = await codeFlow(config, WEBAPP.redirect);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
  });
});

describe('logout', () => {
  test('RP-initiated logout asks to confirm, ends the session and returns to the registered address', async () => {
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const { tokens, browser } = await codeFlow(config, WEBAPP.redirect);
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: WEBAPP.logout, state: 'xyz' });
    const confirm = await browser.get(end.href);
    assert.equal(confirm.status, 200);
    assert.match(confirm.headers['content-security-policy'] as string, /frame-ancestors 'none'/);
    const done = await browser.post(new URL(formAction(confirm.body), confirm.url).href, { xsrf: hiddenInput(confirm.body, 'xsrf'), logout: 'yes' });
    const back = await browser.follow(done, (next) => next.startsWith('http://127.0.0.1:9/'));
    const target = new URL(back.location!, back.url);
    assert.equal(`${target.origin}${target.pathname}`, WEBAPP.logout);
    assert.equal(target.searchParams.get('state'), 'xyz');
    // Signed out: a new authorization request shows the login form again.
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEBAPP.redirect,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const page = await browser.follow(await browser.get(url.href));
    assert.match(page.body, /name="password"/);
  });
});

describe('request targets', () => {
  test('garbage and //host targets get a 4xx or the issuer\'s own answer, never a 5xx or another origin', async () => {
    const port = Number(new URL(idp.issuer).port);
    const get = (target: string) => rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    for (const target of ['//[', '//evil.example:99999/x', '//evil.example/.well-known/openid-configuration']) {
      const res = await get(target);
      assert.ok(res.status >= 200 && res.status < 500, `${target}: ${res.status}`);
      assert.ok(!res.text.includes('evil.example"'), `${target}: no URL on evil.example`);
    }
    assert.equal((await get('/.well-known/openid-configuration')).status, 200);
  });
});
