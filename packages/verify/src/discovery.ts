/**
 * OpenID Provider discovery (OpenID Connect Discovery 1.0 section 4): one GET of
 * `<issuer>/.well-known/openid-configuration` to learn `jwks_uri`.
 */
import { VerifyError, VerifyErrorCodes } from './errors.ts';

/** The fetch the verifier uses; global `fetch` fits. Same shape jose's customFetch expects. */
export type FetchLike = (
  url: string,
  init: { method: 'GET'; headers: Headers; redirect: 'manual'; signal: AbortSignal },
) => Promise<Response>;

/** Provider metadata is a few kB; refuse to buffer anything big a broken server sends. */
const MAX_DISCOVERY_BYTES = 256 * 1024;

export interface Discovered {
  issuer: string;
  jwksUri: URL;
}

function discoveryError(message: string, cause?: unknown): VerifyError {
  return new VerifyError(VerifyErrorCodes.DISCOVERY, message, { cause });
}

/** The discovery URL of an issuer: any trailing `/` removed, then the well-known path. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

async function readCapped(response: Response, limit: number): Promise<string> {
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw discoveryError(`discovery document is larger than ${limit} bytes`);
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > limit) throw discoveryError(`discovery document is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/**
 * Fetches the issuer's metadata and checks it. The `issuer` in the document must equal the
 * configured one exactly (OpenID Connect Discovery section 4.3; RFC 8414 section 3.3): else a
 * provider could hand out keys for another issuer's name (mix-up). `jwks_uri` must be https,
 * unless the issuer itself is plain http (a loopback or LAN test set-up): an https issuer never
 * sends us to fetch keys in clear.
 */
export async function discover(issuer: string, fetchImpl: FetchLike, timeoutMs: number): Promise<Discovered> {
  const url = discoveryUrl(issuer);
  let text: string;
  try {
    const response = await fetchImpl(url, {
      method: 'GET',
      headers: new Headers({ accept: 'application/json' }),
      // A redirect would let whoever controls its target choose our keys.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw discoveryError(`discovery ${url} answered ${response.status}, expected 200`);
    }
    text = await readCapped(response, MAX_DISCOVERY_BYTES);
  } catch (error) {
    if (error instanceof VerifyError) throw error;
    throw discoveryError(`discovery ${url} failed: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw discoveryError(`discovery ${url} is not JSON`, error);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw discoveryError(`discovery ${url} is not a JSON object`);
  const { issuer: named, jwks_uri: jwksUri } = doc as Record<string, unknown>;
  if (named !== issuer) {
    throw discoveryError(
      `discovery ${url} names issuer ${JSON.stringify(named)}, not the configured ${JSON.stringify(issuer)}` +
        ' (they must match exactly, trailing slash included)',
    );
  }
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) throw discoveryError(`discovery ${url} has no valid jwks_uri`);
  const keysUrl = new URL(jwksUri);
  const issuerProtocol = new URL(issuer).protocol;
  if (keysUrl.protocol !== 'https:' && !(keysUrl.protocol === 'http:' && issuerProtocol === 'http:')) {
    throw discoveryError(`discovery ${url} names a jwks_uri that is not https: ${jwksUri}`);
  }
  if (keysUrl.username !== '' || keysUrl.password !== '') throw discoveryError(`discovery ${url} names a jwks_uri with credentials`);
  return { issuer, jwksUri: keysUrl };
}
