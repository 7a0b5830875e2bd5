/**
 * Turns a decoded path back into a request-target path: characters outside RFC 3986 `pchar`
 * and `/` are percent-encoded, and an existing `%XX` escape is kept as it is.
 */
const SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

export function escapePath(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (SAFE.test(ch)) {
      out += ch;
    } else if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) {
      out += ch;
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}
