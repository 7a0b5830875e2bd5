/**
 * The guard's proof-of-work challenge. A challenged request gets a page whose script finds a
 * nonce such that SHA-256(challenge + nonce) starts with `difficulty` zero bits and posts it to
 * `/.portcullis/challenge`; a right answer earns a clearance cookie, and a request with a valid
 * clearance for its client IP is not challenged again until it expires.
 *
 * Tokens are `base64url(payload).base64url(HMAC-SHA256(secret, payload))`, the payload naming
 * its purpose first (`c1` challenge, `k2` clearance) so one can never be used as the other.
 * The secret is kept in the store (challenge-secret.ts), so clearances survive a restart and
 * hold on every process sharing that store. One Challenges is built per config: a challenge
 * carries the difficulty it was issued with, a clearance the time it was issued, and its
 * lifetime is the current config's `clearance`, so a reload that shortens it applies at once.
 *
 * A solved challenge can be posted again until it expires (2 minutes), but only from the IP
 * it was issued to, which earns nothing that IP did not already earn.
 */
import { cookieValues, serializeCookie } from '../kernel/cookies.ts';
import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import type { ChallengeResponder, GateRequest, GateVerdict } from '../proxy/index.ts';
import { CHALLENGE_JS, CHALLENGE_POST_PATH, CHALLENGE_SCRIPT_PATH, challengePageHtml } from './challenge-page.ts';

export const CLEARANCE_COOKIE = 'portcullis.clearance';
const CHALLENGE_TTL_MS = 2 * 60_000;
/** Nodes sharing a store may disagree on the time a little; a clearance issued this far "in the future" still counts. */
const CLOCK_SKEW_MS = 60_000;
/** The form is three short fields; anything longer is not ours. */
const MAX_BODY_BYTES = 4096;
const MAX_NONCE_LENGTH = 32;

/** CSP for the page: nothing but this origin's script and form (no inline code at all). */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const SCRIPT_ETAG = `"${createHash('sha256').update(CHALLENGE_JS).digest('base64url').slice(0, 27)}"`;

export interface ChallengeOptions {
  clock: Clock;
  logger: Logger;
  /** HMAC key, at least 32 bytes: the store's (loadChallengeSecret), so every process shares it. */
  secret: Buffer;
  /**
   * Leading zero bits asked of SHA-256(challenge + nonce), and how long a clearance lasts: the
   * config's (its defaults live in config/guard-options.ts, the one place they are set).
   */
  difficulty: number;
  clearanceTtlMs: number;
}

export interface Challenges {
  /** A fresh challenge for `ip`. */
  issue(ip: string): string;
  /** Whether `nonce` solves `challenge`, issued to `ip` and not expired. */
  verifyProof(challenge: string, nonce: string, ip: string): boolean;
  /** A clearance cookie value for `ip`. */
  clearance(ip: string): string;
  /** Whether the Cookie header carries a valid clearance for `ip` (the gate's question). */
  cleared(request: GateRequest): boolean;
  /** What the front door uses (the page and the two fixed paths). */
  readonly responder: ChallengeResponder;
}

/** Whether `path` is a same-origin path to send a browser back to: one `/`, no `//` or `\` (open redirects). */
export function isSafeReturn(path: string): boolean {
  return /^\/(?![/\\])[\x21-\x7e]*$/.test(path) && !path.includes('\\');
}

