/**
 * The path matchers and file_server see. Matching on the raw path let requests such as
 * `/%61dmin`, `//admin`, `/public/../admin` or `/admin;x` slip past a `/admin*` matcher in other
 * proxies (path-confusion advisories); here every matcher sees one canonical form:
 * percent-decoded once, backslashes kept as data, `.` and `..` resolved (never above `/`),
 * and runs of slashes merged.
 */

/**
 * Percent-decodes once. Returns null when the encoding is malformed or decodes to a NUL byte,
 * which no legitimate path contains and which truncates paths in C libraries.
 */
export function decodePath(raw: string): string | null {
  if (raw.indexOf('%') === -1) return raw.indexOf('\0') === -1 ? raw : null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  return decoded.indexOf('\0') === -1 ? decoded : null;
}

/** Resolves dot segments and merges slashes; the result always starts with `/`. */
export function cleanPath(path: string): string {
  // Fast path: most request paths are already clean.
  if (path.charCodeAt(0) === 47 && path.indexOf('//') === -1 && path.indexOf('/.') === -1) return path;
  const out: string[] = [];
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      out.pop();
      continue;
    }
    out.push(segment);
  }
  const trailing = path.endsWith('/') || path.endsWith('/.') || path.endsWith('/..');
  const joined = '/' + out.join('/');
  return trailing && joined !== '/' ? joined + '/' : joined;
}

/** Decoded and cleaned, or null for a malformed path (answered with 400). */
export function normalizePath(raw: string): string | null {
  const decoded = decodePath(raw);
  return decoded === null ? null : cleanPath(decoded);
}
