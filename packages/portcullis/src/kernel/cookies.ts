/**
 * Cookie headers (RFC 6265): reading a cookie, dropping cookies before a request goes
 * upstream, and writing Set-Cookie values. One parser for every module, so the proxy, the
 * identity provider and the guard agree on what a cookie named X is. Names compare exactly
 * (RFC 6265 §5.3); a value in double quotes is unquoted.
 */

/** Every value of cookie `name`, in the order sent (a client may send several). */
export function cookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (header === undefined || !header.includes(name)) return values;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    values.push(value);
  }
  return values;
}

/** The first value of cookie `name` (browsers send the most specific first), or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  return cookieValues(header, name)[0] ?? null;
}

/**
 * Removes from `headers.cookie` every cookie whose name `drop` accepts; the header goes when
 * nothing is left. `hint` is a substring every dropped name contains: a header without it is
 * left untouched at the cost of one `includes`.
 */
export function dropCookies(headers: { cookie?: string | undefined }, hint: string, drop: (name: string) => boolean): void {
  const cookie = headers.cookie;
  if (cookie === undefined || !cookie.includes(hint)) return;
  const kept = cookie
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !drop(p.slice(0, p.indexOf('=') === -1 ? p.length : p.indexOf('=')).trim()));
  if (kept.length === 0) delete headers.cookie;
  else headers.cookie = kept.join('; ');
}

export interface CookieOptions {
  /** null: host-only. */
  domain: string | null;
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
}

/** A Set-Cookie value: Path=/, HttpOnly, SameSite=Lax always; Domain and Secure as asked. */
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
