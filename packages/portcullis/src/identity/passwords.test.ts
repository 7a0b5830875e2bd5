import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CURRENT_PARAMS, dummyVerify, hashPassword, MAX_PASSWORD_BYTES, needsRehash, verifyPassword } from './passwords.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';

// From argon2-cffi's README (reference C implementation): proves our PHC parsing and base64
// match other implementations, not just our own round trip.
const ARGON2_CFFI = '$argon2id$v=19$m=65536,t=3,p=4$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg';

describe('passwords', () => {
  test('hashPassword makes a PHC argon2id string with the current parameters, 16-byte salt, 32-byte hash', async () => {
    const phc = await hashPassword('correct horse battery staple');
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
    assert.ok(match, phc);
    assert.deepEqual([Number(match[1]), Number(match[2]), Number(match[3])], [CURRENT_PARAMS.m, CURRENT_PARAMS.t, CURRENT_PARAMS.p]);
    assert.equal(Buffer.from(match[4]!, 'base64').length, 16);
    assert.equal(Buffer.from(match[5]!, 'base64').length, 32);
    assert.doesNotMatch(phc.split('$').slice(4).join('$'), /=/, 'no base64 padding');
    assert.notEqual(await hashPassword('correct horse battery staple'), phc, 'fresh salt each time');
  });

  test('the current parameters meet an OWASP argon2id minimum', () => {
    const owasp = [[47104, 1], [19456, 2], [12288, 3], [9216, 4], [7168, 5]];
    assert.ok(owasp.some(([m, t]) => CURRENT_PARAMS.m >= m! && CURRENT_PARAMS.t >= t!) && CURRENT_PARAMS.p >= 1);
  });

  test('verifyPassword accepts the right password and refuses others', async () => {
    const phc = await hashPassword('s3cret pass');
    assert.equal(await verifyPassword(phc, 's3cret pass'), true);
    assert.equal(await verifyPassword(phc, 's3cret pasS'), false);
    assert.equal(await verifyPassword(phc, 's3cret pass '), false);
  });

  test('verifies a hash made by argon2-cffi (another implementation)', async () => {
    assert.equal(await verifyPassword(ARGON2_CFFI, 'correct horse battery staple'), true);
    assert.equal(await verifyPassword(ARGON2_CFFI, 'Tr0ub4dor&3'), false);
  });

  test('passwords are the UTF-8 bytes as given, not normalised', async () => {
    const composed = 'caf\u00e9 \u{1f510}';
    const phc = await hashPassword(composed);
    assert.equal(await verifyPassword(phc, composed), true);
    assert.equal(await verifyPassword(phc, 'cafe\u0301 \u{1f510}'), false, 'NFD form is a different password');
  });

  test('empty and over-long passwords are refused by hash and false for verify', async () => {
    const refused = (error: unknown) => error instanceof PortcullisError && error.code === ErrorCodes.ERR_HTTP_BAD_REQUEST;
    await assert.rejects(hashPassword(''), refused);
    await assert.rejects(hashPassword('a'.repeat(MAX_PASSWORD_BYTES + 1)), refused);
    // 342 three-byte characters are 1026 bytes though only 342 UTF-16 units.
    await assert.rejects(hashPassword('\u20ac'.repeat(342)), refused);
    const longest = 'a'.repeat(MAX_PASSWORD_BYTES);
    const phc = await hashPassword(longest);
    assert.equal(await verifyPassword(phc, longest), true);
    assert.equal(await verifyPassword(phc, ''), false);
    assert.equal(await verifyPassword(phc, 'a'.repeat(10_000_000)), false);
  });

  test('malformed or hostile stored strings are false, never a throw', async () => {
    const good = await hashPassword('pw');
    const [, , , params, salt, hash] = good.split('$');
    const hostile = [
      '',
      'plaintext',
      '$argon2i$v=19$m=7168,t=5,p=1$' + salt + '$' + hash,
      '$argon2id$v=16$m=7168,t=5,p=1$' + salt + '$' + hash,
      `$argon2id$v=19$${params}$${salt}$`,
      `$argon2id$v=19$${params}$$${hash}`,
      `$argon2id$v=19$${params}$${salt}=$${hash}`,
      `$argon2id$v=19$${params}$${salt}$${hash}$extra`,
      `$argon2id$v=19$m=07168,t=5,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=-1,t=5,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=7168,t=0,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=8,t=1,p=2$${salt}$${hash}`,
      // Costs a tampered row could use to stall every login: refused, not computed.
      `$argon2id$v=19$m=4194304,t=5,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=7168,t=100000,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=7168,t=5,p=255$${salt}$${hash}`,
      `$argon2id$v=19$m=7168,t=5,p=1$${salt}$${'A'.repeat(400)}`,
      `$argon2id$v=19$m=7168,t=5,p=1$${salt}$${hash}\n`,
      `$argon2id$v=19$m=7168,t=5,p=1$${salt!.replace(/.$/, '_')}$${hash}`,
      'x'.repeat(1_000_000),
    ];
    for (const phc of hostile) {
      const started = performance.now();
      assert.equal(await verifyPassword(phc, 'pw'), false, phc.slice(0, 120));
      assert.ok(performance.now() - started < 2000, `bounded time for ${phc.slice(0, 80)}`);
    }
    assert.equal(await verifyPassword(null as unknown as string, 'pw'), false);
    assert.equal(await verifyPassword(good, undefined as unknown as string), false);
  });

  test('needsRehash: current hashes no; other parameters (weaker, or stronger: a timing tell), short salts and tags, unreadable hashes yes', async () => {
    assert.equal(needsRehash(await hashPassword('pw')), false);
    assert.equal(needsRehash(ARGON2_CFFI), true, 'security: 64 MiB x 3 answers slower than an unknown login; rehashed to the current parameters');
    const salt = Buffer.alloc(16, 1).toString('base64').replace(/=+$/, '');
    const hash = Buffer.alloc(32, 2).toString('base64').replace(/=+$/, '');
    assert.equal(needsRehash(`$argon2id$v=19$m=4096,t=3,p=1$${salt}$${hash}`), true);
    assert.equal(needsRehash(`$argon2id$v=19$m=7168,t=2,p=1$${salt}$${hash}`), true);
    assert.equal(needsRehash(`$argon2id$v=19$m=7168,t=5,p=1$${salt}$${hash.slice(0, 22)}`), true, '16-byte tag');
    assert.equal(needsRehash('not a hash'), true);
  });

  test('dummyVerify is false and costs about what a real verify costs', async () => {
    const phc = await hashPassword('pw');
    assert.equal(await dummyVerify('anything'), false);
    // Medians of a few runs: a no-op dummy would be orders of magnitude faster. Loose on
    // purpose; this checks that work is done, it is not a benchmark.
    const median = async (f: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await f();
        times.push(performance.now() - started);
      }
      return times.sort((a, b) => a - b)[2]!;
    };
    const real = await median(() => verifyPassword(phc, 'wrong'));
    const dummy = await median(() => dummyVerify('wrong'));
    assert.ok(dummy > real / 4 && dummy < real * 4, `dummy ${dummy.toFixed(1)} ms vs real ${real.toFixed(1)} ms`);
  });
});
