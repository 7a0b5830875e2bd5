/**
 * `rate_limit [<matcher>] { zone <name> { ... } ... }`, the caddy-ratelimit plugin's syntax:
 *
 *     rate_limit [<matcher>] {
 *         zone <name> {            repeatable; every zone must allow the request
 *             key    <string>      placeholders allowed: {client_ip}, {header.X-Api-Key}, ...
 *             events <num>         events per window
 *             window <duration>
 *             burst  <num>         Portcullis: events a quiet key may spend at once on top; default 0
 *         }
 *         sweep_interval <duration>    accepted (Portcullis drops expired keys as it goes)
 *     }
 *
 * The value checks are shared with JSON configs (validate-json.ts), and so is the check that a
 * zone name used twice in a config means the same limit both times: zones with one name share
 * their counters.
 */
import type { Directive } from '../ast.ts';
import type { RateLimitHandler, RouteConfig, SiteConfig } from '../types.ts';
import type { Parsed } from '../durations.ts';
import type { ErrorList, SourceLocation } from '../../kernel/errors.ts';
import { argCount, createDispenser, durationArg, eachSubdirective, intArg, noBlock, singleArg, type Dispenser, type SubdirectiveTable } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

export type RateLimitZone = RateLimitHandler['zones'][number];

export const RATE_LIMIT_MAX_EVENTS = 1_000_000;
export const RATE_LIMIT_MAX_BURST = 1_000_000;
export const RATE_LIMIT_MAX_WINDOW_MS = 366 * 86_400_000;

const USAGE = 'rate_limit [<matcher>] { zone <name> { key <string>; events <num>; window <duration>; burst <num> } }';
const ZONE_USAGE = 'zone <name> { key <string>; events <num>; window <duration>; burst <num> }';

/**
 * Placeholders that change with every request or connection: a key holding one gives each
 * request (or each reconnect) a fresh budget, so the limit never applies.
 */
const PER_REQUEST_PLACEHOLDER = /\{(remote|remote_port|http\.request\.remote|http\.request\.remote\.port|uuid|http\.request\.uuid|http\.request\.id|http\.request\.duration(_ms)?|time\.now(\.[a-z_]+)?)\}/;

/** A zone name: a word, as it appears in logs. */
export function checkZoneName(text: string): Parsed<string> {
  if (/^[A-Za-z0-9_.:-]{1,100}$/.test(text)) return { ok: true, value: text };
  return { ok: false, error: `zone name ${JSON.stringify(text)} must be 1 to 100 letters, digits, "_", ".", ":" or "-"` };
}

/** A zone key: any text with placeholders, except ones that differ on every request. */
export function checkZoneKey(text: string): Parsed<string> {
  if (text === '') return { ok: false, error: 'key must not be empty (write a fixed word for one budget shared by every client)' };
  const per = PER_REQUEST_PLACEHOLDER.exec(text);
  if (per !== null) {
    return { ok: false, error: `key ${JSON.stringify(text)} holds ${per[0]}, which changes with every request or connection: each would get a fresh budget (use {client_ip})` };
  }
  return { ok: true, value: text };
}

/** The rules between a zone's numbers; null when they hold. */
export function zoneLimitProblem(events: number, windowMs: number): string | null {
  if (windowMs < 1 || windowMs > RATE_LIMIT_MAX_WINDOW_MS) return 'window must be from 1ms to 366d';
  // One event earned back every window / events: below a microsecond the arithmetic is noise.
  if (events > windowMs * 1000) return `${events} events per ${windowMs}ms is more than 1000 per millisecond`;
  return null;
}

