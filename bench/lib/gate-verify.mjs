// Token verification on one core: `node bench/lib/gate-verify.mjs SPEC_JSON`, pinned by the
// harness to the server's core while the server idles. Four rates, one operation awaited at a
// time (the path of one request), RS256 with RSA 2048 as Portcullis signs:
//   - fresh:    @portcullis/verify's createVerifier (what the `jwt` directive runs), every token
//               new to it (a new verifier, empty cache, whenever the pool is used up; its
//               discovery and JWKS fetch, from a loopback server here, are not timed);
//   - jose:     jose's jwtVerify alone with the same key imported from the JWK (as a remote
//               JWKS gives it), the same claim checks: what the verifier builds on;
//   - raw:      node:crypto.verify of the signature alone, synchronous: the floor under both;
//   - repeated: the verifier with one token over and over (its cache: a SHA-256 and a lookup).
// The scenarios take turns in slices, so a noisy neighbour hurts them alike. Tokens copy the
// shape (header and claims) of a real Portcullis access token given in the spec. Each rate is
// also given per CPU-s (this process's CPU time, all threads), which stays right when another
// job takes part of the core. Prints one `BENCH_JSON {...}` line.
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { exportJWK, importJWK, jwtVerify } from 'jose';

/**
 * @typedef {{ seconds: number, pool: number, verifyModule: string,
 *   template: { header: Record<string, unknown>, payload: Record<string, unknown> } | null }} Spec
 * @typedef {{ count: number, wallMs: number, cpuUs: number }} Tally
 * @typedef {{ rate: number, perCpuS: number, count: number }} Rate
 */

const SLICES = 3;
const MAX_REPEATED = 50_000_000;

/** @type {Spec} */
const spec = JSON.parse(process.argv[2] ?? 'null');
if (!spec || !(spec.seconds > 0) || !(spec.pool > 0) || !spec.verifyModule) {
  console.error('usage: node bench/lib/gate-verify.mjs \'{"seconds":3,"pool":2000,"verifyModule":"/path/to/verify/dist/index.js","template":null}\'');
  process.exit(2);
}
const { createVerifier } = await import(pathToFileURL(spec.verifyModule).href);

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...(await exportJWK(publicKey)), kid: 'gate-bench', alg: 'RS256', use: 'sig' };
/** @type {string} */
let issuer = '';
const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(req.url === '/jwks' ? { keys: [jwk] } : { issuer, jwks_uri: `${issuer}/jwks` }));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const address = server.address();
issuer = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

const tokens = makeTokens(spec.pool);
// The options the `jwt` directive gives the verifier by default (docs/directives/jwt.md).
const algorithms = ['RS256', 'ES256', 'EdDSA'];
const verifierOptions = { issuer, audience: issuer, algorithms, clockTolerance: 30 };
const joseKey = await importJWK(jwk, 'RS256');
const joseOptions = { issuer, audience: issuer, algorithms, clockTolerance: 30 };
const rawKey = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));

/** @param {number} n @returns {string[]} */
function makeTokens(n) {
  const b64 = (/** @type {unknown} */ v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const header = b64({ ...(spec.template?.header ?? { typ: 'at+jwt' }), alg: 'RS256', kid: jwk.kid });
  const base = spec.template?.payload ?? { sub: 'svc', client_id: 'svc', scope: 'reports' };
  return Array.from({ length: n }, (_, i) => {
    const input = `${header}.${b64({ ...base, iss: issuer, aud: issuer, iat: now, exp: now + 3600, jti: `gate-bench-${i}` })}`;
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  });
}

/** @returns {Tally} */
const tally = () => ({ count: 0, wallMs: 0, cpuUs: 0 });

/**
 * Times `ops` calls of `op` (stopping early at `deadline`), adding to `t`.
 * @param {Tally} t @param {(i: number) => unknown} op @param {number} ops @param {number} deadline
 */
async function timed(t, op, ops, deadline) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let i = 0;
  for (; i < ops && performance.now() < deadline; i++) await op(i);
  const cpu = process.cpuUsage(cpu0);
  t.wallMs += performance.now() - t0;
  t.cpuUs += cpu.user + cpu.system;
  t.count += i;
}

/**
 * Each scenario spends `ms` per call adding to its tally; setup (a new verifier and its
 * discovery) happens outside `timed`.
 * @type {Record<string, (t: Tally, ms: number) => Promise<void>>}
 */
const scenarios = {
  raw: async (t, ms) => {
    const deadline = performance.now() + ms;
    const op = (/** @type {number} */ i) => {
      const token = /** @type {string} */ (tokens[i % tokens.length]);
      const dot = token.lastIndexOf('.');
      if (!verify('sha256', Buffer.from(token.slice(0, dot)), rawKey, Buffer.from(token.slice(dot + 1), 'base64url'))) throw new Error('raw verify failed');
    };
    await timed(t, op, Number.MAX_SAFE_INTEGER, deadline);
  },
  jose: async (t, ms) => {
    const deadline = performance.now() + ms;
    await timed(t, (i) => jwtVerify(/** @type {string} */ (tokens[i % tokens.length]), joseKey, joseOptions), Number.MAX_SAFE_INTEGER, deadline);
  },
  fresh: async (t, ms) => {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      const verifier = createVerifier(verifierOptions);
      await verifier.ready();
      await timed(t, (i) => verifier.verify(tokens[i]), tokens.length, deadline);
    }
  },
  repeated: async (t, ms) => {
    const deadline = performance.now() + ms;
    const verifier = createVerifier(verifierOptions);
    await verifier.ready();
    const token = /** @type {string} */ (tokens[0]);
    const claims = await verifier.verify(token);
    if (claims.iss !== issuer) throw new Error('the verifier returned the wrong claims');
    await timed(t, () => verifier.verify(token), MAX_REPEATED, deadline);
  },
};

try {
  // Warm-up: JIT, key import caches.
  for (const run of Object.values(scenarios)) await run(tally(), 300);
  /** @type {Record<string, Tally>} */
  const tallies = Object.fromEntries(Object.keys(scenarios).map((k) => [k, tally()]));
  const slice = (spec.seconds * 1000) / SLICES;
  for (let s = 0; s < SLICES; s++) {
    for (const [name, run] of Object.entries(scenarios)) await run(/** @type {Tally} */ (tallies[name]), slice);
  }
  /** @type {Record<string, Rate>} */
  const rates = {};
  for (const [name, t] of Object.entries(tallies)) {
    rates[name] = { rate: t.count / (t.wallMs / 1000), perCpuS: t.cpuUs > 0 ? t.count / (t.cpuUs / 1e6) : Number.NaN, count: t.count };
  }
  process.stdout.write(`BENCH_JSON ${JSON.stringify({ rates, pool: tokens.length, tokenBytes: tokens[0]?.length ?? 0, node: process.versions.node, openssl: process.versions.openssl })}\n`);
} finally {
  server.close();
}
