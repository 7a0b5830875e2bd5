/**
 * The `host` matcher (Caddy's MatchHost): case-insensitive; a `*` label stands for exactly one
 * label (`*.example.com` matches `a.example.com`, not `a.b.example.com` nor `example.com`),
 * as in RFC 1034 wildcards. Internationalised names compare in their ASCII (punycode) form.
 */
import { domainToASCII } from 'node:url';
import type { RequestContext } from '../context.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { compileTemplate, hasPlaceholders } from '../placeholders.ts';

type HostTest = (host: string) => boolean;

/** Compiles a host list; any one may match ctx.host (port and IPv6 brackets ignored). */
export function compileHostMatcher(patterns: string[]): (ctx: RequestContext) => boolean {
  const exact = new Set<string>();
  const wildcards: HostTest[] = [];
  const dynamic: Array<(ctx: RequestContext) => string> = [];
  for (const raw of patterns) {
    if (hasPlaceholders(raw)) {
      dynamic.push(compileTemplate(raw));
      continue;
    }
    const pattern = normalizeHost(raw);
    if (pattern.indexOf('*') === -1) exact.add(pattern);
    else wildcards.push(compileWildcard(pattern));
  }
  return (ctx) => {
    const host = requestHost(ctx.host);
    if (exact.has(host)) return true;
    for (let i = 0; i < wildcards.length; i++) if (wildcards[i]!(host)) return true;
    for (let i = 0; i < dynamic.length; i++) {
      const pattern = dynamic[i]!(ctx).toLowerCase();
      if (pattern.indexOf('*') === -1 ? pattern === host : compileWildcard(pattern)(host)) return true;
    }
    return false;
  };
}

function requestHost(host: string): string {
  return host.charCodeAt(0) === 91 && host.endsWith(']') ? host.slice(1, -1) : host;
}

function normalizeHost(raw: string): string {
  const host = requestHost(raw.trim().toLowerCase());
  if (host === '') throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, 'empty host in host matcher');
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(host)) return host;
  return host
    .split('.')
    .map((label) => {
      if (label === '*' || !/[^\x00-\x7f]/.test(label)) return label;
      const ascii = domainToASCII(label);
      if (ascii === '') throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `invalid host '${raw}' in host matcher`);
      return ascii;
    })
    .join('.');
}

function compileWildcard(pattern: string): HostTest {
  const labels = pattern.split('.');
  return (host) => {
    const parts = host.split('.');
    if (parts.length !== labels.length) return false;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (l !== '*' && l !== parts[i]) return false;
    }
    return true;
  };
}
