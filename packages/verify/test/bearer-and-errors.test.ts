/**
 * The Authorization header parser, the RFC 6750 challenges and bodies of VerifyError, and the
 * scope and group checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bearerToken, requireGroup, requireScope, VerifyError, VerifyErrorCodes, type VerifiedClaims } from '../src/index.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof VerifyError, String(error));
    return error.code;
  }
  return 'none';
}

describe('bearerToken', () => {
  test('takes exactly "Bearer <token68>", the scheme in any case', () => {
    assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerToken('bearer abc'), 'abc');
    assert.equal(bearerToken('BEARER a-b_c~d+e/f=='), 'a-b_c~d+e/f==');
  });

  test('no header, an empty one, or another scheme: missing', () => {
    for (const value of [undefined, null, '', 'Basic YWxpY2U6cHc=', 'Bearerabc', 'Token abc', 'DPoP abc']) {
      assert.equal(code(() => bearerToken(value)), VerifyErrorCodes.MISSING_TOKEN, String(value));
    }
  });

  test('a malformed Bearer header or two of them: invalid', () => {
    for (const value of ['Bearer', 'Bearer ', 'Bearer  abc', 'Bearer abc ', 'Bearer abc def', 'Bearer a"b', 'Bearer =abc', 'Bearer ab=c', 'Bearer abc\t', 'Bearer é', 'Bearer a,b']) {
      assert.equal(code(() => bearerToken(value)), VerifyErrorCodes.INVALID_TOKEN, JSON.stringify(value));
    }
    assert.equal(code(() => bearerToken(['Bearer a', 'Bearer b'])), VerifyErrorCodes.INVALID_TOKEN);
  });
});

describe('VerifyError', () => {
  test('a missing token: 401 and a challenge without an error code (RFC 6750 section 3.1)', () => {
    const error = new VerifyError(VerifyErrorCodes.MISSING_TOKEN, 'no header');
    assert.equal(error.status, 401);
    assert.equal(error.wwwAuthenticate('orders'), 'Bearer realm="orders"');
    assert.deepEqual(error.body(), { error: 'unauthorized', error_description: 'A bearer token is required' });
  });

  test('token problems: 401 invalid_token with a fixed description, never the internal message', () => {
    for (const c of [VerifyErrorCodes.INVALID_TOKEN, VerifyErrorCodes.EXPIRED, VerifyErrorCodes.AUDIENCE, VerifyErrorCodes.ISSUER, VerifyErrorCodes.ALGORITHM]) {
      const error = new VerifyError(c, 'secret detail "with quotes" \\ and\nnewlines');
      assert.equal(error.status, 401);
      const challenge = error.wwwAuthenticate('api')!;
      assert.match(challenge, /^Bearer realm="api", error="invalid_token", error_description="[^"\\]+"$/);
      assert.doesNotMatch(challenge, /secret/);
      assert.equal(error.body().error, 'invalid_token');
      assert.doesNotMatch(error.body().error_description, /secret/);
    }
  });

  test('forbidden: 403 insufficient_scope with scope=', () => {
    const error = new VerifyError(VerifyErrorCodes.FORBIDDEN, 'x', { scope: ['invoices:read', 'invoices:write'] });
    assert.equal(error.status, 403);
    assert.equal(
      error.wwwAuthenticate('api'),
      'Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant access to this resource", scope="invoices:read invoices:write"',
    );
  });

  test('discovery: 503 and no challenge (not the caller\'s fault)', () => {
    const error = new VerifyError(VerifyErrorCodes.DISCOVERY, 'x');
    assert.equal(error.status, 503);
    assert.equal(error.wwwAuthenticate('api'), undefined);
    assert.equal(error.body().error, 'temporarily_unavailable');
  });

  test('codes are the documented strings', () => {
    assert.deepEqual(Object.values(VerifyErrorCodes).sort(), [
      'ERR_VERIFY_ALGORITHM', 'ERR_VERIFY_AUDIENCE', 'ERR_VERIFY_DISCOVERY', 'ERR_VERIFY_EXPIRED',
      'ERR_VERIFY_FORBIDDEN', 'ERR_VERIFY_INVALID_TOKEN', 'ERR_VERIFY_ISSUER', 'ERR_VERIFY_MISSING_TOKEN',
    ]);
  });
});

describe('requireScope and requireGroup', () => {
  const claims = {
    sub: 'service', iss: 'https://idp', aud: ['https://idp'], exp: 0, iat: 0,
    scope: 'reports invoices:read', scopes: ['reports', 'invoices:read'], groups: ['ops'], raw: {},
  } satisfies VerifiedClaims;

  test('requireScope wants every scope named', () => {
    requireScope(claims, 'reports');
    requireScope(claims, 'reports', 'invoices:read');
    requireScope(claims);
    assert.throws(() => requireScope(claims, 'reports', 'invoices:write'), (error: unknown) => {
      assert.ok(error instanceof VerifyError);
      assert.equal(error.code, VerifyErrorCodes.FORBIDDEN);
      assert.equal(error.status, 403);
      assert.match(error.wwwAuthenticate('api')!, /scope="reports invoices:write"$/);
      return true;
    });
    assert.throws(() => requireScope(claims, 'report'), VerifyError, 'no prefix matching');
  });

  test('requireScope refuses a scope name that would break the header', () => {
    assert.throws(() => requireScope(claims, 'a"b'), TypeError);
    assert.throws(() => requireScope(claims, 'a b'), TypeError);
  });

  test('requireGroup wants any one of the groups named', () => {
    requireGroup(claims, 'ops');
    requireGroup(claims, 'admins', 'ops');
    assert.throws(() => requireGroup(claims, 'admins'), (error: unknown) => {
      assert.ok(error instanceof VerifyError && error.code === VerifyErrorCodes.FORBIDDEN && error.status === 403);
      assert.doesNotMatch(error.wwwAuthenticate('api')!, /admins/);
      return true;
    });
  });
});
