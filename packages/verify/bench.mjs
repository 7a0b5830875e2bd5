/**
 * Verifications per second of fresh RS256 tokens through the verifier, against jose's jwtVerify
 * with a local key and bare crypto.verify; and of a repeated token (cache hits).
 *
 *   npx tsc -b packages/verify && node packages/verify/bench.mjs [tokens=2000] [rounds=7]
 *
 * Sequential (one verification awaited at a time): one request path, not the thread pool's
 * width. The scenarios are interleaved round by round and the median round is reported, so a
 * noisy neighbour hurts them all alike. Each round of the verifier uses a new verifier (empty
 * cache), so every token is a cache miss. A loopback server serves discovery and the JWKS,
 * fetched by ready() before the timed part.
 */
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { exportJWK, importSPKI, jwtVerify } from 'jose';
import { createVerifier } from './dist/index.js';

const COUNT = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 7);

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };

const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
  else res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const header = b64({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' });
function makeToken(i) {
  const input = `${header}.${b64({ iss: issuer, aud: issuer, sub: `client-${i}`, client_id: `client-${i}`, scope: 'reports', iat: now, exp: now + 3600, jti: String(i) })}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}
const tokens = Array.from({ length: COUNT }, (_, i) => makeToken(i));

async function rate(list, fn) {
  const started = performance.now();
  for (const token of list) await fn(token);
  return list.length / ((performance.now() - started) / 1000);
}

const options = { issuer, audience: issuer, typ: 'at+jwt', algorithms: ['RS256'] };
const joseKey = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }), 'RS256');
const keyObject = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
const joseOptions = { ...options, clockTolerance: 30 };
const rawVerify = (token) => {
  const dot = token.lastIndexOf('.');
  if (!verify('sha256', Buffer.from(token.slice(0, dot)), keyObject, Buffer.from(token.slice(dot + 1), 'base64url'))) throw new Error('bad');
};

const scenarios = {
  'crypto.verify (signature only)': async () => rate(tokens, rawVerify),
  'jose jwtVerify, local key': async () => rate(tokens, (t) => jwtVerify(t, joseKey, joseOptions)),
  'verifier, fresh tokens': async () => {
    const verifier = createVerifier(options);
    await verifier.ready();
    return rate(tokens, (t) => verifier.verify(t));
  },
  'verifier, repeated token (cache hit)': async () => {
    const verifier = createVerifier(options);
    await verifier.ready();
    await verifier.verify(tokens[0]);
    return rate(Array.from({ length: 100 * COUNT }, () => tokens[0]), (t) => verifier.verify(t));
  },
};

const samples = Object.fromEntries(Object.keys(scenarios).map((name) => [name, []]));
for (const run of Object.values(scenarios)) await run(); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(scenarios)) samples[name].push(await run());
}
const median = (list) => list.slice().sort((a, b) => a - b)[Math.floor(list.length / 2)];
const jose = median(samples['jose jwtVerify, local key']);
console.log(`${COUNT} tokens x ${ROUNDS} rounds, median; node ${process.version}`);
for (const [name, list] of Object.entries(samples)) {
  const m = median(list);
  console.log(`${name.padEnd(40)} ${Math.round(m).toLocaleString('en').padStart(10)} /s  (${((m / jose) * 100).toFixed(0)}% of jose)`);
}
server.close();
