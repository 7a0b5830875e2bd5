/**
 * @portcullis/verify against the real provider, as an app uses it: client_credentials access
 * tokens (RS256 and a client's ES256) checked by an API, ID tokens checked by the app that got
 * them, each kind refused where the other is expected, and the issuer asked once for discovery
 * and once for the keys however many tokens are checked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { createVerifier, requireScope, VerifyError, VerifyErrorCodes, type FetchLike } from '@portcullis/verify';
import { Browser } from '../support/browser.ts';
import { ALICE, relyingParty, SERVICE, signIn, startIdentity, WEBAPP, type IdentityHarness } from './harness.ts';

const EC_SERVICE = { id: 'ec-service', secret: 'ec-service-secret-0123456789abcd' };

let idp: IdentityHarness;
before(async () => {
  idp = await startIdentity(`
		client ${EC_SERVICE.id} {
			secret ${EC_SERVICE.secret}
			grant_types client_credentials
			scopes reports
			signing_alg ES256
		}`);
});
after(() => idp.stop());

/** fetch that counts what the verifier asks the issuer for. */
function countingFetch() {
  const seen: string[] = [];
  const fetchImpl: FetchLike = (url, init) => {
    seen.push(new URL(url).pathname);
    return fetch(url, init);
  };
  return { seen, fetchImpl };
}

async function accessToken(client: { id: string; secret: string }): Promise<string> {
  const config = await relyingParty(idp.issuer, client.id, client.secret);
  return (await oidc.clientCredentialsGrant(config, { scope: 'reports' })).access_token;
}

describe('@portcullis/verify against the provider', () => {
  test('an API verifies client_credentials access tokens (RS256 and ES256) with one discovery and one JWKS fetch', async () => {
    const { seen, fetchImpl } = countingFetch();
    const api = createVerifier({ issuer: idp.issuer, audience: idp.issuer, typ: 'at+jwt', fetch: fetchImpl });
    const tokens = [];
    for (let i = 0; i < 10; i++) tokens.push(await accessToken(i % 2 === 0 ? SERVICE : EC_SERVICE));
    assert.deepEqual(tokens.slice(0, 2).map((token) => decodeProtectedHeader(token).alg), ['RS256', 'ES256']);
    for (const token of [...tokens, ...tokens]) {
      const claims = await api.verify(token);
      assert.ok(claims.sub === SERVICE.id || claims.sub === EC_SERVICE.id, 'sub is the client id (RFC 9068 section 2.2)');
      assert.equal(claims.client_id, claims.sub);
      assert.deepEqual(claims.scopes, ['reports']);
      assert.deepEqual(claims.aud, [idp.issuer]);
      requireScope(claims, 'reports');
      assert.throws(() => requireScope(claims, 'invoices:write'), (error: unknown) => error instanceof VerifyError && error.status === 403);
    }
    assert.deepEqual(seen, ['/.well-known/openid-configuration', '/jwks']);
  });

  test('an app verifies its ID token; the ID token is no access token and the access token no ID token', async () => {
    const config = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    const pkce = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEBAPP.redirect,
      scope: 'openid profile email groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(pkce),
      code_challenge_method: 'S256',
    });
    const callback = await signIn(new Browser(), url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: pkce, expectedState: oidc.skipStateCheck });

    const app = createVerifier({ issuer: idp.issuer, audience: WEBAPP.id });
    const claims = await app.verify(tokens.id_token!);
    assert.equal(claims.preferred_username, ALICE.username);
    assert.equal(claims.email, ALICE.email);
    assert.deepEqual(claims.groups, ['admins']);
    assert.deepEqual(claims.aud, [WEBAPP.id]);

    const api = createVerifier({ issuer: idp.issuer, audience: idp.issuer, typ: 'at+jwt' });
    await assert.rejects(api.verify(tokens.id_token!), (error: unknown) => error instanceof VerifyError && error.status === 401);
    await assert.rejects(app.verify(await accessToken(SERVICE)), (error: unknown) => error instanceof VerifyError && error.code === VerifyErrorCodes.AUDIENCE);
    // Sign-in access tokens are opaque: not something to verify locally.
    await assert.rejects(api.verify(tokens.access_token), (error: unknown) => error instanceof VerifyError && error.code === VerifyErrorCodes.INVALID_TOKEN);
  });

  test('a verifier configured with another issuer spelling is refused at discovery (mix-up)', async () => {
    const wrong = createVerifier({ issuer: `${idp.issuer}/`, audience: idp.issuer });
    await assert.rejects(wrong.ready(), (error: unknown) => error instanceof VerifyError && error.code === VerifyErrorCodes.DISCOVERY);
  });
});
