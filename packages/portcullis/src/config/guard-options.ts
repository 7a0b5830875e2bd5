/**
 * The global `guard { ... }` block: the addresses never refused (`allow`), blocklist files,
 * `simulate`, the request rules (`rules { }`, read by guard-rules.ts), whether the
 * behaviour scenarios run (`scenarios on|off|simulate`), a CrowdSec Local API
 * (`crowdsec { }`) and the proof-of-work challenge's settings (`challenge { }`).
 *
 *     guard {
 *         allow 192.0.2.10 10.0.0.0/8
 *         blocklist /etc/portcullis/blocklist.txt
 *         simulate
 *         crowdsec {
 *             lapi_url http://127.0.0.1:8080
 *             api_key {$CROWDSEC_BOUNCER_KEY}
 *         }
 *         challenge {
 *             difficulty 18
 *             clearance 30m
 *         }
 *     }
 *
 * `guard` alone turns the guard on with its defaults.
 */
import { dirname, resolve } from 'node:path';
import type { Directive, Token } from './ast.ts';
import type { ChallengeConfig, CrowdSecConfig, GuardConfig } from './types.ts';
import type { Parsed } from './durations.ts';
import { argCount, durationArg, flag, eachSubdirective, intArg, noBlock, once, singleArg, where, type Dispenser } from './dispenser.ts';
import { defaultRequestRules, parseGuardRules } from './guard-rules.ts';
import { checkIpRanges } from './matcher-syntax.ts';

/** Reads the `guard` global option; problems are reported through `disp`. */
export function parseGuardBlock(d: Directive, disp: Dispenser): GuardConfig {
  const guard: GuardConfig = { neverBan: [], blocklists: [], simulate: false, rules: defaultRequestRules(), source: where(d) };
  argCount(disp, d, d.args, 0, 0, 'guard { allow <ranges...>; blocklist <files...>; simulate; scenarios on|off|simulate; rules { ... }; crowdsec { ... } }');
  let rulesSeen: Directive | null = null;
  let crowdsecSeen: Directive | null = null;
  let challengeSeen: Directive | null = null;
  eachSubdirective(disp, d, {
    allow: (sub) => {
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'allow <ranges...>')) return;
      for (const range of checkIpRanges(disp, 'allow', sub.args)) if (!guard.neverBan.includes(range)) guard.neverBan.push(range);
    },
    blocklist: (sub) => {
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'blocklist <files...>')) return;
      for (const t of sub.args) {
        const path = blocklistPath(disp, t);
        if (path === null) continue;
        if (guard.blocklists.includes(path)) disp.error(t, `blocklist: ${t.text} is listed twice`);
        else guard.blocklists.push(path);
      }
    },
    simulate: (sub) => {
      if (flag(disp, sub)) guard.simulate = true;
    },
    scenarios: (sub) => {
      const t = singleArg(disp, sub, 'scenarios on|off|simulate');
      if (t === null) return;
      if (t.text === 'on' || t.text === 'off' || t.text === 'simulate') guard.scenarios = t.text;
      else disp.error(t, `scenarios: expected on, off or simulate, got ${JSON.stringify(t.text)}`);
    },
    rules: (sub) => {
      if (rulesSeen !== null) {
        disp.error(sub, `rules: already set at ${rulesSeen.source.file}:${rulesSeen.source.line}; write them in one block`);
        return;
      }
      rulesSeen = sub;
      guard.rules = parseGuardRules(sub, disp, dirname(sub.source.file));
    },
    crowdsec: (sub) => {
      if (crowdsecSeen !== null) {
        disp.error(sub, `crowdsec: already set at ${crowdsecSeen.source.file}:${crowdsecSeen.source.line}; one Local API per guard`);
        return;
      }
      crowdsecSeen = sub;
      const crowdsec = parseCrowdSecBlock(sub, disp);
      if (crowdsec !== null) guard.crowdsec = crowdsec;
    },
    challenge: (sub) => {
      if (challengeSeen !== null) {
        disp.error(sub, `challenge: already set at ${challengeSeen.source.file}:${challengeSeen.source.line}; write it in one block`);
        return;
      }
      challengeSeen = sub;
      guard.challenge = parseChallengeBlock(sub, disp);
    },
  });
  return guard;
}

// ---------------------------------------------------------------------------------------------
// challenge { ... }: limits shared by the Caddyfile and JSON readers.

/**
 * Leading zero bits asked of the browser. Below 8 (256 hashes) a crawler pays nothing; above
 * 24 (16 million hashes) a phone on a plain-HTTP site, hashing in JavaScript without
 * WebCrypto, works for minutes.
 */
