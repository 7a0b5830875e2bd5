/**
 * Form posts of the login pages: bounded urlencoded bodies and CSRF tokens. A token is an HMAC
 * of what the form acts on (the interaction id, say) under the provider's cookie key, so it
 * cannot be forged, and a token for one interaction is worthless for another (login CSRF).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ErrorCodes, httpError } from '../kernel/errors.ts';

/** Login forms are tiny; anything bigger is not ours. */
const MAX_FORM_BYTES = 16 * 1024;

/** Reads an application/x-www-form-urlencoded body; 400/413/415 for anything else. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw httpError(415, 'expected a form post (application/x-www-form-urlencoded)', ErrorCodes.ERR_HTTP_BAD_REQUEST);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw httpError(413, 'form too large', ErrorCodes.ERR_HTTP_BODY_TOO_LARGE);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export interface Csrf {
  /** The token for a form acting on `binding`. */
  token(binding: string): string;
  /** Constant-time check of a posted token. */
  verify(binding: string, presented: string | null): boolean;
}

export function createCsrf(key: string): Csrf {
  const token = (binding: string) => createHmac('sha256', key).update(`csrf:${binding}`).digest('base64url');
  return {
    token,
    verify(binding, presented) {
      if (presented === null) return false;
      const expected = Buffer.from(token(binding));
      const given = Buffer.from(presented);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
