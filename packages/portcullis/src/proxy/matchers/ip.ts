/**
 * The `remote_ip` and `client_ip` matchers. remote_ip is the TCP peer; client_ip is the client
 * the guard resolved through trusted proxies (X-Forwarded-For from anyone else is ignored
 * before it ever reaches ctx.clientIp, so matching on it cannot be spoofed).
 */
import type { RequestContext } from '../context.ts';
import { compileIpRanges } from '../../kernel/ip-ranges.ts';

export function compileRemoteIpMatcher(ranges: string[]): (ctx: RequestContext) => boolean {
  const contains = compileIpRanges(ranges);
  return (ctx) => contains(ctx.remoteIp);
}

export function compileClientIpMatcher(ranges: string[]): (ctx: RequestContext) => boolean {
  const contains = compileIpRanges(ranges);
  return (ctx) => contains(ctx.clientIp);
}
