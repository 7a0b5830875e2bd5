/**
 * Per-request state passed along a route's handler chain. One plain object per request; the
 * hot path reads fields, never config. Paths come in two forms on purpose: `path` is decoded
 * and normalised for matching (so `/%61dmin`, `//admin` and `/x/../admin` all match `/admin*`),
 * while `rawPath` is what the client sent and what an upstream receives unless rewritten.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PortcullisError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';

/** A response header edit applied right before the head is written. */
export type ResponseHeaderOp = (res: ServerResponse, status: number) => void;

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Random id; appears in error responses and the access log. */
  readonly id: string;
  /** performance.now() at arrival. */
  readonly startedAt: number;
  readonly scheme: 'http' | 'https';
  /** Lower-cased host without port, from the Host header. */
  readonly host: string;
  /** Host header as sent (host[:port]). */
  readonly hostport: string;
  readonly remoteIp: string;
  readonly remotePort: number;
  /** The real client: equals remoteIp unless a trusted proxy forwarded the request. */
  clientIp: string;
  method: string;
  /** Decoded, dot-segment-resolved, slash-merged path used by matchers and file_server. */
  path: string;
  /** The path as it will be sent upstream (percent-encoded form). */
  rawPath: string;
  /** Query string without '?', '' when none. */
  query: string;
  /** The request URI as received, for logs and `{http.request.orig_uri}`. */
  readonly originalUri: string;
  /** `vars` and `root`; also `{vars.NAME}` placeholders. */
  vars: Record<string, unknown>;
  /** Regexp captures by matcher name: `{re.NAME.GROUP}`. */
  captures: Record<string, Record<string, string>>;
  /** `handle` groups already satisfied in this request. */
  groups: Set<string> | null;
  /** Applied in order by `writeHead` wrappers before the response head goes out. */
  responseHeaderOps: ResponseHeaderOp[];
  /** Set while `handle_errors` routes run. */
  error: PortcullisError | null;
  /** `{upstream_hostport}` once reverse_proxy picked one. */
  upstreamHostport: string;
  /** Name of the site serving the request, for logs and metrics. */
  siteName: string;
  /** `file:line` of the innermost route that handled the request, for metrics. */
  routeName: string;
  /**
   * Content-Length of a response whose head went out as a raw header list (writeHeadWith), which
   * res.getHeader cannot see; -1 otherwise. Read by the access log and metrics.
   */
  contentLength: number;
  /** The guard answered with its proof-of-work challenge instead of the site (see RequestDoneEvent.challenged). */
  challenged: boolean;
  /**
   * The Cookie header as the client sent it. Sites with `authenticate` remove Portcullis's
   * session cookie from req.headers before any route runs (upstreams never see it);
   * `authenticate` reads the session from here.
   */
  readonly clientCookie: string | undefined;
  readonly logger: Logger;
}

/** What a handler calls to pass the request on to the rest of the chain. */
export type Next = () => Promise<void>;

/** A compiled handler: one closure per config, called per request. */
export type Handler = (ctx: RequestContext, next: Next) => Promise<void>;

/** The chain's end: nothing more to do. */
export const endOfChain: Next = () => Promise.resolve();
