/**
 * The path matchers and file_server see. Matching on the raw path let requests such as
 * `/%61dmin`, `//admin`, `/public/../admin` or `/admin;x` slip past a `/admin*` matcher in other
 * proxies (path-confusion advisories); here every matcher sees one canonical form:
 * percent-decoded once, path parameters (`;x=1`) cut from every segment, `.` and `..`
 * resolved (never above `/`), and runs of slashes merged. Servlet containers (Tomcat, Jetty,
 * Spring) drop `;params` before routing, so `/public/..;/admin` and `/admin;x=1/x` are
 * `/admin/...` to them and must be to the matchers too (the nginx+Tomcat `..;/` bypass).
 * Matchers never see a file named `a;b`: a path parameter is not part of a name here.
 */

/**
 * Percent-decodes once. Returns null (the request is answered 400) when the encoding is
 * malformed or decodes to a NUL byte, which no legitimate path contains and which truncates
 * paths in C libraries, or when the raw path has a backslash: RFC 3986 does not allow one,
 * browsers never send one, and WHATWG URL parsers (Node, Deno, Bun upstreams) read it as `/`,
 * so `/public/..\admin` would be `/admin` upstream but not to the matchers. An encoded one
 * (`%5C`) next to a dot segment too: upstreams that decode it and read it as a separator (IIS,
 * ASP.NET, Tomcat with ALLOW_BACKSLASH) would see `/public/..%5c..%5cadmin` as `/admin`. A name
 * holding one (a directory literally named `\evil.com`) is still a name.
 */
export function decodePath(raw: string): string | null {
  if (raw.indexOf('\\') !== -1) return null;
  if (raw.indexOf('%') === -1) return raw.indexOf('\0') === -1 ? raw : null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (decoded.indexOf('\0') !== -1) return null;
  return decoded.indexOf('\\') === -1 || !hasDotSegment(decoded.replaceAll('\\', '/')) ? decoded : null;
}

/** Cuts path parameters, resolves dot segments and merges slashes; the result starts with `/`. */
export function cleanPath(path: string): string {
  // Fast path: most request paths are already clean.
  if (path.charCodeAt(0) === 47 && path.indexOf('//') === -1 && path.indexOf('/.') === -1 && path.indexOf(';') === -1) return path;
  const out: string[] = [];
  const segments = path.split('/');
  for (let segment of segments) {
    const params = segment.indexOf(';');
    if (params !== -1) segment = segment.slice(0, params);
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      out.pop();
      continue;
    }
    out.push(segment);
  }
  const last = segments[segments.length - 1]!.split(';', 1)[0];
  const trailing = last === '' || last === '.' || last === '..';
  const joined = '/' + out.join('/');
  return trailing && joined !== '/' ? joined + '/' : joined;
}

/**
 * Whether a decoded path holds a `.` or `..` segment (`;params` cut, as cleanPath reads it).
 * Cleaning resolves those, and an upstream resolves them its own way (RFC 3986 keeps the empty
 * segment of `/admin//../x`, so it is `/admin/x` there and `/x` here): a request that has one
 * is sent on in the form the matchers saw.
 */
export function hasDotSegment(decoded: string): boolean {
  if (decoded.indexOf('/.') === -1) return false;
  for (const segment of decoded.split('/')) {
    const params = segment.indexOf(';');
    const name = params === -1 ? segment : segment.slice(0, params);
    if (name === '.' || name === '..') return true;
  }
  return false;
}

/** Decoded and cleaned, or null for a malformed path (answered with 400). */
export function normalizePath(raw: string): string | null {
  const decoded = decodePath(raw);
  return decoded === null ? null : cleanPath(decoded);
}
