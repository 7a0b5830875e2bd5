/**
 * Per-site exclusions (`exclude <host> <rules or categories...>`): which rules do not apply to
 * a request's host. Hosts are written as site addresses are: `example.com`, `*.example.com`
 * (exactly one label, RFC 6125 §6.4.3, as Caddy), or `*` for every host.
 */
import type { SourceLocation } from '../../kernel/errors.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';

/** The rule indices excluded for a host (lower-case, no port, as GateRequest.host), or null. */
export type ExclusionLookup = (host: string) => ReadonlySet<number> | null;

export interface Exclusion {
  host: string;
  rules: string[];
  source: SourceLocation;
}

/**
 * Compiles exclusions; `resolve` turns a rule id or category into rule indices (null when the
 * name is unknown, which throws ERR_CONFIG_INVALID at the exclusion's line). Null when there
 * are none, so requests pay nothing.
 */
export function compileExclusions(exclusions: Exclusion[], resolve: (name: string) => number[] | null): ExclusionLookup | null {
  if (exclusions.length === 0) return null;
  const exact = new Map<string, Set<number>>();
  const wildcards: { labels: string[]; rules: Set<number> }[] = [];
  let everyHost: Set<number> | null = null;
  for (const e of exclusions) {
    const rules = new Set<number>();
    for (const name of e.rules) {
      const indices = resolve(name);
      if (indices === null) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `exclude: unknown rule or category ${JSON.stringify(name)}`, { source: e.source, directive: 'guard' });
      for (const i of indices) rules.add(i);
    }
    const host = bare(e.host.toLowerCase());
    if (host === '*') everyHost = union(everyHost, rules);
    else if (host.includes('*')) wildcards.push({ labels: host.split('.'), rules });
    else exact.set(host, union(exact.get(host) ?? null, rules));
  }
  return (host) => {
    const h = bare(host);
    let found: Set<number> | null = everyHost;
    const direct = exact.get(h);
    if (direct !== undefined) found = found === null ? direct : union(found, direct);
    for (let i = 0; i < wildcards.length; i++) {
      const w = wildcards[i]!;
      if (labelsMatch(w.labels, h)) found = found === null ? w.rules : union(found, w.rules);
    }
    return found;
  };
}

function bare(host: string): string {
  return host.charCodeAt(0) === 91 && host.endsWith(']') ? host.slice(1, -1) : host;
}

function union(a: Set<number> | null, b: Set<number>): Set<number> {
  if (a === null) return b;
  const out = new Set(a);
  for (const x of b) out.add(x);
  return out;
}

/** A `*` label stands for exactly one label. */
function labelsMatch(labels: string[], host: string): boolean {
  const parts = host.split('.');
  if (parts.length !== labels.length) return false;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== '*' && labels[i] !== parts[i]) return false;
  return true;
}
