/**
 * createVerifier against a loopback issuer: the algorithms it accepts and refuses, the claim
 * checks, discovery and the mix-up defence, JWKS refetching on an unknown kid with jose's
 * cooldown, the number of requests the issuer sees, and the verified-token cache.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createVerifier, VerifyError, VerifyErrorCodes, type VerifiedClaims, type VerifierOptions } from '../src/index.ts';
import { makeKey, startFakeIssuer, type Alg, type FakeIssuer } from './support/fake-issuer.ts';

let idp: FakeIssuer;
before(async () => {
  idp = await startFakeIssuer();
});
after(() => idp.close());

/** A clock the test moves by hand, in milliseconds. */
function manualClock(startMs = Date.now()) {
  const clock = { ms: startMs, now: () => clock.ms, seconds: () => Math.floor(clock.ms / 1000) };
  return clock;
}

function verifierFor(options: Partial<VerifierOptions> = {}) {
  return createVerifier({ issuer: idp.issuer, audience: idp.issuer, ...options });
}

function rejectsWith(code: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof VerifyError, `expected a VerifyError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function resetIssuer(): void {
  idp.setJwks(Object.values(idp.keys).map((key) => key.publicJwk));
  idp.setDiscovery({ issuer: idp.issuer, jwks_uri: `${idp.issuer}/jwks` });
}

describe('accepts', () => {
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as Alg[]) {
    test(`a good ${alg} token, with typed claims`, async () => {
      const verifier = verifierFor();
      const token = await idp.sign(
        { client_id: 'service', scope: 'reports invoices:read', groups: ['admins', 'ops'], email: 'alice@example.com', preferred_username: 'alice', name: 'Alice' },
        { alg },
      );
      const claims = await verifier.verify(token);
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.iss, idp.issuer);
      assert.deepEqual(claims.aud, [idp.issuer]);
      assert.equal(claims.scope, 'reports invoices:read');
      assert.deepEqual(claims.scopes, ['reports', 'invoices:read']);
      assert.deepEqual(claims.groups, ['admins', 'ops']);
      assert.equal(claims.client_id, 'service');
      assert.equal(claims.email, 'alice@example.com');
      assert.equal(claims.preferred_username, 'alice');
      assert.equal(claims.name, 'Alice');
      assert.equal(claims.raw.client_id, 'service');
      assert.equal(typeof claims.exp, 'number');
      assert.equal(typeof claims.iat, 'number');
    });
  }

  test('a token without scope or groups gets empty lists', async () => {
    const claims = await verifierFor().verify(await idp.sign({}));
    assert.equal(claims.scope, undefined);
    assert.deepEqual(claims.scopes, []);
    assert.deepEqual(claims.groups, []);
    assert.equal(claims.client_id, undefined);
  });

  test('an ID token: aud is the client id, one of the accepted audiences', async () => {
    const verifier = verifierFor({ audience: ['webapp', 'other'] });
    const claims = await verifier.verify(await idp.sign({ aud: ['webapp'] }));
    assert.deepEqual(claims.aud, ['webapp']);
  });

  test('the claims are frozen, nested custom claims too', async () => {
    const claims = await verifierFor().verify(await idp.sign({ groups: ['a'], custom: { nested: [1] } }));
    assert.throws(() => {
      (claims as { sub: string }).sub = 'mallory';
    }, TypeError);
    assert.throws(() => (claims.groups as string[]).push('admins'), TypeError);
    assert.throws(() => ((claims.raw.custom as { nested: number[] }).nested.push(2)), TypeError);
  });

  test('an expired token inside the clock tolerance', async () => {
    const clock = manualClock();
    const verifier = verifierFor({ now: clock.now, clockTolerance: 30 });
    const token = await idp.sign({ exp: clock.seconds() - 10 }, { now: clock.seconds() - 100 });
    const claims = await verifier.verify(token);
    assert.equal(claims.sub, 'alice');
  });

  test('typ at+jwt when the verifier asks for it, with or without application/', async () => {
    const verifier = verifierFor({ typ: 'at+jwt' });
    await verifier.verify(await idp.sign({}, { typ: 'at+jwt' }));
    await verifier.verify(await idp.sign({ sub: 'b' }, { typ: 'application/at+jwt' }));
  });
});

describe('refuses', () => {
  test('an expired token beyond the tolerance', async () => {
    const clock = manualClock();
    const verifier = verifierFor({ now: clock.now, clockTolerance: 30 });
    const token = await idp.sign({ exp: clock.seconds() - 31 }, { now: clock.seconds() - 100 });
    await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.EXPIRED));
  });

  test('a token not yet valid (nbf beyond the tolerance)', async () => {
    const clock = manualClock();
    const verifier = verifierFor({ now: clock.now, clockTolerance: 30 });
    const token = await idp.sign({ nbf: clock.seconds() + 60 }, { now: clock.seconds() });
    await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
    clock.ms += 31_000;
    assert.equal((await verifier.verify(token)).sub, 'alice', 'valid once nbf - tolerance has passed');
  });

  test('a wrong audience', async () => {
    const token = await idp.sign({ aud: 'another-api' });
    await assert.rejects(verifierFor().verify(token), rejectsWith(VerifyErrorCodes.AUDIENCE));
  });

  test('an ID token where an access token is expected: aud is the client, not the issuer', async () => {
    const token = await idp.sign({ aud: 'webapp' });
    await assert.rejects(verifierFor({ typ: 'at+jwt' }).verify(token), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
    await assert.rejects(verifierFor().verify(token), rejectsWith(VerifyErrorCodes.AUDIENCE));
  });

  test('a wrong issuer, even signed with the right key', async () => {
    const token = await idp.sign({ iss: 'https://evil.example' });
    await assert.rejects(verifierFor().verify(token), rejectsWith(VerifyErrorCodes.ISSUER));
  });

  test('alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: idp.issuer, aud: idp.issuer, sub: 'alice', iat: now, exp: now + 300 })}.`;
    await assert.rejects(verifierFor().verify(token), rejectsWith(VerifyErrorCodes.ALGORITHM));
  });

  test('HS256 signed with the RSA public key as the secret (PEM and JWK bytes)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const rsa = idp.keys.RS256;
    const pem = createPublicKey({ key: rsa.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    const secrets = [pem, JSON.stringify(rsa.publicJwk), rsa.publicJwk.n!];
    for (const secret of secrets) {
      const input = `${b64({ alg: 'HS256', kid: rsa.kid, typ: 'JWT' })}.${b64({ iss: idp.issuer, aud: idp.issuer, sub: 'mallory', iat: now, exp: now + 300 })}`;
      const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await assert.rejects(verifierFor().verify(token), rejectsWith(VerifyErrorCodes.ALGORITHM));
    }
  });

  test('an algorithm the verifier was not configured for', async () => {
    const token = await idp.sign({}, { alg: 'EdDSA' });
    await assert.rejects(verifierFor({ algorithms: ['RS256'] }).verify(token), rejectsWith(VerifyErrorCodes.ALGORITHM));
  });

  test('a token signed by an unknown key that claims a known kid, without refetching', async () => {
    const verifier = verifierFor({ jwksCooldownMs: 0 });
    await verifier.ready();
    const before = idp.requests.jwks;
    const impostor = await makeKey('RS256', idp.keys.RS256.kid);
    const token = await idp.sign({ sub: 'mallory' }, { key: impostor });
    await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
    assert.equal(idp.requests.jwks, before, 'a known kid is no reason to refetch');
  });

  test('a token with the kid of an RSA key but signed ES256', async () => {
    const token = await idp.sign({}, { alg: 'ES256', kid: idp.keys.RS256.kid });
    await assert.rejects(verifierFor().verify(token), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
  });

  test('a typ mismatch when typ is set', async () => {
    const verifier = verifierFor({ typ: 'at+jwt' });
    await assert.rejects(verifier.verify(await idp.sign({}, { typ: 'JWT' })), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
    await assert.rejects(verifier.verify(await idp.sign({})), rejectsWith(VerifyErrorCodes.INVALID_TOKEN), 'no typ at all');
  });

  test('tokens without exp, iat or sub, or with mistyped scope or groups', async () => {
    const verifier = verifierFor();
    for (const claims of [{ exp: undefined }, { iat: undefined }, { sub: undefined }, { sub: '' }, { scope: ['a'] }, { groups: 'admins' }, { groups: [1] }, { aud: undefined }]) {
      await assert.rejects(verifier.verify(await idp.sign(claims)), (error: unknown) => {
        assert.ok(error instanceof VerifyError);
        assert.notEqual(error.status, 503);
        return true;
      }, JSON.stringify(claims));
    }
  });

  test('garbage, an empty token and an oversized one', async () => {
    const verifier = verifierFor();
    await assert.rejects(verifier.verify(''), rejectsWith(VerifyErrorCodes.MISSING_TOKEN));
    for (const garbage of ['abc', 'a.b.c', 'a.b', `${b64({ alg: 'RS256' })}.${b64([1])}.AAAA`, '..']) {
      await assert.rejects(verifier.verify(garbage), rejectsWith(VerifyErrorCodes.INVALID_TOKEN), garbage);
    }
    await assert.rejects(verifier.verify('a'.repeat(20_000)), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
  });
});

describe('options', () => {
  test('a verifier with HS*, none or an unknown algorithm cannot be made', () => {
    for (const algorithms of [['HS256'], ['RS256', 'HS512'], ['none'], ['RS1'], []]) {
      assert.throws(() => createVerifier({ issuer: 'https://idp.example', audience: 'x', algorithms }), TypeError, JSON.stringify(algorithms));
    }
  });

  test('bad issuer, audience, tolerance, realm and cache size are refused', () => {
    const base = { issuer: 'https://idp.example', audience: 'x' };
    assert.throws(() => createVerifier({ ...base, issuer: 'idp.example' }), TypeError);
    assert.throws(() => createVerifier({ ...base, issuer: 'ftp://idp.example' }), TypeError);
    assert.throws(() => createVerifier({ ...base, issuer: 'https://idp.example/?a=1' }), TypeError);
    assert.throws(() => createVerifier({ ...base, audience: [] }), TypeError);
    assert.throws(() => createVerifier({ ...base, audience: '' }), TypeError);
    assert.throws(() => createVerifier({ ...base, clockTolerance: -1 }), TypeError);
    assert.throws(() => createVerifier({ ...base, clockTolerance: Number.NaN }), TypeError);
    assert.throws(() => createVerifier({ ...base, realm: 'a"b' }), TypeError);
    assert.throws(() => createVerifier({ ...base, cacheSize: 1.5 }), TypeError);
    assert.throws(() => createVerifier({ ...base, typ: '' }), TypeError);
  });
});

describe('discovery', () => {
  test('fetched once, lazily; ready() fetches discovery and the JWKS up front', async () => {
    const before = { ...idp.requests };
    const verifier = verifierFor();
    assert.deepEqual(idp.requests, before, 'creating a verifier fetches nothing');
    await verifier.ready();
    await verifier.ready();
    assert.equal(idp.requests.discovery, before.discovery + 1);
    assert.equal(idp.requests.jwks, before.jwks + 1);
    await verifier.verify(await idp.sign({}));
    assert.equal(idp.requests.discovery, before.discovery + 1);
    assert.equal(idp.requests.jwks, before.jwks + 1);
  });

  test('a discovery document naming another issuer is refused (mix-up)', async () => {
    try {
      idp.setDiscovery({ issuer: 'https://evil.example', jwks_uri: `${idp.issuer}/jwks` });
      const verifier = verifierFor();
      await assert.rejects(verifier.verify(await idp.sign({})), rejectsWith(VerifyErrorCodes.DISCOVERY));
      await assert.rejects(verifier.ready(), rejectsWith(VerifyErrorCodes.DISCOVERY));
    } finally {
      resetIssuer();
    }
  });

  test('the issuer must match exactly: a trailing slash is another issuer', async () => {
    const verifier = createVerifier({ issuer: `${idp.issuer}/`, audience: idp.issuer });
    await assert.rejects(verifier.ready(), (error: unknown) => {
      assert.ok(error instanceof VerifyError && error.code === VerifyErrorCodes.DISCOVERY);
      assert.match(error.message, /trailing slash/);
      return true;
    });
  });

  test('a failed discovery answers 503 and is retried after 5 s, not per request', async () => {
    try {
      idp.setDiscovery(500);
      const clock = manualClock();
      const verifier = verifierFor({ now: clock.now });
      const token = await idp.sign({}, { now: clock.seconds() });
      const before = idp.requests.discovery;
      await assert.rejects(verifier.verify(token), (error: unknown) => {
        assert.ok(error instanceof VerifyError && error.code === VerifyErrorCodes.DISCOVERY);
        assert.equal(error.status, 503);
        assert.equal(error.wwwAuthenticate('api'), undefined);
        return true;
      });
      for (let i = 0; i < 20; i++) await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.DISCOVERY));
      assert.equal(idp.requests.discovery, before + 1, 'one fetch for 21 verifications');
      resetIssuer();
      clock.ms += 5_000;
      assert.equal((await verifier.verify(token)).sub, 'alice');
      assert.equal(idp.requests.discovery, before + 2);
    } finally {
      resetIssuer();
    }
  });

  test('concurrent first verifications share one discovery and one JWKS fetch', async () => {
    const before = { ...idp.requests };
    const verifier = verifierFor();
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => idp.sign({ sub: `u${i}` }, { alg: 'EdDSA' })));
    const claims = await Promise.all(tokens.map((token) => verifier.verify(token)));
    assert.equal(claims.length, 50);
    assert.equal(idp.requests.discovery, before.discovery + 1);
    assert.equal(idp.requests.jwks, before.jwks + 1);
  });

  test('a JWKS that cannot be fetched is a 503, not a bad token', async () => {
    try {
      idp.setDiscovery({ issuer: idp.issuer, jwks_uri: `${idp.issuer}/no-such-jwks` });
      const verifier = verifierFor();
      await assert.rejects(verifier.verify(await idp.sign({})), rejectsWith(VerifyErrorCodes.DISCOVERY));
    } finally {
      resetIssuer();
    }
  });

  test('through an injected fetch: https issuer, redirects and http jwks_uri refused', async () => {
    const issuer = 'https://idp.example';
    const seen: string[] = [];
    const answers: Record<string, () => Response> = {};
    const fakeFetch = async (url: string, init: { redirect: string }) => {
      seen.push(url);
      assert.equal(init.redirect, 'manual');
      const answer = answers[url];
      return answer === undefined ? new Response('{}', { status: 404 }) : answer();
    };
    const discoveryUrl = `${issuer}/.well-known/openid-configuration`;
    const make = () => createVerifier({ issuer, audience: issuer, fetch: fakeFetch });

    answers[discoveryUrl] = () => new Response(null, { status: 302, headers: { location: `${idp.issuer}/.well-known/openid-configuration` } });
    await assert.rejects(make().ready(), rejectsWith(VerifyErrorCodes.DISCOVERY));

    answers[discoveryUrl] = () => Response.json({ issuer, jwks_uri: 'http://idp.example/jwks' });
    await assert.rejects(make().ready(), (error: unknown) => error instanceof VerifyError && /not https/.test(error.message));

    answers[discoveryUrl] = () => new Response('x'.repeat(300 * 1024), { status: 200 });
    await assert.rejects(make().ready(), (error: unknown) => error instanceof VerifyError && /larger than/.test(error.message));

    answers[discoveryUrl] = () => new Response('not json', { status: 200 });
    await assert.rejects(make().ready(), rejectsWith(VerifyErrorCodes.DISCOVERY));

    answers[discoveryUrl] = () => Response.json({ issuer, jwks_uri: `${issuer}/jwks` });
    answers[`${issuer}/jwks`] = () => Response.json({ keys: [idp.keys.ES256.publicJwk] });
    const verifier = make();
    await verifier.ready();
    const claims = await verifier.verify(await idp.sign({ iss: issuer, aud: issuer }, { alg: 'ES256' }));
    assert.equal(claims.iss, issuer);
    assert.ok(seen.every((url) => url.startsWith(`${issuer}/`)), 'every request went through the injected fetch');
  });
});

