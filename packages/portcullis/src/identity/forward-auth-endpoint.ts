/**
 * Forward auth for other proxies, so Portcullis can be the identity provider behind an existing
 * Caddy, nginx or Traefik:
 *
 * - `GET /api/forward-auth` (Caddy `forward_auth`, Traefik ForwardAuth): 200 with the identity
 *   headers for a signed-in user the policy admits; a browser that is not signed in gets a
 *   302 to the sign-in page, coming back to the original URL; 403 for one the policy refuses.
 * - `GET /api/auth-request` (nginx `auth_request`, which only understands 2xx/401/403): the
 *   same, but 401 instead of the redirect; the sign-in URL is in its Location header for
 *   `auth_request_set`.
 *
 * The policy comes from the query: `?group=a&any_group=b,c&user=alice&email=*@example.com`.
 * An unknown parameter or an empty value is a configuration mistake that would otherwise
 * admit everyone: it gets 500 and a log line, never a pass (fail closed).
 * The original URL comes from X-Forwarded-Proto/-Host/-Uri on `/api/forward-auth` (Caddy,
 * Traefik) and from X-Original-URL on `/api/auth-request` (nginx) — each only from the header
 * its proxy sets, since Caddy and Traefik pass a client's own X-Original-URL through — and
 * only from trusted proxies (global `trusted_proxies`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compilePolicy, type PolicyRule, type SignedInUser } from '../kernel/auth-policy.ts';
import type { Logger } from '../kernel/logger.ts';
import type { EdgeSessions } from './edge-sessions.ts';
import { headerValue } from '../kernel/header-value.ts';

export interface ForwardAuthDeps {
  edge: EdgeSessions;
  logger: Logger;
  issuer: string;
  /** Whether an address is a trusted proxy. */
  trusted: (ip: string) => boolean;
  returnTo: (raw: string | null) => string | null;
}

export type ForwardAuthEndpoint = (req: IncomingMessage, res: ServerResponse, url: URL, remoteIp: string) => Promise<boolean>;

const POLICY_KINDS = ['user', 'group', 'any_group', 'email'] as const;

/** The identity headers the endpoint answers with (the `authenticate` defaults). */
export function identityHeaders(user: SignedInUser): Record<string, string> {
  return {
    'Remote-User': headerValue(user.username),
    'Remote-Email': headerValue(user.email ?? ''),
    'Remote-Name': headerValue(user.name),
    'Remote-Groups': headerValue(user.groups.join(',')),
  };
}

export function createForwardAuthEndpoint(deps: ForwardAuthDeps): ForwardAuthEndpoint {
  const { edge, issuer, trusted, returnTo, logger } = deps;
  // Policies are a handful of distinct query strings per deployment; compile each once.
  const policies = new Map<string, ((user: SignedInUser) => boolean) | string>();

  /** The compiled policy, or the problem with the query as a message. */
  function policyFor(url: URL): ((user: SignedInUser) => boolean) | string {
    const key = url.search;
    let policy = policies.get(key);
    if (policy === undefined) {
      policy = compileQueryPolicy(url.searchParams);
      if (policies.size > 1000) policies.clear();
      policies.set(key, policy);
    }
    return policy;
  }

  function originalUrl(req: IncomingMessage, remoteIp: string, nginx: boolean): string | null {
    if (!trusted(remoteIp)) return null;
    const h = req.headers;
    if (nginx) {
      const original = h['x-original-url'];
      return typeof original === 'string' ? original : null;
    }
    const proto = h['x-forwarded-proto'];
    const host = h['x-forwarded-host'];
    const uri = h['x-forwarded-uri'] ?? '/';
    if (typeof proto !== 'string' || typeof host !== 'string' || typeof uri !== 'string') return null;
    return `${proto}://${host}${uri.startsWith('/') ? uri : `/${uri}`}`;
  }

  return async (req, res, url, remoteIp) => {
    const nginx = url.pathname === '/api/auth-request';
    if (!nginx && url.pathname !== '/api/forward-auth') return false;
    res.setHeader('Cache-Control', 'no-store');
    const user = await edge.identify(req.headers.cookie);
    if (user === null) {
      const back = returnTo(originalUrl(req, remoteIp, nginx));
      const login = `${issuer}/login${back !== null ? `?rd=${encodeURIComponent(back)}` : ''}`;
      res.setHeader('Location', login);
      res.writeHead(nginx ? 401 : 302);
      res.end();
      return true;
    }
    const policy = policyFor(url);
    if (typeof policy === 'string') {
      logger.error({ query: url.search.slice(0, 200) }, `forward-auth: ${policy}`);
      res.writeHead(500);
      res.end();
      return true;
    }
    if (!policy(user)) {
      res.writeHead(403);
      res.end();
      return true;
    }
    for (const [name, value] of Object.entries(identityHeaders(user))) res.setHeader(name, value);
    res.writeHead(200);
    res.end();
    return true;
  };
}

/** `?group=a&any_group=b,c` as a policy; a message for unknown parameters or empty values. */
function compileQueryPolicy(params: URLSearchParams): ((user: SignedInUser) => boolean) | string {
  const rules: PolicyRule[] = [];
  for (const [name, value] of params) {
    if (!(POLICY_KINDS as readonly string[]).includes(name)) {
      return `unknown policy parameter ${JSON.stringify(name.slice(0, 40))} (expected ${POLICY_KINDS.join(', ')}; end Caddy's forward_auth uri with "?" so the client's query is not appended)`;
    }
    const values = value.split(',').map((v) => v.trim()).filter(Boolean);
    if (values.length === 0) return `policy parameter ${name} has no value`;
    rules.push({ kind: name as PolicyRule['kind'], values });
  }
  return compilePolicy(rules);
}