export const CHALLENGE_DEFAULT_DIFFICULTY = 16;
export const CHALLENGE_MIN_DIFFICULTY = 8;
export const CHALLENGE_MAX_DIFFICULTY = 24;
/** How long a passed challenge lasts: at least a minute (or browsers solve in a loop), at most 30 days. */
export const CHALLENGE_DEFAULT_CLEARANCE_MS = 60 * 60_000;
export const CHALLENGE_MIN_CLEARANCE_MS = 60_000;
export const CHALLENGE_MAX_CLEARANCE_MS = 30 * 24 * 60 * 60_000;

const CHALLENGE_USAGE = 'challenge { difficulty <8..24>; clearance <1m..30d> }';

/** A clearance lifetime within 1m..30d. */
export function checkClearanceMs(ms: number): Parsed<number> {
  if (ms >= CHALLENGE_MIN_CLEARANCE_MS && ms <= CHALLENGE_MAX_CLEARANCE_MS) return { ok: true, value: ms };
  return { ok: false, error: `${ms < CHALLENGE_MIN_CLEARANCE_MS ? 'shorter than 1m' : 'longer than 30d'} (allowed: 1m to 30d)` };
}

/** Reads `challenge { ... }`; every setting left out keeps its default. */
function parseChallengeBlock(d: Directive, guardDisp: Dispenser): ChallengeConfig {
  // Messages read `guard: challenge: <subdirective>: ...`.
  const disp = guardDisp.named(`${guardDisp.directive}: challenge`);
  const block = { ...d, name: disp.directive };
  argCount(disp, block, d.args, 0, 0, CHALLENGE_USAGE);
  const c: ChallengeConfig = { difficulty: CHALLENGE_DEFAULT_DIFFICULTY, clearanceMs: CHALLENGE_DEFAULT_CLEARANCE_MS, source: where(d) };
  const seen = new Map<string, Directive>();
  eachSubdirective(disp, block, {
    difficulty: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'difficulty <8..24>') : null;
      const bits = t === null ? null : intArg(disp, t, 'difficulty', CHALLENGE_MIN_DIFFICULTY, CHALLENGE_MAX_DIFFICULTY);
      if (bits !== null) c.difficulty = bits;
    },
    clearance: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'clearance <duration>') : null;
      const ms = t === null ? null : durationArg(disp, t, 'clearance');
      if (t === null || ms === null) return;
      const checked = checkClearanceMs(ms);
      if (checked.ok) c.clearanceMs = checked.value;
      else disp.error(t, `clearance: ${t.text} is ${checked.error}`);
    },
  });
  return c;
}

// ---------------------------------------------------------------------------------------------
// crowdsec { ... }: value checks shared by the Caddyfile and JSON readers.

/** `poll_interval` when not given, and the shortest accepted (the LAPI is a shared server). */
export const CROWDSEC_DEFAULT_POLL_MS = 10_000;
export const CROWDSEC_MIN_POLL_MS = 1000;

const CROWDSEC_USAGE = 'crowdsec { lapi_url <url>; api_key <key>; machine_id <id>; password <password>; poll_interval <duration>; push on|off }';

/**
 * The Local API's base URL: http or https, a host, an optional path prefix; no credentials,
 * query or fragment (the key and the machine's password travel in headers and bodies only).
 * Normalised without a trailing slash.
 */
export function checkLapiUrl(text: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: `${JSON.stringify(text)} is not a URL (expected http://127.0.0.1:8080 or https://lapi.example.com)` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `${JSON.stringify(text)} is not an http:// or https:// URL` };
  if (url.username !== '' || url.password !== '') return { ok: false, error: 'the URL must not carry credentials: give api_key, or machine_id and password' };
  if (url.search !== '' || url.hash !== '' || text.includes('?') || text.includes('#')) return { ok: false, error: `${JSON.stringify(text)}: a query or fragment has no place in the LAPI's base URL` };
  return { ok: true, value: `${url.origin}${url.pathname.replace(/\/+$/, '')}` };
}

/**
 * A bouncer key (sent as a header: printable ASCII, no spaces) or a machine's password (sent
 * in a JSON body: anything but control characters); at most 256 characters.
 */
export function checkCrowdSecSecret(label: 'the key' | 'the password', text: string): Parsed<string> {
  if (text === '') return { ok: false, error: `${label} is empty` };
  if (text.length > 256) return { ok: false, error: `${label} is longer than 256 characters` };
  if (label === 'the key' && !/^[\x21-\x7e]+$/.test(text)) return { ok: false, error: `${label} may contain only printable ASCII characters without spaces` };
  if (/[\p{Cc}]/u.test(text)) return { ok: false, error: `${label} must not contain control characters` };
  return { ok: true, value: text };
}

/** A machine id as `cscli machines add` takes it. */
export function checkMachineId(text: string): Parsed<string> {
  if (!/^[A-Za-z0-9._@-]{1,128}$/.test(text)) return { ok: false, error: `machine_id ${JSON.stringify(text.slice(0, 40))} may contain only letters, digits, '.', '_', '@' and '-' (at most 128)` };
  return { ok: true, value: text };
}

