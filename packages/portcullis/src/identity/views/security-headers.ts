/**
 * Response headers for every HTML page of the identity provider (login, consent, logout, setup,
 * error). The pages carry no script, no inline style and no third-party resource, so the policy
 * can be this tight.
 */

/**
 * `form-action` cannot be `'self'` alone: browsers apply form-action to the redirects that follow
 * a form submission (CSP Level 3, "form-action" and Chromium/WebKit behaviour), and after sign-in,
 * consent or sign-out our POST is answered with a redirect to the relying party's redirect_uri
 * on another origin. So any https: target is allowed, plus plain-http loopback for native and
 * development clients (RFC 8252 section 7.3). The redirect targets themselves are limited by the
 * exact redirect_uri match, not by this header.
 *
 * `img-src https: data:` admits the theme's logo wherever the operator hosts it.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self' https: data:",
  "form-action 'self' https: http://localhost:* http://127.0.0.1:*",
  // Clickjacking of the consent and login pages (OWASP clickjacking defence); X-Frame-Options
  // below says the same to browsers that predate CSP2.
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Every header `setPageSecurityHeaders` sets, in order, as [name, value]. */
export const PAGE_SECURITY_HEADERS: readonly (readonly [string, string])[] = Object.freeze([
  Object.freeze(['Content-Security-Policy', CONTENT_SECURITY_POLICY] as const),
  // Login and consent URLs carry interaction ids; never leak them to a linked site.
  Object.freeze(['Referrer-Policy', 'no-referrer'] as const),
  Object.freeze(['X-Content-Type-Options', 'nosniff'] as const),
  Object.freeze(['X-Frame-Options', 'DENY'] as const),
  // Pages hold CSRF tokens and personal data: no shared or back/forward cache may keep them.
  Object.freeze(['Cache-Control', 'no-store'] as const),
  Object.freeze(['Pragma', 'no-cache'] as const),
  // A relying party that opened us in a popup gets no handle on this window (XS-Leaks).
  Object.freeze(['Cross-Origin-Opener-Policy', 'same-origin'] as const),
]);

/** The part of node:http's ServerResponse and Http2ServerResponse this needs. */
export interface HeaderSink {
  setHeader(name: string, value: string): unknown;
}

/** Sets the identity pages' security headers (PAGE_SECURITY_HEADERS) on a response. */
export function setPageSecurityHeaders(res: HeaderSink): void {
  for (const [name, value] of PAGE_SECURITY_HEADERS) res.setHeader(name, value);
}

/**
 * Headers for what oidc-provider answers itself (its JSON endpoints, and the self-submitting
 * page of `response_mode=form_post` that carries a code). Same framing and caching rules as
 * our pages; `script-src 'self'` is there so oidc-provider can add the hash of its one inline
 * auto-submit script, which it does only when a script-src directive exists. Nothing else
 * served from this origin is a script.
 */
export const PROVIDER_SECURITY_HEADERS: readonly (readonly [string, string])[] = Object.freeze([
  Object.freeze(['Content-Security-Policy', CONTENT_SECURITY_POLICY.replace("default-src 'none'", "default-src 'none'; script-src 'self'")] as const),
  Object.freeze(['Referrer-Policy', 'no-referrer'] as const),
  Object.freeze(['X-Content-Type-Options', 'nosniff'] as const),
  Object.freeze(['X-Frame-Options', 'DENY'] as const),
]);

/** Sets PROVIDER_SECURITY_HEADERS; oidc-provider sets its own Cache-Control per endpoint. */
export function setProviderSecurityHeaders(res: HeaderSink): void {
  for (const [name, value] of PROVIDER_SECURITY_HEADERS) res.setHeader(name, value);
}
