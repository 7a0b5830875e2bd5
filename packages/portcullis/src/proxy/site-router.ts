/**
 * Picks the site for a request on one listener: exact host first, then `*.` wildcards, then
 * sites without a host; within each, longer address paths first (Caddy's specificity order).
 */
import type { SiteAddress } from '../config/types.ts';
import type { RequestContext } from './context.ts';

export interface RoutableSite<T> {
  value: T;
  addresses: SiteAddress[];
}

interface Entry<T> {
  value: T;
  path: string;
}

/** The host without the brackets of an IPv6 literal (`[::1]` -> `::1`). */
function bare(host: string): string {
  return host.charCodeAt(0) === 91 /* [ */ ? host.replace(/^\[|\]$/g, '') : host;
}

function byPathLength<T>(a: Entry<T>, b: Entry<T>): number {
  return b.path.length - a.path.length;
}

/** An address path acts as Caddy's `path /prefix*` matcher: a case-insensitive prefix. */
function pathMatches(path: string, prefix: string): boolean {
  return prefix === '' || path.toLowerCase().startsWith(prefix);
}

/** Returns a per-request lookup; null when no site serves the request's host. */
export function createSiteRouter<T>(sites: RoutableSite<T>[]): (ctx: RequestContext) => T | null {
  const exact = new Map<string, Entry<T>[]>();
  const wildcard = new Map<string, Entry<T>[]>();
  const any: Entry<T>[] = [];
  for (const site of sites) {
    for (const address of site.addresses) {
      const entry = { value: site.value, path: address.path.toLowerCase() };
      const host = bare(address.host.toLowerCase());
      if (host === '') any.push(entry);
      else if (host.startsWith('*.')) push(wildcard, host.slice(2), entry);
      else push(exact, host, entry);
    }
  }
  for (const list of [...exact.values(), ...wildcard.values(), any]) list.sort(byPathLength);

  function first(list: Entry<T>[] | undefined, path: string): T | null {
    if (!list) return null;
    for (const entry of list) if (pathMatches(path, entry.path)) return entry.value;
    return null;
  }

  return (ctx) => {
    const host = bare(ctx.host);
    const hit = first(exact.get(host), ctx.path);
    if (hit !== null) return hit;
    const dot = host.indexOf('.');
    // `*.example.com` covers exactly one label, as in Caddy and RFC 6125 §6.4.3.
    if (dot > 0) {
      const wild = first(wildcard.get(host.slice(dot + 1)), ctx.path);
      if (wild !== null) return wild;
    }
    return first(any, ctx.path);
  };
}

function push<T>(map: Map<string, Entry<T>[]>, key: string, entry: Entry<T>): void {
  const list = map.get(key);
  if (list) list.push(entry);
  else map.set(key, [entry]);
}
