/**
 * The `protocol` matcher (Caddy's MatchProtocol): `http`, `https`, `grpc`, or an HTTP version
 * `http/1.0`, `http/1.1`, `http/2`, `http/3`, each optionally with `+` for "at least".
 */
import type { RequestContext } from '../context.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';

export function compileProtocolMatcher(protocol: string): (ctx: RequestContext) => boolean {
  const p = protocol.toLowerCase();
  if (p === 'http') return (ctx) => ctx.scheme === 'http';
  if (p === 'https') return (ctx) => ctx.scheme === 'https';
  if (p === 'grpc') return (ctx) => (ctx.req.headers['content-type'] ?? '').startsWith('application/grpc');
  const m = /^http\/(1\.0|1\.1|2|3)(\+?)$/.exec(p);
  if (m === null) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `unknown protocol '${protocol}' in protocol matcher`);
  const wanted = versionNumber(m[1]!);
  if (m[2] === '+') return (ctx) => versionOf(ctx) >= wanted;
  return (ctx) => versionOf(ctx) === wanted;
}

function versionNumber(v: string): number {
  return v === '1.0' ? 10 : v === '1.1' ? 11 : v === '2' ? 20 : 30;
}

function versionOf(ctx: RequestContext): number {
  return ctx.req.httpVersionMajor * 10 + ctx.req.httpVersionMinor;
}