export function adaptRateLimit(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  const argsOk = argCount(disp, d, args, 0, 0, USAGE);
  if (d.block === null) {
    disp.error(d, `expected a block with at least one zone (usage: ${USAGE})`);
    return null;
  }
  const handler: RateLimitHandler = { handler: 'rate_limit', zones: [] };
  const names = new Map<string, Directive>();
  let good = true;
  let sweep: Directive | null = null;
  eachSubdirective(
    disp,
    d,
    {
      zone: (sub) => {
        const name = sub.args.length === 1 ? sub.args[0]!.text : null;
        const first = name === null ? undefined : names.get(name);
        if (first !== undefined) {
          disp.error(sub, `zone ${name} is already defined at ${first.source.file}:${first.source.line}`);
          good = false;
          return;
        }
        if (name !== null) names.set(name, sub);
        const zone = parseZone(sub, disp);
        if (zone === null) good = false;
        else handler.zones.push(zone);
      },
      sweep_interval: (sub) => {
        if (sweep !== null) return void disp.error(sub, `sweep_interval is already set at ${sweep.source.file}:${sweep.source.line}`);
        sweep = sub;
        const t = singleArg(disp, sub, 'sweep_interval <duration>');
        if (t !== null) durationArg(disp, t, 'sweep_interval');
      },
    },
    {
      distributed: 'distributed rate limiting is not supported: each Portcullis process keeps its own counters',
      storage: 'not supported: counters are kept in memory (they survive reloads, not restarts)',
      jitter: 'not supported yet: Retry-After is the exact wait, rounded up to a second',
    },
  );
  if (names.size === 0 && good) disp.error(d, `expected at least one zone (usage: ${USAGE})`);
  return ok && argsOk && good && handler.zones.length > 0 ? routeOf(match, handler, d) : null;
}

/** `zone <name> { ... }`; null after reporting. */
function parseZone(sub: Directive, disp: Dispenser): RateLimitZone | null {
  if (!argCount(disp, sub, sub.args, 1, 1, ZONE_USAGE)) return null;
  const nameToken = sub.args[0]!;
  const name = checkZoneName(nameToken.text);
  if (!name.ok) disp.error(nameToken, `zone: ${name.error}`);
  if (sub.block === null) {
    disp.error(sub, `zone ${nameToken.text}: expected a block (usage: ${ZONE_USAGE})`);
    return null;
  }
  const label = `zone ${nameToken.text}`;
  const seen = new Map<string, Directive>();
  const values: { key?: string; events?: number; windowMs?: number; burst?: number } = {};
  let good = name.ok;
  const once = (s: Directive) => {
    const first = seen.get(s.name);
    if (first === undefined) return void seen.set(s.name, s);
    disp.error(s, `${label}: ${s.name} is already set at ${first.source.file}:${first.source.line}`);
    good = false;
  };
  const arg = (s: Directive, usage: string) => {
    noBlock(disp, s);
    if (s.args.length === 1) return s.args[0]!;
    disp.error(s, `${label}: ${s.name}: expected 1 argument, got ${s.args.length} (usage: ${usage})`);
    good = false;
    return null;
  };
  const table: SubdirectiveTable = {
    key: (s) => {
      once(s);
      const t = arg(s, 'key <string>');
      if (t === null) return;
      const key = checkZoneKey(t.text);
      if (key.ok) values.key = key.value;
      else {
        disp.error(t, `${label}: ${key.error}`);
        good = false;
      }
    },
    events: (s) => {
      once(s);
      const t = arg(s, 'events <num>');
      const n = t && intArg(disp, t, `${label}: events`, 1, RATE_LIMIT_MAX_EVENTS);
      if (n === null) good = false;
      else values.events = n;
    },
    window: (s) => {
      once(s);
      const t = arg(s, 'window <duration>');
      const ms = t && durationArg(disp, t, `${label}: window`);
      if (ms === null) good = false;
      else values.windowMs = ms;
    },
    burst: (s) => {
      once(s);
      const t = arg(s, 'burst <num>');
      const n = t && intArg(disp, t, `${label}: burst`, 0, RATE_LIMIT_MAX_BURST);
      if (n === null) good = false;
      else values.burst = n;
    },
  };
  eachSubdirective(disp, sub, table, { max_events: 'write events <num> (max_events is the name in caddy-ratelimit\'s JSON)' });
  const missing = (['key', 'events', 'window'] as const).filter((k) => !seen.has(k));
  if (missing.length > 0) {
    disp.error(sub, `${label}: needs ${missing.join(', ')} (usage: ${ZONE_USAGE})`);
    return null;
  }
  if (!good || values.key === undefined || values.events === undefined || values.windowMs === undefined) return null;
  const problem = zoneLimitProblem(values.events, values.windowMs);
  if (problem !== null) {
    disp.error(seen.get('window') ?? sub, `${label}: ${problem}`);
    return null;
  }
  return { name: nameToken.text, key: values.key, events: values.events, windowMs: values.windowMs, burst: values.burst ?? 0 };
}