describe('JWKS refetch on an unknown kid (jose cooldown)', () => {
  test('one refetch for an unknown kid, none for a second inside the cooldown; a rotated key verifies', async () => {
    // Keys made first: RSA generation is slow enough to eat into a cooldown on a busy machine.
    const [stranger, other, rotated] = await Promise.all([makeKey('RS256', 'unknown-1'), makeKey('RS256', 'unknown-2'), makeKey('ES256', 'ec-2')]);
    const [strangerToken, otherToken, otherToken2, rotatedToken] = await Promise.all([
      idp.sign({}, { key: stranger }),
      idp.sign({}, { key: other }),
      idp.sign({ sub: 'x' }, { key: other }),
      idp.sign({}, { key: rotated }),
    ]);
    try {
      const verifier = verifierFor({ jwksCooldownMs: 1000 });
      await verifier.verify(await idp.sign({}));
      const fetched = idp.requests.jwks;
      await sleep(1100);
      await assert.rejects(verifier.verify(strangerToken), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
      assert.equal(idp.requests.jwks, fetched + 1, 'an unknown kid after the cooldown refetches once');
      await assert.rejects(verifier.verify(otherToken), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
      await assert.rejects(verifier.verify(otherToken2), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
      assert.equal(idp.requests.jwks, fetched + 1, 'inside the cooldown: no refetch');

      // Rotation: the issuer publishes a new key; once the cooldown passes, its tokens verify.
      idp.setJwks([...Object.values(idp.keys).map((key) => key.publicJwk), rotated.publicJwk]);
      await sleep(1100);
      assert.equal((await verifier.verify(rotatedToken)).sub, 'alice');
      assert.equal(idp.requests.jwks, fetched + 2);
    } finally {
      resetIssuer();
    }
  });
});

describe('thousands of verifications', () => {
  test('5,000 distinct tokens (RS256, ES256, EdDSA): one discovery fetch, one JWKS fetch', async () => {
    const before = { ...idp.requests };
    const verifier = verifierFor({ typ: 'at+jwt' });
    const algs: Alg[] = ['RS256', 'ES256', 'EdDSA'];
    const tokens = await Promise.all(Array.from({ length: 5000 }, (_, i) => idp.sign({ sub: `user-${i}`, scope: 'reports' }, { alg: algs[i % 3]!, typ: 'at+jwt' })));
    assert.equal(new Set(tokens).size, 5000);
    const started = performance.now();
    for (let batch = 0; batch < tokens.length; batch += 250) {
      const claims = await Promise.all(tokens.slice(batch, batch + 250).map((token) => verifier.verify(token)));
      claims.forEach((c: VerifiedClaims, i) => assert.equal(c.sub, `user-${batch + i}`));
    }
    const elapsed = performance.now() - started;
    assert.equal(idp.requests.discovery, before.discovery + 1);
    assert.equal(idp.requests.jwks, before.jwks + 1);
    assert.ok(elapsed < 30_000, `5,000 verifications took ${elapsed} ms`);
  });
});

describe('verified-token cache', () => {
  test('a repeated token is answered from the cache: it verifies with the keys gone, without a fetch', async () => {
    try {
      const clock = manualClock();
      // cacheMaxAge 0: every verification that reaches jose refetches the JWKS, so any that
      // does shows up in the count.
      const verifier = verifierFor({ now: clock.now, jwksCacheMaxAgeMs: 0, jwksCooldownMs: 0 });
      const token = await idp.sign({ exp: clock.seconds() + 60 }, { now: clock.seconds() });
      const first = await verifier.verify(token);
      idp.setJwks([]);
      const fetched = idp.requests.jwks;
      for (let i = 0; i < 100; i++) assert.equal(await verifier.verify(token), first, 'the same frozen claims object');
      assert.equal(idp.requests.jwks, fetched, 'no JWKS request for cached tokens');
      const fresh = await idp.sign({ sub: 'bob' }, { now: clock.seconds() });
      await assert.rejects(verifier.verify(fresh), rejectsWith(VerifyErrorCodes.INVALID_TOKEN), 'an uncached token needs the keys');
      assert.ok(idp.requests.jwks > fetched);

      clock.ms += 59_000;
      assert.equal(await verifier.verify(token), first, 'still cached one second before exp');
      clock.ms += 2_000;
      // Past exp but inside the 30 s tolerance: the cache no longer answers, so the full check
      // runs (and fails, the keys being gone). The cache never stretches a token past exp.
      await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
    } finally {
      resetIssuer();
    }
  });

  test('a cached token is refused once its exp passes on the injected clock', async () => {
    const clock = manualClock();
    const verifier = verifierFor({ now: clock.now, clockTolerance: 0 });
    const token = await idp.sign({ exp: clock.seconds() + 60 }, { now: clock.seconds() });
    await verifier.verify(token);
    clock.ms += 30_000;
    await verifier.verify(token);
    clock.ms += 31_000;
    await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.EXPIRED));
  });

  test('bounded, least recently used evicted first', async () => {
    try {
      const verifier = verifierFor({ cacheSize: 2, jwksCacheMaxAgeMs: 0, jwksCooldownMs: 0 });
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((sub) => idp.sign({ sub })));
      await verifier.verify(a!);
      await verifier.verify(b!);
      await verifier.verify(a!); // a is now the most recent: b goes when c comes
      await verifier.verify(c!);
      idp.setJwks([]);
      assert.equal((await verifier.verify(a!)).sub, 'a');
      assert.equal((await verifier.verify(c!)).sub, 'c');
      await assert.rejects(verifier.verify(b!), rejectsWith(VerifyErrorCodes.INVALID_TOKEN), 'b was evicted');
    } finally {
      resetIssuer();
    }
  });

  test('cacheSize 0 caches nothing', async () => {
    try {
      const verifier = verifierFor({ cacheSize: 0, jwksCacheMaxAgeMs: 0, jwksCooldownMs: 0 });
      const token = await idp.sign({});
      await verifier.verify(token);
      idp.setJwks([]);
      await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
    } finally {
      resetIssuer();
    }
  });

  test('refused tokens are not cached', async () => {
    const clock = manualClock();
    const verifier = verifierFor({ now: clock.now, clockTolerance: 0 });
    const token = await idp.sign({ nbf: clock.seconds() + 10 }, { now: clock.seconds() });
    await assert.rejects(verifier.verify(token), rejectsWith(VerifyErrorCodes.INVALID_TOKEN));
    clock.ms += 11_000;
    assert.equal((await verifier.verify(token)).sub, 'alice');
  });
});