/** What is wrong with the settings taken together (each a message), or nothing. */
export function crowdSecProblems(c: Pick<CrowdSecConfig, 'apiKey' | 'machineId' | 'password' | 'push'>): string[] {
  const problems: string[] = [];
  const watcher = c.machineId !== null && c.password !== null;
  if ((c.machineId === null) !== (c.password === null)) {
    problems.push(c.machineId === null ? 'password is set without machine_id: the watcher needs both' : 'machine_id is set without password: the watcher needs both');
  } else if (c.push && !watcher) {
    problems.push('push on needs machine_id and password (`cscli machines add NAME --password P`)');
  }
  if (c.apiKey === null && !watcher) {
    problems.push('neither api_key (to enforce CrowdSec\'s decisions, as a bouncer) nor machine_id and password (to send ours, as a watcher) is set');
  } else if (c.apiKey === null && watcher && !c.push) {
    problems.push('push is off and there is no api_key: nothing to do');
  }
  return problems;
}

/** Reads `crowdsec { ... }`; null when it is unusable (every problem reported). */
function parseCrowdSecBlock(d: Directive, guardDisp: Dispenser): CrowdSecConfig | null {
  // Messages read `guard: crowdsec: <subdirective>: ...`.
  const disp = guardDisp.named(`${guardDisp.directive}: crowdsec`);
  const before = disp.errors.errors.length;
  argCount(disp, { ...d, name: disp.directive }, d.args, 0, 0, CROWDSEC_USAGE);
  const c: CrowdSecConfig = { lapiUrl: '', apiKey: null, machineId: null, password: null, pollIntervalMs: CROWDSEC_DEFAULT_POLL_MS, push: false, source: where(d) };
  let push: boolean | null = null;
  const seen = new Map<string, Directive>();
  /** The single argument of a subdirective written once, or null (reported). */
  const arg = (sub: Directive, usage: string): Token | null => {
    const first = seen.get(sub.name);
    if (first !== undefined) {
      disp.error(sub, `${sub.name}: already set at ${first.source.file}:${first.source.line}`);
      return null;
    }
    seen.set(sub.name, sub);
    return singleArg(disp, sub, usage);
  };
  const checked = (t: Token | null, label: string, result: (text: string) => Parsed<string>): string | null => {
    if (t === null) return null;
    const r = result(t.text);
    if (r.ok) return r.value;
    disp.error(t, `${label}: ${r.error}`);
    return null;
  };
  eachSubdirective(disp, { ...d, name: disp.directive }, {
    lapi_url: (sub) => {
      c.lapiUrl = checked(arg(sub, 'lapi_url <http(s) url>'), 'lapi_url', checkLapiUrl) ?? c.lapiUrl;
    },
    api_key: (sub) => {
      c.apiKey = checked(arg(sub, 'api_key <key>'), 'api_key', (text) => checkCrowdSecSecret('the key', text)) ?? c.apiKey;
    },
    machine_id: (sub) => {
      c.machineId = checked(arg(sub, 'machine_id <id>'), 'machine_id', checkMachineId) ?? c.machineId;
    },
    password: (sub) => {
      c.password = checked(arg(sub, 'password <password>'), 'password', (text) => checkCrowdSecSecret('the password', text)) ?? c.password;
    },
    poll_interval: (sub) => {
      const t = arg(sub, 'poll_interval <duration>');
      const ms = t === null ? null : durationArg(disp, t, 'poll_interval');
      if (t === null || ms === null) return;
      if (ms < CROWDSEC_MIN_POLL_MS) disp.error(t, `poll_interval: ${t.text} is shorter than 1s`);
      else c.pollIntervalMs = ms;
    },
    push: (sub) => {
      const t = arg(sub, 'push on|off');
      if (t === null) return;
      if (t.text === 'on' || t.text === 'off') push = t.text === 'on';
      else disp.error(t, `push: expected on or off, got ${JSON.stringify(t.text)}`);
    },
  });
  // Cross-field problems would only repeat a refused value.
  if (disp.errors.errors.length > before) return null;
  c.push = push ?? (c.machineId !== null && c.password !== null);
  if (!seen.has('lapi_url')) disp.error(d, `missing lapi_url (usage: ${CROWDSEC_USAGE})`);
  for (const problem of crowdSecProblems(c)) disp.error(d, problem);
  return disp.errors.errors.length > before ? null : c;
}

/** A blocklist file, absolute against the directory of the file it was written in. */
function blocklistPath(disp: Dispenser, t: Token): string | null {
  if (t.text === '') {
    disp.error(t, 'blocklist: the path is empty');
    return null;
  }
  return resolve(dirname(t.file), t.text);
}