/** The number of leading zero bits of `bytes`. */
export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Creates the challenge issuer/verifier for one config, with the shared secret. */
export function createChallenges(options: ChallengeOptions): Challenges {
  const { clock, logger } = options;
  const difficulty = options.difficulty;
  const clearanceTtl = options.clearanceTtlMs;
  // The config checks its ranges; these guard the callers that do not go through it.
  if (!Buffer.isBuffer(options.secret) || options.secret.length < 32) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, 'guard: the challenge secret must be at least 32 bytes');
  if (!Number.isInteger(difficulty) || difficulty < 1 || difficulty > 64) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, `guard: challenge difficulty ${difficulty} is not 1 to 64 bits`);
  if (!(clearanceTtl > 0)) throw new PortcullisError(ErrorCodes.ERR_INTERNAL, 'guard: the clearance lifetime must be positive');
  const secret = createSecretKey(options.secret);

  const mac = (payload: string) => createHmac('sha256', secret).update(payload).digest();
  const sign = (payload: string) => `${Buffer.from(payload).toString('base64url')}.${mac(payload).toString('base64url')}`;
  /** The payload's fields when the token is well-formed and its MAC is right, else null. */
  const open = (token: string, purpose: string): string[] | null => {
    if (token.length > 512) return null;
    const dot = token.indexOf('.');
    if (dot < 0) return null;
    const payload = Buffer.from(token.slice(0, dot), 'base64url').toString();
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const fields = payload.split('|');
    return fields[0] === purpose ? fields : null;
  };
  const live = (expiry: string | undefined) => expiry !== undefined && /^\d{1,15}$/.test(expiry) && Number(expiry) > clock.now();

  const issue = (ip: string) => sign(['c1', randomBytes(16).toString('base64url'), ip, String(clock.now() + CHALLENGE_TTL_MS), String(difficulty)].join('|'));

  const verifyProof = (challenge: string, nonce: string, ip: string): boolean => {
    if (nonce.length === 0 || nonce.length > MAX_NONCE_LENGTH) return false;
    const fields = open(challenge, 'c1');
    if (fields === null || fields.length !== 5 || fields[2] !== ip || !live(fields[3])) return false;
    // The difficulty signed into the challenge, not the one the form posts back.
    const bits = Number(fields[4]);
    const hash = createHash('sha256').update(challenge + nonce).digest();
    return Number.isInteger(bits) && leadingZeroBits(hash) >= bits;
  };

  // The issue time, not an expiry: the lifetime is the current config's, so shortening
  // `clearance` on reload also shortens the clearances already handed out.
  const clearance = (ip: string) => sign(['k2', ip, String(clock.now())].join('|'));

  const fresh = (issued: string | undefined): boolean => {
    if (issued === undefined || !/^\d{1,15}$/.test(issued)) return false;
    const age = clock.now() - Number(issued);
    return age < clearanceTtl && age >= -CLOCK_SKEW_MS;
  };

  const validClearance = (value: string, ip: string): boolean => {
    const fields = open(value, 'k2');
    return fields !== null && fields.length === 3 && fields[1] === ip && fresh(fields[2]);
  };

  const cleared = (request: GateRequest): boolean =>
    cookieValues(request.req.headers.cookie, CLEARANCE_COOKIE).some((value) => validClearance(value, request.clientIp));

  const page = (ip: string, returnTo: string) => {
    const body = challengePageHtml({ challenge: issue(ip), difficulty, returnTo: isSafeReturn(returnTo) ? returnTo : '/' });
    return {
      status: 403,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'no-store',
        'content-security-policy': PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      },
      body,
    };
  };

  const send = (res: ServerResponse, method: string | undefined, answer: { status: number; headers: Record<string, string>; body: string }) => {
    res.writeHead(answer.status, answer.headers).end(method === 'HEAD' ? undefined : answer.body);
  };

  const serveScript = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' }).end();
      return;
    }
    const headers = { etag: SCRIPT_ETAG, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' };
    if (req.headers['if-none-match'] === SCRIPT_ETAG) {
      res.writeHead(304, headers).end();
      return;
    }
    send(res, req.method, {
      status: 200,
      headers: { ...headers, 'content-type': 'text/javascript; charset=utf-8', 'content-length': String(Buffer.byteLength(CHALLENGE_JS)) },
      body: CHALLENGE_JS,
    });
  };

  const answerPost = async (req: IncomingMessage, res: ServerResponse, clientIp: string, secure: boolean) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-length': '0' }).end();
      return;
    }
    const type = String(req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    const body = type === 'application/x-www-form-urlencoded' ? await readBody(req, MAX_BODY_BYTES) : null;
    if (body === null) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '16' }).end('400 Bad Request\n');
      return;
    }
    const form = new URLSearchParams(body);
    const returnTo = form.get('return') ?? '/';
    if (!verifyProof(form.get('challenge') ?? '', form.get('nonce') ?? '', clientIp)) {
      logger.debug({ clientIp }, 'challenge answer refused');
      send(res, req.method, page(clientIp, returnTo));
      return;
    }
    const cookie = serializeCookie(CLEARANCE_COOKIE, clearance(clientIp), { domain: null, secure, maxAge: Math.floor(clearanceTtl / 1000) });
    // RFC 9110 §15.4.4: 303 makes the browser GET the page it first asked for.
    res.writeHead(303, { location: isSafeReturn(returnTo) ? returnTo : '/', 'set-cookie': cookie, 'cache-control': 'no-store', 'content-length': '0' }).end();
  };

  const responder: ChallengeResponder = {
    cookieName: CLEARANCE_COOKIE,
    owns: (rawPath) => rawPath === CHALLENGE_SCRIPT_PATH || rawPath === CHALLENGE_POST_PATH,
    page(_verdict: GateVerdict, request: GateRequest) {
      return page(request.clientIp, request.query === '' ? request.rawPath : `${request.rawPath}?${request.query}`);
    },
    async handle(req, res, { clientIp, secure }) {
      try {
        const path = (req.url ?? '').split('?', 1)[0];
        if (path === CHALLENGE_SCRIPT_PATH) serveScript(req, res);
        else await answerPost(req, res, clientIp, secure);
      } catch (error) {
        logger.debug({ err: error, clientIp }, 'challenge request failed');
        if (!res.headersSent) res.writeHead(400, { 'content-length': '0' }).end();
        else res.destroy();
      }
    },
  };

  return { issue, verifyProof, clearance, cleared, responder };
}

/** The body as text, or null when it is longer than `limit` bytes (then the request is not read further). */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped (the connection stays usable).
      if (size > limit) resolve(null);
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    req.on('close', () => resolve(null));
  });
}
