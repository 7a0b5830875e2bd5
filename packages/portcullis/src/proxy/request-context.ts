/** Builds the RequestContext for an incoming request. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Logger } from '../kernel/logger.ts';
import type { RequestContext } from './context.ts';
import { cleanPath, decodePath, hasDotSegment } from './normalize-path.ts';
import { canonicalRawPath } from './uri-escape.ts';

export interface ContextOptions {
  scheme: 'http' | 'https';
  logger: Logger;
}

// A random per-process prefix and a counter: unique across processes and nodes for finding
// one request in the logs, without drawing random bytes on every request.
const idPrefix = randomBytes(4).toString('hex');
let idCounter = 0;

/** 16 hex characters; the id clients see in error responses and the access log records. */
export function newRequestId(): string {
  idCounter = (idCounter + 1) >>> 0;
  return idPrefix + idCounter.toString(16).padStart(8, '0');
}

/**
 * Splits `host[:port]` (and `[v6]:port`) and lower-cases the host; one trailing dot (the
 * fully qualified `example.com.`) is dropped, so the name routes to its own site and is not
 * left to a catch-all that forwards it to a backend reading it as `example.com`. Null for a
 * host no name or address looks like: an empty label (`..`, `.a`, `a..b`, which a `root` built
 * from `{host}` would read as a parent directory), brackets around no IPv6 address, or a port
 * that is not digits (`a:b:c`, `[::1]x`: text after the host that nothing else reads).
 */
export function hostWithoutPort(hostport: string): string | null {
  if (hostport.charCodeAt(0) === 91 /* [ */) {
    const end = hostport.indexOf(']');
    if (end === -1) return null;
    // No zone id (`[fe80::1%25eth0]`): RFC 9110's uri-host has none and browsers never send
    // one, and kept in the host it would skip the address's own site for a catch-all.
    const literal = hostport.slice(1, end);
    const after = end + 1 === hostport.length || (hostport.charCodeAt(end + 1) === 58 /* : */ && isPort(hostport, end + 2));
    return after && literal.indexOf('%') === -1 && isIPv6(literal) ? hostport.slice(0, end + 1).toLowerCase() : null;
  }
  const colon = hostport.indexOf(':');
  if (colon !== -1 && !isPort(hostport, colon + 1)) return null;
  let host = (colon === -1 ? hostport : hostport.slice(0, colon)).toLowerCase();
  if (host.length > 1 && host.charCodeAt(host.length - 1) === 46 /* . */) host = host.slice(0, -1);
  if (host !== '' && (host.charCodeAt(0) === 46 || host.charCodeAt(host.length - 1) === 46 || host.indexOf('..') !== -1)) return null;
  return host;
}

/**
 * The one place socket addresses are normalised: dual-stack sockets report IPv4 clients as
 * `::ffff:a.b.c.d` and link-local IPv6 peers with a `%zone`; logs, matchers, X-Forwarded-For
 * and IP ranges all want the bare address.
 */
export function plainIp(address: string): string {
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  return bare.length > 7 && bare.slice(0, 7).toLowerCase() === '::ffff:' && bare.indexOf('.') !== -1 ? bare.slice(7) : bare;
}

const VALID_HOST = /^[A-Za-z0-9!$%&'()*+,\-.:;=\[\]_~]*$/;

/**
 * RFC 9112 §3.2.2: a server must accept the absolute form (`GET http://host/path`), and the
 * Host header then has to agree with its authority, or the two could route differently.
 * Returns the origin-form path, or null for anything else (`*`, authority form, a mismatch).
 */
function absoluteFormPath(target: string, host: string): string | null {
  const match = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
  if (match === null) return null;
  if (match[1]!.toLowerCase() !== host.toLowerCase()) return null;
  const rest = match[2]!;
  return rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : rest.charCodeAt(0) === 63 /* ? */ ? '/' + rest : null;
}

/** Whether `text` from `start` to its end is digits only (RFC 9110 §4.2: port = *DIGIT). */
function isPort(text: string, start: number): boolean {
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Returns null when the request target is not a usable origin-form path (malformed percent
 * encoding, NUL byte, absolute-form to another host): the caller answers 400.
 */
export function createRequestContext(req: IncomingMessage, res: ServerResponse, options: ContextOptions): RequestContext | null {
  let url = req.url ?? '/';
  if (url.charCodeAt(0) !== 47 /* / */) {
    const origin = absoluteFormPath(url, req.headers.host ?? '');
    if (origin === null) return null;
    url = origin;
  }
  const q = url.indexOf('?');
  const sentPath = q === -1 ? url : url.slice(0, q);
  const decoded = decodePath(sentPath);
  if (decoded === null) return null;
  const path = cleanPath(decoded);
  // A path the matchers saw with dot segments resolved goes upstream resolved too: sent as it
  // came, `/admin//../users` passes a `/admin*` gate as `/users` and is `/admin/users` to the
  // app's URL parser. Other paths keep the client's form (`;jsessionid`, `%2F`, `//`): they
  // hold no segment the upstream could climb out of the matched path with.
  // cleanPath hands back the same string when it found nothing to clean (most requests).
  const rawPath = path !== decoded && hasDotSegment(decoded) ? canonicalRawPath(sentPath, path) : sentPath;
  // HTTP/2 carries the host in :authority (RFC 9113 §8.3.1); HTTP/1.1 in Host.
  const hostport = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? '';
  // Go's httpguts.ValidHostHeader set: a Host with `/`, `\`, `@`, spaces or controls is refused,
  // so no placeholder ({host} in a redirect) or log can carry a path or userinfo trick.
  if (!VALID_HOST.test(hostport)) return null;
  const host = hostWithoutPort(hostport);
  if (host === null) return null;
  // HTTP/2's compatibility API makes req.socket a Proxy, created per stream and trapping every
  // read; the session's socket is the same connection, read directly.
  const socket = req.httpVersionMajor === 2 ? ((req as unknown as Http2ServerRequest).stream?.session?.socket ?? req.socket) : req.socket;
  const remoteIp = plainIp(socket.remoteAddress ?? '');
  return {
    req,
    res,
    id: newRequestId(),
    startedAt: performance.now(),
    scheme: options.scheme,
    host,
    hostport,
    remoteIp,
    remotePort: socket.remotePort ?? 0,
    clientIp: remoteIp,
    method: req.method ?? 'GET',
    path,
    rawPath,
    query: q === -1 ? '' : url.slice(q + 1),
    originalUri: url,
    vars: {},
    captures: {},
    groups: null,
    responseHeaderOps: [],
    error: null,
    upstreamHostport: '',
    siteName: '',
    routeName: '',
    contentLength: -1,
    challenged: false,
    clientCookie: req.headers.cookie,
    logger: options.logger,
  };
}
