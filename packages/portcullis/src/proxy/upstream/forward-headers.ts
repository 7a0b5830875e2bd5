/**
 * The request head an upstream receives and the response head a client receives: hop-by-hop
 * fields removed both ways (RFC 9110 §7.6.1), X-Forwarded-* set the way Caddy 2.5+ does
 * (a client's own values are believed only when the peer is a trusted proxy).
 */
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { RequestContext } from '../context.ts';
import type { HeaderMap } from '../header-ops.ts';
import { compileIpRanges } from '../../kernel/ip-ranges.ts';


/**
 * Hop-by-hop fields: the RFC 2616 §13.5.1 list Caddy strips, plus Alt-Svc (ours, not the
 * upstream's to advertise). TE is handled apart: "trailers" is kept, as Go and Caddy do.
 */
const HOP_HEADERS = new Set([
  'alt-svc',
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Recomputed for every request, never copied from the client as they are. */
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/**
 * Other client-supplied forwarding claims. An untrusted client could use them to pose as
 * another address or scheme to an app that believes them (apps deployed behind a CDN read
 * CF-Connecting-IP and True-Client-IP), or to choose the URL an app routes on (X-Original-URL
 * and X-Rewrite-URL: IIS URL Rewrite, older Symfony and Zend; CVE-2018-14773), so they pass only
 * from trusted proxies (a `header_up` may still set them).
 */
const FORWARDING_CLAIMS = new Set([
  'forwarded', 'x-real-ip', 'x-client-ip', 'x-forwarded-port', 'x-forwarded-ssl', 'x-forwarded-scheme', 'x-forwarded-server',
  'cf-connecting-ip', 'cf-connecting-ipv6', 'true-client-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-original-forwarded-for',
  'x-original-url', 'x-rewrite-url',
]);

/**
 * Never removed because the client listed them in Connection: the framing and the Host the
 * proxy relies on (Go keeps both outside the header map, so Caddy never drops them either).
 */
const CONNECTION_PROOF = new Set(['host', 'content-length']);

/** `trusted_proxies` ranges (CIDRs, addresses, `private_ranges`) compiled to a membership test. */
export function compileTrustedProxies(ranges: readonly string[]): (ip: string) => boolean {
  if (ranges.length === 0) return () => false;
  try {
    return compileIpRanges([...ranges]);
  } catch (error) {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `trusted_proxies: ${(error as Error).message}`, { cause: error });
  }
}


/**
 * The protocol named by `Connection: upgrade` + `Upgrade`, lower-cased, or null. Never `h2c`:
 * a tunnel to an upstream that accepts it would carry the client's further requests past every
 * matcher (h2c smuggling), and RFC 9113 §3.1 dropped the upgrade; such a request goes on as a
 * plain one.
 */
export function upgradeType(ctx: RequestContext): string | null {
  const upgrade = ctx.req.headers.upgrade;
  if (upgrade === undefined || upgrade === '') return null;
  if (!hasToken(ctx.req.headers.connection, 'upgrade')) return null;
  // Upgrade is a list (RFC 9110 §7.8): `websocket, h2c` offers h2c as well.
  return tokens(upgrade).has('h2c') ? null : upgrade.trim().toLowerCase();
}

/**
 * Builds the upstream request head from the request's current headers (other handlers may have
 * edited ctx.req.headers): hop-by-hop fields and the ones Connection names removed, Expect
 * dropped (Node already answered 100-continue; undici refuses to send it), X-Forwarded-* set.
 */
export function buildRequestHeaders(ctx: RequestContext, peerTrusted: boolean): HeaderMap {
  const source = ctx.req.headers;
  const out: HeaderMap = Object.create(null) as HeaderMap;
  const connection = source.connection;
  const named = connection === undefined || connection === '' || connection === 'keep-alive' || connection === 'close' ? null : tokens(connection);
  for (const name of Object.keys(source)) {
    const value = source[name];
    if (value === undefined) continue;
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are framing, not fields.
    if (name.charCodeAt(0) === 58 /* : */) continue;
    if (HOP_HEADERS.has(name) || FORWARDED.has(name) || name === 'expect') continue;
    if (named !== null && named.has(name) && !CONNECTION_PROOF.has(name)) continue;
    if (!peerTrusted && FORWARDING_CLAIMS.has(name)) continue;
    out[name] = value;
  }
  // An HTTP/2 client names the host in :authority; the upstream speaks HTTP/1.1 and needs Host.
  if (out.host === undefined && ctx.hostport !== '') out.host = ctx.hostport;
  // Tell the upstream trailers are understood only when the client said so (golang/go#21096).
  if (hasToken(source.te, 'trailers')) out.te = 'trailers';
  setForwarded(out, ctx, peerTrusted);
  return out;
}

/**
 * X-Forwarded-For/-Proto/-Host. A trusted peer's values are kept (For gets the peer appended);
 * from anyone else they are replaced: a client must not choose the address an upstream logs or
 * rate-limits by (the header spoofing Caddy 2.5 closed with `trusted_proxies`).
 */
function setForwarded(out: HeaderMap, ctx: RequestContext, peerTrusted: boolean): void {
  const source = ctx.req.headers;
  // Already normalised once per request by createRequestContext (plainIp).
  const peer = ctx.remoteIp;
  const priorFor = joined(source['x-forwarded-for']);
  out['x-forwarded-for'] = peerTrusted && priorFor !== '' ? `${priorFor}, ${peer}` : peer;
  const priorProto = peerTrusted ? lastValue(source['x-forwarded-proto']) : '';
  out['x-forwarded-proto'] = priorProto !== '' ? priorProto : ctx.scheme;
  const priorHost = peerTrusted ? lastValue(source['x-forwarded-host']) : '';
  const host = priorHost !== '' ? priorHost : ctx.hostport;
  if (host !== '') out['x-forwarded-host'] = host;
}

/**
 * Removes hop-by-hop fields from an upstream's response head, in place. For a 101 the Upgrade
 * field is the point of the response and is kept.
 */
export function stripResponseHeaders(headers: HeaderMap, keepUpgrade: boolean): void {
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const name of tokens(connection)) if (name !== 'upgrade' || !keepUpgrade) delete headers[name];
  }
  for (const name of Object.keys(headers)) {
    if (HOP_HEADERS.has(name) && !(keepUpgrade && name === 'upgrade')) delete headers[name];
  }
}

/**
 * The fields an upstream's final (non-101) response head names in Connection, beyond the
 * hop-by-hop list, or null when there are none: most upstreams send only `keep-alive`/`close`.
 */
export function connectionNamed(headers: HeaderMap): Set<string> | null {
  const connection = headers.connection;
  if (connection === undefined || connection === '' || connection === 'keep-alive' || connection === 'close') return null;
  return tokens(connection);
}

/** Whether stripResponseHeaders(headers, false) would remove `name`, given connectionNamed(headers). */
export function isHopByHopResponseField(name: string, named: Set<string> | null): boolean {
  return HOP_HEADERS.has(name) || (named !== null && named.has(name));
}

function tokens(value: string | string[]): Set<string> {
  const set = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') set.add(token);
  }
  return set;
}

function hasToken(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

function joined(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return (Array.isArray(value) ? value.join(', ') : value).trim();
}

function lastValue(value: string | string[] | undefined): string {
  const all = joined(value);
  if (all === '') return '';
  const comma = all.lastIndexOf(',');
  return (comma === -1 ? all : all.slice(comma + 1)).trim();
}
