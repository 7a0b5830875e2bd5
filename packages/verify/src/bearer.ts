/**
 * The `Authorization: Bearer <token>` header (RFC 6750 section 2.1).
 */
import { VerifyError, VerifyErrorCodes } from './errors.ts';

/** RFC 7235 section 2.1 token68, which every JWT (base64url and dots) is. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The token of an Authorization header value. Exactly `Bearer <token68>`: the scheme in any
 * case, one space, the token. No header, an empty one, or another scheme (`Basic ...`) is
 * ERR_VERIFY_MISSING_TOKEN (the request carries no bearer credentials); a `Bearer` header that
 * is malformed, or the header sent twice, is ERR_VERIFY_INVALID_TOKEN.
 */
export function bearerToken(headerValue: string | readonly string[] | undefined | null): string {
  if (headerValue === undefined || headerValue === null || headerValue === '') {
    throw new VerifyError(VerifyErrorCodes.MISSING_TOKEN, 'no Authorization header');
  }
  if (typeof headerValue !== 'string') {
    // Two Authorization headers: which one the proxy in front looked at is anyone's guess.
    throw new VerifyError(VerifyErrorCodes.INVALID_TOKEN, 'more than one Authorization header');
  }
  const space = headerValue.indexOf(' ');
  const scheme = space === -1 ? headerValue : headerValue.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    throw new VerifyError(VerifyErrorCodes.MISSING_TOKEN, 'the Authorization header is not a Bearer token');
  }
  const token = space === -1 ? '' : headerValue.slice(space + 1);
  if (!TOKEN68.test(token)) {
    throw new VerifyError(VerifyErrorCodes.INVALID_TOKEN, 'the Authorization header is not "Bearer <token>"');
  }
  return token;
}
