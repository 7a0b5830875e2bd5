/**
 * A stand-in OpenID provider on loopback: discovery and a JWKS of keys made here with jose, a
 * count of every request, a signer for tokens, and forgers (alg none, HS256 keyed with the
 * public key). Lets the tests rotate keys, break discovery and count fetches, which a real
 * provider does not let a test do. Portcullis's `jwt` tests use it too.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type Alg = 'RS256' | 'ES256' | 'EdDSA';

export interface SigningKey {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export interface FakeIssuer {
  /** `http://127.0.0.1:<port>`, as the discovery document names it. */
  issuer: string;
  keys: Record<Alg, SigningKey>;
  requests: { discovery: number; jwks: number };
  /** Replace what /jwks serves (rotation, emptying). */
  setJwks(keys: JWK[]): void;
  /** Replace the discovery answer: a document, or a bare status code. */
  setDiscovery(answer: Record<string, unknown> | number): void;
  /** A token signed with one of the issuer's keys (or `key`), with iss/aud/sub/iat/exp filled in. */
  sign(claims: JWTPayload, options?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

export interface SignOptions {
  alg?: Alg;
  kid?: string;
  typ?: string;
  key?: SigningKey;
  /** Seconds since the epoch used for iat and the default exp (iat + 300). */
  now?: number;
}

export async function makeKey(alg: Alg, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = alg === 'RS256'
    ? await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 })
    : alg === 'ES256'
      ? await generateKeyPair('ES256', { extractable: true })
      : await generateKeyPair('EdDSA', { extractable: true, crv: 'Ed25519' });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

/** Starts the fake issuer with one key per algorithm. */
export async function startFakeIssuer(): Promise<FakeIssuer> {
  const keys: Record<Alg, SigningKey> = {
    RS256: await makeKey('RS256', 'rsa-1'),
    ES256: await makeKey('ES256', 'ec-1'),
    EdDSA: await makeKey('EdDSA', 'ed-1'),
  };
  let jwks: JWK[] = Object.values(keys).map((key) => key.publicJwk);
  let discovery: Record<string, unknown> | number | undefined;
  const requests = { discovery: 0, jwks: 0 };
  let issuer = '';

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      requests.discovery += 1;
      const answer = discovery ?? { issuer, jwks_uri: `${issuer}/jwks` };
      if (typeof answer === 'number') send(answer, { error: 'nope' });
      else send(200, answer);
      return;
    }
    if (req.url === '/jwks') {
      requests.jwks += 1;
      send(200, { keys: jwks });
      return;
    }
    send(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    keys,
    requests,
    setJwks(next) {
      jwks = next;
    },
    setDiscovery(answer) {
      discovery = answer;
    },
    async sign(claims, options = {}) {
      const key = options.key ?? keys[options.alg ?? 'RS256'];
      const now = options.now ?? Math.floor(Date.now() / 1000);
      const payload: JWTPayload = { iss: issuer, aud: issuer, sub: 'alice', iat: now, exp: now + 300, ...claims };
      for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, ...(options.typ === undefined ? {} : { typ: options.typ }) })
        .sign(key.privateKey);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function isJwk(key: CryptoKey | JWK): key is JWK {
  return 'kty' in key;
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An unsigned token (`alg: none`, RFC 8725 §2.1): header and claims as given, empty signature. */
export function unsignedToken(claims: JWTPayload, header: Record<string, unknown> = {}): string {
  return `${b64json({ alg: 'none', ...header })}.${b64json(claims)}.`;
}

/**
 * The algorithm confusion forgery (CVE-2015-9235, RFC 8725 §2.1): an HS256 token whose HMAC
 * key is the issuer's public RSA key as PEM, which a verifier that lets the token choose its
 * algorithm would accept.
 */
export async function hs256WithPublicKey(claims: JWTPayload, publicKey: CryptoKey | JWK, kid?: string): Promise<string> {
  const pem = isJwk(publicKey) ? JSON.stringify(publicKey) : await exportSPKI(publicKey);
  const signingInput = `${b64json({ alg: 'HS256', typ: 'JWT', ...(kid === undefined ? {} : { kid }) })}.${b64json(claims)}`;
  return `${signingInput}.${createHmac('sha256', pem).update(signingInput).digest('base64url')}`;
}
