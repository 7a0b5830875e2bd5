// Raw cost of the provider's cryptography on one core: `node bench/lib/identity-crypto.mjs
// SECONDS PASSWORDS_MODULE`, pinned by the harness to the server's core while the server idles.
//   - JWT signing with jose (what oidc-provider signs ID tokens and JWT access tokens with:
//     CompactSign over WebCrypto) for RS256 (RSA 2048), ES256 and EdDSA, 8 signatures in
//     flight as under load;
//   - node:crypto.sign on the same keys, synchronous: the floor under any JWT library;
//   - argon2id verifies through the project's own verifyPassword (passwords.ts) with the
//     parameters new hashes get, 4 in flight (libuv's default pool).
// Each rate is an upper bound for a grant that signs one JWT, or a login that checks one
// password: the server also parses, looks up and stores. Prints one `BENCH_JSON {...}` line.
import { generateKeyPairSync, sign } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { CompactSign } from 'jose';

const [secondsArg, passwordsModule] = process.argv.slice(2);
const seconds = Number(secondsArg);
if (!(seconds > 0) || !passwordsModule) {
  console.error('usage: node bench/lib/identity-crypto.mjs SECONDS PASSWORDS_MODULE');
  process.exit(2);
}

// An ID token's size: the claims a login with `openid profile email groups` gets.
const payload = Buffer.from(JSON.stringify({
  iss: 'http://127.0.0.1:8443', sub: 'usr_0123456789abcdef0123', aud: 'bench', exp: 1_900_000_000, iat: 1_899_996_400,
  auth_time: 1_899_996_400, nonce: 'bench-nonce-0123456789', at_hash: 'abcdefghijklmnopqrstuv', sid: '0123456789abcdef0123456789abcdef',
  email: 'bench0@example.com', email_verified: false, name: 'Bench bench0', preferred_username: 'bench0', groups: ['bench'],
}));

const KEYS = {
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  EdDSA: generateKeyPairSync('ed25519').privateKey,
};

/**
 * @typedef {{ rate: number, perCpuS: number }} Rate
 *   rate: operations per wall-clock second; perCpuS: per second of this process's CPU (all
 *   threads), which stays right when another job takes part of the core.
 */

/** @param {number} done @param {number} t0 @param {NodeJS.CpuUsage} cpu0 @returns {Rate} */
function rateOf(done, t0, cpu0) {
  const cpu = process.cpuUsage(cpu0);
  return { rate: done / ((performance.now() - t0) / 1000), perCpuS: done / ((cpu.user + cpu.system) / 1e6) };
}

/**
 * Runs `op` in `inFlight` loops for `ms`.
 * @param {() => Promise<unknown>} op @param {number} inFlight @param {number} ms @returns {Promise<Rate>}
 */
async function rateAsync(op, inFlight, ms) {
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  const loop = async () => {
    while (performance.now() < end) {
      await op();
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return rateOf(done, t0, cpu0);
}

/** @param {() => unknown} op @param {number} ms @returns {Rate} */
function rateSync(op, ms) {
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    op();
    done++;
  }
  return rateOf(done, t0, cpu0);
}

const ms = seconds * 1000;
/** @type {Record<string, Rate>} */
const rates = {};
for (const [alg, key] of Object.entries(KEYS)) {
  const jws = () => new CompactSign(payload).setProtectedHeader({ alg, typ: 'JWT', kid: 'bench' }).sign(key);
  const raw = alg === 'RS256'
    ? () => sign('sha256', payload, key)
    : alg === 'ES256'
      ? () => sign('sha256', payload, { key, dsaEncoding: 'ieee-p1363' })
      : () => sign(null, payload, key);
  await rateAsync(jws, 8, Math.min(500, ms)); // JIT and key import caches
  rates[`jose_${alg}`] = await rateAsync(jws, 8, ms);
  rateSync(raw, Math.min(300, ms));
  rates[`raw_${alg}`] = rateSync(raw, ms);
}

const { hashPassword, verifyPassword } = await import(pathToFileURL(passwordsModule).href);
const password = 'correct horse battery staple';
const hash = await hashPassword(password);
const params = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
const verify = async () => {
  if (!(await verifyPassword(hash, password))) throw new Error('verifyPassword refused the right password');
};
await rateAsync(verify, 4, Math.min(500, ms));
rates.argon2_verify = await rateAsync(verify, 4, ms);

process.stdout.write(`BENCH_JSON ${JSON.stringify({
  rates,
  argon2: params ? { m: Number(params[1]), t: Number(params[2]), p: Number(params[3]) } : null,
  node: process.versions.node,
  openssl: process.versions.openssl,
})}\n`);
