/**
 * The identity provider's HTTP surface, behind the proxy's `identity_provider` handler: our
 * pages (stylesheet, first-admin setup, login and consent) first, everything else to
 * oidc-provider. URLs the provider prints are built from the issuer, never from the request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { EdgeSessions } from './edge-sessions.ts';
import type { FirstAdmin } from './first-admin.ts';
import type { ForwardAuthEndpoint } from './forward-auth-endpoint.ts';
import type { Portal } from './portal.ts';
import { setProviderSecurityHeaders } from './views/security-headers.ts';
import type { Views } from './views/views.ts';

export const STYLESHEET_PATH = '/.portcullis/login.css';

export interface EndpointDeps {
  issuer: URL;
  provider: Provider;
  views: Views;
  firstAdmin: FirstAdmin;
  interactions: (req: IncomingMessage, res: ServerResponse, path: string, clientIp: string) => Promise<boolean>;
  portal: Portal;
  forwardAuth: ForwardAuthEndpoint;
  edge: EdgeSessions;
}

/** What the proxy's `identity_provider` handler calls (it declares the same shape as a port). */
export interface IdentityHttp {
  handle(req: IncomingMessage, res: ServerResponse, request: { clientIp: string; remoteIp: string; id: string }): Promise<void>;
}

export function createEndpoint(deps: EndpointDeps): IdentityHttp {
  const { issuer, views, firstAdmin, interactions, portal, forwardAuth, edge } = deps;
  // Signing out of the provider (RP-initiated logout) also ends the sign-in of gated sites, once
  // oidc-provider has accepted the confirmation (its xsrf token): ended before that check, any
  // page could sign a browser out of every gated site with one cross-site POST.
  const confirmed = new WeakSet<object>();
  deps.provider.on('end_session.success', (ctx: object) => void confirmed.add(ctx));
  deps.provider.use(async (ctx, next) => {
    await next();
    if (confirmed.has(ctx)) ctx.append('Set-Cookie', await edge.destroy(ctx.get('cookie')));
  });
  const callback = deps.provider.callback();
  const proto = issuer.protocol.slice(0, -1);
  return {
    async handle(req, res, { clientIp, remoteIp }) {
      // oidc-provider runs with `proxy = true`: these three are what it believes, so they are
      // ours alone. A client's copies are dropped (header-spoofing advisories of other proxies).
      const headers = req.headers;
      const url = targetUrl(req.url, issuer);
      if (url === null) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('400 Bad Request: malformed request target\n');
        return;
      }
      // Forward-auth reads the other proxy's X-Forwarded-* (from trusted proxies only) first.
      if (await forwardAuth(req, res, url, remoteIp)) return;
      delete headers['x-forwarded-for'];
      delete headers['x-forwarded-host'];
      delete headers['x-forwarded-proto'];
      headers['x-forwarded-proto'] = proto;
      headers['x-forwarded-host'] = issuer.host;
      headers['x-forwarded-for'] = clientIp;
      if (url.pathname === STYLESHEET_PATH) return sendStylesheet(req, res, views);
      if (await firstAdmin.handle(req, res, url)) return;
      if (await interactions(req, res, url.pathname, clientIp)) return;
      if (await portal(req, res, url, clientIp)) return;
      setProviderSecurityHeaders(res);
      await callback(req, res);
    },
  };
}

function sendStylesheet(req: IncomingMessage, res: ServerResponse, views: Views): void {
  const { body, etag } = views.stylesheet;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'public, max-age=3600');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304);
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'text/css; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(200);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The request target on the issuer's origin. Resolving it with `new URL(target, issuer)` would
 * read `//evil/setup` as host `evil`; an origin-form target is appended to the origin instead,
 * so it is always a path here. An absolute-form target (the proxy has checked its host) keeps
 * only its path and query. null for anything else.
 */
function targetUrl(target: string | undefined, issuer: URL): URL | null {
  if (target === undefined) return null;
  try {
    if (target.startsWith('/')) return new URL(issuer.origin + target);
    if (/^https?:\/\//i.test(target)) {
      const absolute = new URL(target);
      return new URL(issuer.origin + absolute.pathname + absolute.search);
    }
  } catch {
    // Falls through: not a target this endpoint can answer.
  }
  return null;
}
