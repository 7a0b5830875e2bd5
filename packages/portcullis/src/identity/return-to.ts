/**
 * Where a browser may be sent back after signing in or out (`rd`, `return_to`): only to hosts
 * Portcullis serves or that sit under the identity cookie domain. Everything else gets the safe
 * default. Parsing follows the WHATWG URL standard (what browsers do with a Location), after
 * refusing the shapes browsers repair in surprising ways: `//evil`, `/\evil`, tabs and
 * newlines (`/%09/evil` once decoded), `https:evil`, `javascript:`, userinfo.
 */

export interface ReturnToOptions {
  /** The issuer's origin: relative addresses resolve against it. */
  issuer: string;
  /** Exact host names served by sites (lower-case, no port), and `*.example.com` wildcards. */
  hosts: readonly string[];
  /** The identity cookie domain: it and its subdomains are allowed. null: none. */
  cookieDomain: string | null;
}

/** Returns the absolute URL to redirect to, or null when the address is not allowed. */
export function createReturnToCheck(options: ReturnToOptions): (raw: string | null | undefined) => string | null {
  const exact = new Set(options.hosts.filter((h) => !h.startsWith('*.')));
  const wildcards = options.hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));
  const issuerHost = new URL(options.issuer).hostname;
  exact.add(issuerHost);
  const domain = options.cookieDomain;

  const hostAllowed = (host: string) =>
    exact.has(host) ||
    // One label under a wildcard site, as the site itself matches (`*.example.com`).
    wildcards.some((suffix) => host.endsWith(suffix) && !host.slice(0, -suffix.length).includes('.') && host.length > suffix.length) ||
    (domain !== null && (host === domain || host.endsWith(`.${domain}`)));

  return (raw) => {
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4096) return null;
    // Control characters and whitespace anywhere (browsers strip tabs/newlines inside URLs and
    // trim spaces, turning `/\t/evil` into `//evil`); backslashes (`/\evil` is `//evil`).
    if (/[\u0000-\u0020\u007f-\u009f\\]/.test(raw)) return null;
    const relative = raw.startsWith('/') && !raw.startsWith('//');
    if (!relative && !/^https?:\/\/[^/]/i.test(raw)) return null;
    let url: URL;
    try {
      url = new URL(raw, options.issuer);
    } catch {
      return null;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    if (url.username !== '' || url.password !== '') return null;
    if (!hostAllowed(url.hostname)) return null;
    return url.href;
  };
}
