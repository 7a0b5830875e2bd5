/** Reading one cookie from a Cookie header, and writing Set-Cookie values (RFC 6265). */

/** The value of cookie `name`, or null. The first occurrence wins, as browsers send the most specific first. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The Cookie header without cookie `name` (every occurrence); undefined when nothing is left. */
export function withoutCookie(header: string, name: string): string | undefined {
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p.slice(0, p.indexOf('=') === -1 ? p.length : p.indexOf('=')).trim() !== name);
  return kept.length === 0 ? undefined : kept.join('; ');
}

export interface CookieOptions {
  /** null: host-only. */
  domain: string | null;
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
}

export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${value}`,
    'Path=/',
    ...(options.domain !== null ? [`Domain=${options.domain}`] : []),
    `Max-Age=${options.maxAge}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
