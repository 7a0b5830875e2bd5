import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { ManualClock } from '../kernel/clock.ts';
import { silentLogger } from '../kernel/logger.ts';
import type { GateRequest } from '../proxy/index.ts';
import { CLEARANCE_COOKIE, createChallenges, isSafeReturn, leadingZeroBits } from './challenge.ts';
import { challengePageHtml, SHA256_JS } from './challenge-page.ts';
import { gateRequest } from '../../test/support/gate-request.ts';

const START = 1_700_000_000_000;

/** The config's `clearance` default; the tests that are not about it use it. */
const HOUR = 60 * 60_000;

function setup(difficulty = 8, clearanceTtlMs = HOUR) {
  const clock = new ManualClock(START);
  const secret = randomBytes(32);
  const challenges = createChallenges({ clock, logger: silentLogger(), secret, difficulty, clearanceTtlMs });
  return { clock, secret, challenges };
}

/** The nonce the page's script would find (same algorithm), bounded. */
function solve(challenge: string, bits: number): string {
  for (let n = 0; n < 5_000_000; n++) {
    if (leadingZeroBits(createHash('sha256').update(challenge + n).digest()) >= bits) return String(n);
  }
  throw new Error('no nonce found');
}

/** A nonce that does not solve the challenge. */
function wrongNonce(challenge: string, bits: number): string {
  for (let n = 0; n < 1000; n++) {
    if (leadingZeroBits(createHash('sha256').update(challenge + n).digest()) < bits) return String(n);
  }
  throw new Error('every nonce solves it');
}

function request(clientIp: string, cookie?: string): GateRequest {
  return gateRequest({ clientIp, method: 'GET', path: '/', rawPath: '/', query: '', host: 'example.com', siteName: 'example.com' }, cookie === undefined ? {} : { cookie });
}

/** Flips one character of a token's payload or MAC. */
function tamper(token: string, at: number): string {
  const c = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + c + token.slice(at + 1);
}

