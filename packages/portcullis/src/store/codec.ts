/**
 * Portable column encodings shared by every SQL store: booleans as integers 0/1, JSON objects
 * as text, and the fold that makes usernames and emails compare case-insensitively.
 */
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';

export function boolToInt(value: boolean): number {
  return value ? 1 : 0;
}

export function intToBool(value: number | bigint): boolean {
  return Number(value) !== 0;
}

export function encodeJson(value: Record<string, unknown>): string {
  return JSON.stringify(value);
}

/** Parses a stored JSON object; anything else means the row was written by something else. */
export function decodeJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // No cause: V8's message quotes the text, which may be a private key or a password hash.
    throw new PortcullisError(ErrorCodes.ERR_STORE, 'store: a stored JSON value does not parse');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PortcullisError(ErrorCodes.ERR_STORE, 'store: a stored JSON value is not an object');
  }
  return value as Record<string, unknown>;
}

/**
 * The comparison key of a username or email. NFKC first so that width and compatibility
 * variants ("ａdmin", fullwidth) cannot register as a look-alike of an existing name
 * (the width mapping of RFC 8265 section 3.4), then lower case.
 */
export function foldLogin(value: string): string {
  return value.normalize('NFKC').toLowerCase();
}

/** Numbers from COUNT(*) and similar aggregates, which some drivers return as bigint or string. */
export function toCount(value: unknown): number {
  return Number(value ?? 0);
}
