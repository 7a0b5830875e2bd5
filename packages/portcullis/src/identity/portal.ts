/**
 * Sign-in and sign-out for sites behind `authenticate` (and behind other proxies' forward
 * auth): `<issuer>/login?rd=<url>` and `<issuer>/logout?rd=<url>`. The same login form as
 * the OpenID pages; success starts an edge session on the cookie domain and returns to the
 * address `rd` names, if it is one Portcullis may send browsers to.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Accounts } from './accounts.ts';
import { readCookie, serializeCookie } from '../kernel/cookies.ts';
import type { EdgeSessions } from './edge-sessions.ts';
import { readForm, type Csrf } from './forms.ts';
import { sendPage } from './pages.ts';
import { formatString, throttledMessage, type Strings } from './views/strings.ts';
import type { Views } from './views/views.ts';

export interface PortalDeps {
  views: Views;
  strings: Strings;
  accounts: Accounts;
  csrf: Csrf;
  edge: EdgeSessions;
  /** Validates a return address; null when it may not be followed. */
  returnTo: (raw: string | null) => string | null;
  secure: boolean;
  cookiePrefix: string;
}

export type Portal = (req: IncomingMessage, res: ServerResponse, url: URL, clientIp: string) => Promise<boolean>;

export function createPortal(deps: PortalDeps): Portal {
  const { views, strings, accounts, csrf, edge, returnTo } = deps;
  // A per-browser nonce that the login form's CSRF token is bound to: a form posted from
  // another site carries no token matching this browser's nonce (login CSRF).
  const nonceCookie = `${deps.secure ? '__Host-' : ''}${deps.cookiePrefix}.login`;

  function redirect(res: ServerResponse, location: string, cookies: string[] = []) {
    if (cookies.length > 0) res.setHeader('Set-Cookie', cookies);
    res.setHeader('Location', location);
    res.setHeader('Cache-Control', 'no-store');
    res.writeHead(303);
    res.end();
  }

  function signedInPage(res: ServerResponse, username: string) {
    sendPage(res, 200, views.render('error', { title: strings.signedInTitle, message: formatString(strings.signedInMessage, { user: username }), errorId: null }));
  }

  function loginForm(res: ServerResponse, status: number, nonce: string, rd: string | null, login: string, error: string | null, setCookie?: string) {
    if (setCookie !== undefined) res.setHeader('Set-Cookie', setCookie);
    const action = `/login${rd !== null ? `?rd=${encodeURIComponent(rd)}` : ''}`;
    sendPage(res, status, views.render('login', { action, csrf: csrf.token(`portal:${nonce}`), login, error, clientName: null }));
  }

  async function login(req: IncomingMessage, res: ServerResponse, url: URL, clientIp: string) {
    const rd = returnTo(url.searchParams.get('rd'));
    const user = await edge.identify(req.headers.cookie);
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (user !== null) return rd !== null ? redirect(res, rd) : signedInPage(res, user.username);
      const nonce = randomBytes(16).toString('base64url');
      const cookie = serializeCookie(nonceCookie, nonce, { domain: null, secure: deps.secure, maxAge: 3600 });
      return loginForm(res, 200, nonce, rd, '', null, cookie);
    }
    const form = await readForm(req);
    const nonce = readCookie(req.headers.cookie, nonceCookie);
    if (nonce === null || !csrf.verify(`portal:${nonce}`, form.get('csrf'))) {
      return sendPage(res, 403, views.render('error', { title: strings.errorTitle, message: strings.errorFormExpired, errorId: null }));
    }
    const name = (form.get('login') ?? '').trim();
    const password = form.get('password') ?? '';
    if (name === '' || password === '') return loginForm(res, 400, nonce, rd, name, strings.errorInvalidCredentials);
    const result = await accounts.signIn(name, password, clientIp);
    if (!result.ok) {
      if (result.reason === 'throttled') {
        const retry = result.retryAfterMs ?? 60_000;
        res.setHeader('Retry-After', Math.ceil(retry / 1000));
        return loginForm(res, 429, nonce, rd, name, throttledMessage(strings, Math.ceil(retry / 60_000)));
      }
      return loginForm(res, 401, nonce, rd, name, strings.errorInvalidCredentials);
    }
    // A new session id at every sign-in, whatever the browser brought (session fixation).
    const cookies = [await edge.destroy(req.headers.cookie), await edge.create(result.user.id)];
    cookies.push(serializeCookie(nonceCookie, '', { domain: null, secure: deps.secure, maxAge: 0 }));
    if (rd !== null) return redirect(res, rd, cookies);
    res.setHeader('Set-Cookie', cookies);
    signedInPage(res, result.user.username);
  }

  async function logout(req: IncomingMessage, res: ServerResponse, url: URL) {
    const rd = returnTo(url.searchParams.get('rd'));
    const binding = `portal-logout:${readCookie(req.headers.cookie, edge.cookieName) ?? ''}`;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const action = `/logout${rd !== null ? `?rd=${encodeURIComponent(rd)}` : ''}`;
      return sendPage(res, 200, views.render('logout', { action, csrf: csrf.token(binding), clientName: null }));
    }
    const form = await readForm(req);
    // Without a session cookie there is nothing to end, and nothing to clear: the token for "no
    // session" is anyone's, and a cross-site POST carries no cookie (SameSite=Lax), so answering
    // it with a cleared cookie would let any page sign a browser out of every gated site.
    if (readCookie(req.headers.cookie, edge.cookieName) === null) {
      if (rd !== null) return redirect(res, rd, []);
      return sendPage(res, 200, views.render('logged-out', { clientName: null }));
    }
    // The logout form names its token `xsrf` (oidc-provider's name, shared template).
    if (!csrf.verify(binding, form.get('xsrf'))) {
      return sendPage(res, 403, views.render('error', { title: strings.errorTitle, message: strings.errorFormExpired, errorId: null }));
    }
    const cleared = await edge.destroy(req.headers.cookie);
    if (rd !== null) return redirect(res, rd, [cleared]);
    res.setHeader('Set-Cookie', cleared);
    sendPage(res, 200, views.render('logged-out', { clientName: null }));
  }

  return async (req, res, url, clientIp) => {
    if (url.pathname === '/login') return (await login(req, res, url, clientIp), true);
    if (url.pathname === '/logout') return (await logout(req, res, url), true);
    return false;
  };
}