describe('guard challenge', () => {
  test('a solved challenge verifies for its IP only, before it expires', () => {
    const { clock, challenges } = setup();
    const challenge = challenges.issue('192.0.2.1');
    const nonce = solve(challenge, 8);
    assert.equal(challenges.verifyProof(challenge, nonce, '192.0.2.1'), true);
    assert.equal(challenges.verifyProof(challenge, nonce, '192.0.2.2'), false);
    assert.equal(challenges.verifyProof(challenge, wrongNonce(challenge, 8), '192.0.2.1'), false);
    assert.equal(challenges.verifyProof(challenge, '', '192.0.2.1'), false);
    clock.advance(2 * 60_000);
    assert.equal(challenges.verifyProof(challenge, nonce, '192.0.2.1'), false);
  });

  test('a tampered challenge, or one signed by another process, is refused', () => {
    const { challenges } = setup();
    const challenge = challenges.issue('192.0.2.1');
    const nonce = solve(challenge, 8);
    for (const at of [1, 5, challenge.indexOf('.') + 3, challenge.length - 2]) {
      const forged = tamper(challenge, at);
      assert.equal(challenges.verifyProof(forged, nonce, '192.0.2.1'), false, `tampered at ${at}`);
    }
    const other = createChallenges({ clock: new ManualClock(START), logger: silentLogger(), secret: randomBytes(32), difficulty: 8, clearanceTtlMs: HOUR });
    assert.equal(other.verifyProof(challenge, nonce, '192.0.2.1'), false);
    assert.equal(challenges.verifyProof('garbage', nonce, '192.0.2.1'), false);
    assert.equal(challenges.verifyProof('x'.repeat(10_000), nonce, '192.0.2.1'), false);
  });

  test('the difficulty signed into the challenge is the one checked', () => {
    const { challenges } = setup(12);
    const challenge = challenges.issue('192.0.2.1');
    // A nonce good for 4 bits but not for 12 is refused whatever the form says.
    let weak = '';
    for (let n = 0; n < 100_000 && weak === ''; n++) {
      const bits = leadingZeroBits(createHash('sha256').update(challenge + n).digest());
      if (bits >= 4 && bits < 12) weak = String(n);
    }
    assert.notEqual(weak, '');
    assert.equal(challenges.verifyProof(challenge, weak, '192.0.2.1'), false);
    assert.equal(challenges.verifyProof(challenge, solve(challenge, 12), '192.0.2.1'), true);
  });

  test('clearance: valid for its IP until it expires; tampered, foreign or challenge tokens are not clearances', () => {
    const { clock, challenges } = setup();
    const value = challenges.clearance('192.0.2.1');
    assert.equal(challenges.cleared(request('192.0.2.1', `a=b; ${CLEARANCE_COOKIE}=${value}; c=d`)), true);
    assert.equal(challenges.cleared(request('192.0.2.2', `${CLEARANCE_COOKIE}=${value}`)), false);
    assert.equal(challenges.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=${tamper(value, 2)}`)), false);
    assert.equal(challenges.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=${tamper(value, value.length - 3)}`)), false);
    assert.equal(challenges.cleared(request('192.0.2.1', `x${CLEARANCE_COOKIE}=${value}`)), false);
    assert.equal(challenges.cleared(request('192.0.2.1')), false);
    // A challenge is signed with the same key, but is not a clearance.
    assert.equal(challenges.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=${challenges.issue('192.0.2.1')}`)), false);
    // Several copies: any valid one counts.
    assert.equal(challenges.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=bad; ${CLEARANCE_COOKIE}=${value}`)), true);
    clock.advance(60 * 60_000);
    assert.equal(challenges.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=${value}`)), false);
  });

  test('the configured difficulty is in the page and is the one enforced (18 bits)', () => {
    const { challenges } = setup(18);
    const page = challenges.responder.page({ status: 403, reason: 'challenge:rule:x', challenge: true }, request('192.0.2.1'));
    assert.match(page.body, /name="difficulty" value="18"/);
    const challenge = /name="challenge" value="([^"]+)"/.exec(page.body)![1]!;
    let weak = '';
    for (let n = 0; n < 100_000 && weak === ''; n++) {
      const bits = leadingZeroBits(createHash('sha256').update(challenge + n).digest());
      if (bits >= 8 && bits < 18) weak = String(n);
    }
    assert.notEqual(weak, '');
    assert.equal(challenges.verifyProof(challenge, weak, '192.0.2.1'), false, 'a 16-bit (default) answer is not enough');
    assert.equal(challenges.verifyProof(challenge, solve(challenge, 18), '192.0.2.1'), true);
  });

  test('a challenge issued before a reload keeps its difficulty; the new config issues the new one', () => {
    const { clock, secret, challenges } = setup(12);
    const before = challenges.issue('192.0.2.1');
    const reloaded = createChallenges({ clock, logger: silentLogger(), secret, difficulty: 8, clearanceTtlMs: HOUR });
    assert.equal(reloaded.verifyProof(before, solve(before, 12), '192.0.2.1'), true);
    const page = reloaded.responder.page({ status: 403, reason: 'challenge:rule:x', challenge: true }, request('192.0.2.1'));
    assert.match(page.body, /name="difficulty" value="8"/);
  });

  test('security: a clearance older than the configured lifetime is refused, whatever config issued it', () => {
    const { clock, secret, challenges } = setup(8, 30 * 60_000);
    const cookie = (c: typeof challenges, value: string) => c.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=${value}`));
    const value = challenges.clearance('192.0.2.1');
    clock.advance(30 * 60_000 - 1);
    assert.equal(cookie(challenges, value), true);
    clock.advance(1);
    assert.equal(cookie(challenges, value), false, 'at 30 minutes a 30m clearance is spent');
    // A reload that lengthens `clearance` makes it good again; one that shortens it ends it early.
    const longer = createChallenges({ clock, logger: silentLogger(), secret, difficulty: 8, clearanceTtlMs: HOUR });
    assert.equal(cookie(longer, value), true);
    const shorter = createChallenges({ clock, logger: silentLogger(), secret, difficulty: 8, clearanceTtlMs: 60_000 });
    assert.equal(cookie(shorter, shorter.clearance('192.0.2.1')), true);
    assert.equal(cookie(shorter, value), false);
    // Issued "in the future" (another node's clock): a minute of skew is tolerated, no more.
    const ahead = (ms: number) => createChallenges({ clock: new ManualClock(clock.now() + ms), logger: silentLogger(), secret, difficulty: 8, clearanceTtlMs: HOUR }).clearance('192.0.2.1');
    assert.equal(cookie(challenges, ahead(60_000)), true);
    assert.equal(cookie(challenges, ahead(60_001)), false);
  });

  test('the secret is required and shared: same secret verifies, another does not', () => {
    const { clock, secret, challenges } = setup();
    const value = challenges.clearance('192.0.2.1');
    const sameSecret = createChallenges({ clock, logger: silentLogger(), secret: Buffer.from(secret), difficulty: 8, clearanceTtlMs: HOUR });
    assert.equal(sameSecret.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=${value}`)), true);
    const otherSecret = createChallenges({ clock, logger: silentLogger(), secret: randomBytes(32), difficulty: 8, clearanceTtlMs: HOUR });
    assert.equal(otherSecret.cleared(request('192.0.2.1', `${CLEARANCE_COOKIE}=${value}`)), false);
    const bad = (options: object) => () => createChallenges({ clock, logger: silentLogger(), secret, difficulty: 8, clearanceTtlMs: HOUR, ...options });
    assert.throws(bad({ secret: undefined }), /at least 32 bytes/);
    assert.throws(bad({ secret: randomBytes(16) }), /at least 32 bytes/);
    assert.throws(bad({ difficulty: 0 }), /difficulty/);
    assert.throws(bad({ difficulty: 8.5 }), /difficulty/);
    assert.throws(bad({ clearanceTtlMs: 0 }), /clearance/);
    assert.throws(bad({ clearanceTtlMs: Number.NaN }), /clearance/);
  });

  test('the page: CSP, no-store, escaped fields, only same-origin return paths', () => {
    const { challenges } = setup();
    const page = challenges.responder.page({ status: 403, reason: 'challenge:rule:x', challenge: true }, { ...request('192.0.2.1'), rawPath: '/a"><script>', query: 'q=1' });
    assert.equal(page.status, 403);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.headers['content-security-policy']!, /default-src 'none'; script-src 'self'/);
    assert.match(page.body, /<script src="\/\.portcullis\/challenge\.js" defer><\/script>/);
    assert.match(page.body, /<noscript>/);
    assert.doesNotMatch(page.body, /<script>/);
    assert.match(page.body, /name="return" value="\/a&#34;&#62;&#60;script&#62;\?q=1"/);
    for (const bad of ['//evil.example', '/\\evil.example', '/a\\b', 'https://evil.example/', 'evil', '', '/a b', '/\r\nx']) assert.equal(isSafeReturn(bad), false, bad);
    for (const good of ['/', '/slow/x?y=1', '/a/b//c']) assert.equal(isSafeReturn(good), true, good);
    const html = challengePageHtml({ challenge: 'c', difficulty: 16, returnTo: '/' });
    assert.match(html, /name="difficulty" value="16"/);
  });

  test('leading zero bits', () => {
    assert.equal(leadingZeroBits(Uint8Array.of(0x80)), 0);
    assert.equal(leadingZeroBits(Uint8Array.of(0x01)), 7);
    assert.equal(leadingZeroBits(Uint8Array.of(0, 0x10)), 11);
    assert.equal(leadingZeroBits(Uint8Array.of(0, 0)), 16);
  });

  test("the script's fallback SHA-256 (plain-HTTP pages have no WebCrypto) matches node:crypto", () => {
    const sha = new Function(`${SHA256_JS}; return portcullisSha256;`)() as (text: string) => Uint8Array;
    for (const text of ['', 'abc', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(64), 'x'.repeat(200) + '12345']) {
      assert.equal(Buffer.from(sha(text)).toString('hex'), createHash('sha256').update(text).digest('hex'), `length ${text.length}`);
    }
  });
});