/** One zone of one `rate_limit` handler somewhere in a config. */
export interface RateLimitZoneUse {
  site: number;
  /** JSON path within the site: `routes[0].handle[1].zones[0]`. */
  path: string;
  /** The path of its handler: zones of one handler are checked apart (a name may not repeat there). */
  handlerPath: string;
  source: SourceLocation | undefined;
  zone: Partial<RateLimitZone>;
}

/** A zone name defined again with another limit, and where it was first defined. */
export interface RateLimitZoneConflict {
  use: RateLimitZoneUse;
  first: RateLimitZoneUse;
}

type RoutesLike = readonly { handle?: readonly unknown[]; source?: SourceLocation }[] | undefined;

function findZones(site: number, routes: RoutesLike, path: string, out: RateLimitZoneUse[]): void {
  (routes ?? []).forEach((route, i) => {
    (route?.handle ?? []).forEach((raw, j) => {
      const h = raw as { handler?: unknown; zones?: unknown; routes?: RoutesLike } | undefined;
      const at = `${path}[${i}].handle[${j}]`;
      if (h?.handler === 'subroute') findZones(site, h.routes, `${at}.routes`, out);
      if (h?.handler !== 'rate_limit' || !Array.isArray(h.zones)) return;
      h.zones.forEach((zone: Partial<RateLimitZone> | undefined, z) => {
        if (typeof zone?.name === 'string') out.push({ site, path: `${at}.zones[${z}]`, handlerPath: at, source: route.source, zone });
      });
    });
  });
}

/**
 * Zone names used more than once in a config with different limits (JSON configs may be
 * partly invalid: fields that failed their checks are absent and not compared).
 */
export function rateLimitZoneConflicts(sites: readonly { routes?: RoutesLike; errorRoutes?: RoutesLike }[]): RateLimitZoneConflict[] {
  const uses: RateLimitZoneUse[] = [];
  sites.forEach((s, i) => {
    findZones(i, s?.routes, 'routes', uses);
    findZones(i, s?.errorRoutes, 'errorRoutes', uses);
  });
  const firsts = new Map<string, RateLimitZoneUse>();
  const conflicts: RateLimitZoneConflict[] = [];
  for (const use of uses) {
    const first = firsts.get(use.zone.name!);
    if (first === undefined) firsts.set(use.zone.name!, use);
    else if (!sameHandler(first, use) && !sameLimit(first.zone, use.zone)) conflicts.push({ use, first });
  }
  return conflicts;
}

/** Repeats within one handler are reported by the handler's own check. */
function sameHandler(a: RateLimitZoneUse, b: RateLimitZoneUse): boolean {
  return a.site === b.site && a.handlerPath === b.handlerPath;
}

function sameLimit(a: Partial<RateLimitZone>, b: Partial<RateLimitZone>): boolean {
  for (const field of ['events', 'windowMs', 'burst'] as const) {
    if (a[field] !== undefined && b[field] !== undefined && a[field] !== b[field]) return false;
  }
  return true;
}

/** The message for a conflict; `firstAt` names where the zone was first defined. */
export function zoneConflictMessage(name: string, firstAt: string): string {
  return `zone ${name} is already defined at ${firstAt} with another events, window or burst: zones of one name share their counters, so their limits must be the same (or give this one another name)`;
}

/** Reports zone names defined twice with different limits, at the second definition. */
export function checkRateLimitSites(sites: readonly SiteConfig[], errors: ErrorList): void {
  const disp = createDispenser(errors, 'rate_limit');
  for (const { use, first } of rateLimitZoneConflicts(sites)) {
    const at = first.source === undefined ? first.path : `${first.source.file}:${first.source.line}`;
    disp.error(use.source ?? sites[use.site]!.source, zoneConflictMessage(use.zone.name!, at));
  }
}
