/**
 * Load-balancing policies (Caddy's `lb_policy`): each picks one available upstream or null.
 * Only healthy, not-full upstreams are candidates; `avoid` lists upstreams this request already
 * failed on, so a retry goes elsewhere while there is an elsewhere.
 */
import { readCookie } from '../../kernel/cookies.ts';
import { createHmac } from 'node:crypto';
import type { ReverseProxyHandler } from '../../config/types.ts';
import type { RequestContext } from '../context.ts';
import { isAvailable, type Limits, type Upstream } from './upstream.ts';

export type Selector = (upstreams: readonly Upstream[], ctx: RequestContext, avoid: readonly Upstream[] | null) => Upstream | null;

type LoadBalancing = ReverseProxyHandler['load_balancing'];

/** The policy's selector, and for the cookie policy the Set-Cookie value for a fresh pick. */
export interface Policy {
  select: Selector;
  /** Cookie policy only: the Set-Cookie header to send when the request's cookie did not name `chosen`. */
  stickyCookie: ((ctx: RequestContext, chosen: Upstream) => string | null) | null;
}

/** Compiles `lb_policy`; hashes for the cookie policy are computed here, once. */
export function compilePolicy(lb: LoadBalancing, upstreams: readonly Upstream[], limits: Limits): Policy {
  const usable = (u: Upstream, avoid: readonly Upstream[] | null): boolean => isAvailable(u, limits) && (avoid === null || !avoid.includes(u));
  const random = randomSelector(usable);
  switch (lb.policy) {
    case 'round_robin':
      return plain(roundRobinSelector(usable));
    case 'least_conn':
      return plain(leastConnSelector(usable));
    case 'first':
      return plain((list, _ctx, avoid) => list.find((u) => usable(u, avoid)) ?? null);
    case 'ip_hash':
      return plain((list, ctx, avoid) => byHash(list, ctx.clientIp, usable, avoid));
    case 'uri_hash':
      return plain((list, ctx, avoid) => byHash(list, ctx.query === '' ? ctx.rawPath : `${ctx.rawPath}?${ctx.query}`, usable, avoid));
    case 'header':
      return plain(headerSelector(lb.policy_key ?? '', usable, random));
    case 'cookie':
      return cookiePolicy(lb.policy_key || 'lb', lb.policy_secret ?? '', upstreams, usable, random);
    case 'random_choose':
      return plain(randomChooseSelector(usable));
    default:
      return plain(random);
  }
}

type Usable = (u: Upstream, avoid: readonly Upstream[] | null) => boolean;

function plain(select: Selector): Policy {
  return { select, stickyCookie: null };
}

/** Reservoir sampling: one pass, uniform over the available upstreams. */
function randomSelector(usable: Usable): Selector {
  return (list, _ctx, avoid) => {
    let chosen: Upstream | null = null;
    let count = 0;
    for (const u of list) {
      if (!usable(u, avoid)) continue;
      count++;
      if (Math.floor(Math.random() * count) === 0) chosen = u;
    }
    return chosen;
  };
}

function roundRobinSelector(usable: Usable): Selector {
  let robin = 0;
  return (list, _ctx, avoid) => {
    const n = list.length;
    for (let i = 0; i < n; i++) {
      robin = (robin + 1) % n;
      const u = list[robin]!;
      if (usable(u, avoid)) return u;
    }
    return null;
  };
}

/** Fewest requests in flight; ties broken at random (as Caddy does). */
function leastConnSelector(usable: Usable): Selector {
  return (list, _ctx, avoid) => {
    let chosen: Upstream | null = null;
    let least = -1;
    let count = 0;
    for (const u of list) {
      if (!usable(u, avoid)) continue;
      if (least === -1 || u.active < least) {
        least = u.active;
        count = 0;
      }
      if (u.active === least) {
        count++;
        if (Math.floor(Math.random() * count) === 0) chosen = u;
      }
    }
    return chosen;
  };
}

/** Two random candidates, the less busy one wins ("power of two choices"). */
function randomChooseSelector(usable: Usable): Selector {
  return (list, _ctx, avoid) => {
    let first: Upstream | null = null;
    let second: Upstream | null = null;
    let count = 0;
    for (const u of list) {
      if (!usable(u, avoid)) continue;
      count++;
      if (count === 1) first = u;
      else if (count === 2) second = u;
      else {
        const r = Math.floor(Math.random() * count);
        if (r === 0) first = u;
        else if (r === 1) second = u;
      }
    }
    if (second === null) return first;
    return second.active < first!.active ? second : first;
  };
}

function headerSelector(field: string, usable: Usable, fallback: Selector): Selector {
  const name = field.toLowerCase();
  return (list, ctx, avoid) => {
    // Node keeps Host among the headers, but use what the context parsed, as Caddy uses req.Host.
    const raw = name === 'host' ? ctx.hostport : ctx.req.headers[name];
    const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
    return value === '' ? fallback(list, ctx, avoid) : byHash(list, value, usable, avoid);
  };
}

function cookiePolicy(name: string, secret: string, upstreams: readonly Upstream[], usable: Usable, fallback: Selector): Policy {
  // HMAC so a client cannot forge a cookie naming an upstream it was never given.
  const hashes = new Map<Upstream, string>();
  for (const u of upstreams) hashes.set(u, createHmac('sha256', secret).update(u.key).digest('hex'));
  const select: Selector = (list, ctx, avoid) => {
    const wanted = readCookie(ctx.req.headers.cookie, name);
    if (wanted !== null) {
      for (const u of list) if (hashes.get(u) === wanted && usable(u, avoid)) return u;
    }
    return fallback(list, ctx, avoid);
  };
  const stickyCookie = (ctx: RequestContext, chosen: Upstream): string | null => {
    const hash = hashes.get(chosen)!;
    if (readCookie(ctx.req.headers.cookie, name) === hash) return null;
    return ctx.scheme === 'https' ? `${name}=${hash}; Path=/; Secure; SameSite=None` : `${name}=${hash}; Path=/`;
  };
  return { select, stickyCookie };
}

/**
 * Rendezvous (highest random weight) hashing, as Caddy does: when an upstream goes away only
 * the keys that mapped to it move.
 */
function byHash(list: readonly Upstream[], key: string, usable: Usable, avoid: readonly Upstream[] | null): Upstream | null {
  let best: Upstream | null = null;
  let bestWeight = -1;
  for (const u of list) {
    if (!usable(u, avoid)) continue;
    const weight = hash2(u.key, key);
    if (weight > bestWeight) {
      bestWeight = weight;
      best = u;
    }
  }
  return best;
}

/** FNV-1a over both strings with murmur3's finaliser for avalanche; not for security. */
function hash2(a: string, b: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0x1f, 0x01000193);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
