/**
 * A stand-in OpenID provider on loopback: discovery and a JWKS of keys made here with jose, a
 * count of every request, and a signer for tokens. Lets the tests rotate keys, break discovery
 * and count fetches, which a real provider does not let a test do.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

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
