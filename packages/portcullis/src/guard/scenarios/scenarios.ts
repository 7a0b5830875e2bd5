/**
 * The built-in behaviour scenarios, as data: which events each one watches, how it keys and
 * counts them (a leaky bucket, leaky-bucket.ts), and what it decides when the bucket fires.
 * docs/guard.md ("Behaviour scenarios") has the same table for people; change both together.
 *
 * Thresholds are chosen so that ordinary browsing never fires: a page with its assets is
 * one non-static request, a few missing favicons are a few distinct 404s, a single-page app
 * polling its API every few seconds leaks out faster than it fills. `slow-scraper` is not a
 * bucket: its thresholds are here, its signals in slow-scraper.ts.
 */
import type { RequestDoneEvent } from '../../kernel/events.ts';
import type { DecisionKind } from '../../store/index.ts';
import { rememberCleanInputs } from '../clean-inputs.ts';

interface ScenarioCommon {
  /** Stable: the decision's origin is `scenario:<name>`. */
  name: string;
  /** For people: what it detects. */
  description: string;
  /** What the bucket counts, for the decision's reason: `more than <capacity> <counts>`. */
  counts: string;
  /** Events that fit; the next one fires. */
  capacity: number;
  leakPerSecond: number;
  decision: DecisionKind;
  durationMs: number;
}

/** A scenario over the proxy's `http.request_done`, keyed by the client's address. */
export interface HttpScenario extends ScenarioCommon {
  event: 'http.request_done';
  /** Whether the event counts at all. */
  matches(event: RequestDoneEvent): boolean;
  /**
   * Set when only 4xx answers can match: the engine then skips the scenario for any other
   * status without calling matches(). Under load every scenario a request visits costs a few
   * hundred nanoseconds of cache misses, and most requests are not 4xx.
   */
  clientErrorsOnly?: true;
  /** When present, only events with a value new to the bucket count. */
  distinct?: (event: RequestDoneEvent) => string;
}

/**
 * A scenario over identity's `auth.login_failed`. Keyed `by: 'ip'`, it decides on the
 * address; keyed `by: 'account'` (the login as typed), it decides on every address that
 * failed more than `minFailuresPerIp` times against that account lately (each address's count
 * leaks as the bucket does; attempts the identity throttle refused count for no address).
 */
export interface LoginScenario extends ScenarioCommon {
  event: 'auth.login_failed';
  by: 'ip' | 'account';
  minFailuresPerIp?: number;
}

/**
 * The slow-scraper detector (slow-scraper.ts) over `http.request_done`: not a bucket but a
 * score of signals per client (IPv4 address or IPv6 /64) over a sliding window. Its first
 * firing decides `decision`; firing again (the challenge ran out, or the client passed it and
 * went on) decides `repeatDecision`.
 */
export interface SlowScraperScenario {
  name: string;
  description: string;
  event: 'http.request_done';
  detector: 'slow-scraper';
  /** The window, counted in two halves (it covers the last half to whole). */
  windowMs: number;
  /** Distinct pages in the window before anything can fire. */
  minPages: number;
  /** Signals (of 5) that must agree. */
  minSignals: number;
  decision: DecisionKind;
  durationMs: number;
  repeatDecision: DecisionKind;
  repeatDurationMs: number;
  /** How long a firing is remembered for that. */
  repeatWithinMs: number;
}

export type Scenario = HttpScenario | LoginScenario | SlowScraperScenario;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Files a browser fetches alongside a page; requests for them are not "pages". */
const STATIC_EXTENSION = /\.(?:css|js|mjs|map|png|jpe?g|gif|webp|avif|svg|ico|woff2?|ttf|otf|eot)$/i;

/** True when the path names a static asset (its last segment has one of the extensions above). */
export function isStaticPath(path: string): boolean {
  return STATIC_EXTENSION.test(path);
}

/**
 * Statuses a probe for something that is not there gets. 401 (credentials asked), 407 and
 * 429 (rate limited) are left out: a client being told to sign in or slow down is not
 * probing.
 */
const PROBE_STATUS = new Set([400, 403, 404, 405, 410, 414]);

/**
 * Paths only a scanner asks for on a site that does not serve them: secrets and VCS
 * metadata left in a web root, the admin entry points of software commonly attacked
 * (WordPress, phpMyAdmin, Spring actuator), backups and dumps. Only 4xx answers count, so a
 * site that does run WordPress is not hurt by its own /wp-login.php.
 */
const SENSITIVE_PATH = new RegExp(
  [
    String.raw`/\.(?:env|git|svn|hg|bzr|htaccess|htpasswd|aws|ssh|docker|DS_Store|vscode|idea)(?:[/.]|$)`,
    String.raw`/(?:wp-login\.php|wp-config\.php|xmlrpc\.php|wp-admin(?:/|$))`,
    String.raw`/(?:phpmyadmin|pma|myadmin|adminer(?:\.php)?)(?:/|$)`,
    String.raw`/(?:server-status|server-info|actuator)(?:/|$)`,
    String.raw`/(?:etc/passwd|proc/self/environ|id_rsa|id_ed25519|web\.config|config\.php|phpinfo\.php|shell\.php|cgi-bin/)`,
    String.raw`/vendor/phpunit/`,
    String.raw`\.(?:bak|old|orig|swp|sql|sqlite|tar\.gz|tgz)$`,
  ].join('|'),
  'i',
);

/** True when the path is one scenario `sensitive-file-probe` watches. */
export function isSensitivePath(path: string): boolean {
  return SENSITIVE_PATH.test(path);
}

/**
 * User agents of vulnerability scanners and brute-forcers that announce themselves. Generic
 * HTTP libraries (curl, python-requests, Go-http-client) are left out: monitoring and your
 * own scripts use them.
 */
const SCANNER_UA =
  /\b(?:sqlmap|nikto|nmap|masscan|zgrab|nuclei|wpscan|dirbuster|gobuster|ffuf|feroxbuster|wfuzz|acunetix|netsparker|w3af|havij|jorgee|zmeu|openvas|nessus|commix|hydra|whatweb|arachni|skipfish)\b/i;

/** True when the User-Agent names a scanner. */
export function isScannerUserAgent(userAgent: string): boolean {
  return SCANNER_UA.test(userAgent);
}

/**
 * isScannerUserAgent over events, remembering the User-Agents that name none (clean-inputs.ts,
 * as the request rules do): a site sees few distinct ones, and a lookup costs less than the
 * regexp over a hundred-odd characters (~0.1 us a request under load, measured in
 * bench:guard). The memory only ever answers what the regexp answered, so sharing it between
 * engines changes no outcome.
 */
function scannerUserAgentMatcher(): (e: RequestDoneEvent) => boolean {
  const clean = rememberCleanInputs();
  return (e) => {
    const ua = e.userAgent;
    if (clean.has(ua)) return false;
    if (isScannerUserAgent(ua)) return true;
    clean.add(ua);
    return false;
  };
}

/** The built-in scenarios, evaluated in this order for each event. */
export const BUILTIN_SCENARIOS: readonly Scenario[] = [
  {
    name: 'http-4xx-scan',
    counts: '4xx answers on distinct paths',
    description: 'many 4xx answers on distinct non-static paths from one address: a content scanner',
    event: 'http.request_done',
    capacity: 20,
    leakPerSecond: 1 / 10,
    decision: 'ban',
    durationMs: 4 * HOUR,
    clientErrorsOnly: true,
    matches: (e) => PROBE_STATUS.has(e.status) && !isStaticPath(e.path),
    distinct: (e) => e.path,
  },
  {
    name: 'sensitive-file-probe',
    counts: '4xx answers on distinct sensitive paths',
    description: 'requests refused or not found on secrets, VCS metadata, admin entry points and backups (/.env, /.git/, /wp-login.php)',
    event: 'http.request_done',
    capacity: 3,
    leakPerSecond: 1 / 60,
    decision: 'ban',
    durationMs: 24 * HOUR,
    clientErrorsOnly: true,
    matches: (e) => e.status >= 400 && e.status < 500 && isSensitivePath(e.path),
    distinct: (e) => e.path,
  },
  {
    name: 'bad-user-agent',
    counts: 'requests with a scanner User-Agent',
    description: 'requests whose User-Agent names a vulnerability scanner (sqlmap, nikto, nuclei, ...)',
    event: 'http.request_done',
    capacity: 1,
    leakPerSecond: 1 / 60,
    decision: 'ban',
    durationMs: 24 * HOUR,
    matches: scannerUserAgentMatcher(),
  },
  {
    name: 'aggressive-crawl',
    counts: 'page requests beyond a rate of 5 a second',
    description: 'a sustained flood of page (non-static) GET and HEAD requests from one address',
    event: 'http.request_done',
    capacity: 300,
    leakPerSecond: 5,
    decision: 'challenge',
    durationMs: HOUR,
    matches: (e) => (e.method === 'GET' || e.method === 'HEAD') && !isStaticPath(e.path),
  },
  {
    name: 'slow-scraper',
    description:
      'a crawl of many distinct pages at any rate, even far below 1 a second, told from browsing by its signals: no assets, no cookies kept, referers that do not follow its own pages, pages nobody else asks for, machine-regular timing',
    event: 'http.request_done',
    detector: 'slow-scraper',
    windowMs: HOUR,
    minPages: 300,
    minSignals: 3,
    decision: 'challenge',
    durationMs: 24 * HOUR,
    repeatDecision: 'ban',
    repeatDurationMs: 24 * HOUR,
    repeatWithinMs: 7 * 24 * HOUR,
  },
  {
    name: 'login-bruteforce-ip',
    counts: 'failed sign-ins from this client',
    description: 'failed sign-ins from one address',
    event: 'auth.login_failed',
    by: 'ip',
    capacity: 10,
    leakPerSecond: 1 / 60,
    decision: 'ban',
    durationMs: HOUR,
  },
  {
    name: 'login-bruteforce-account',
    counts: 'failed sign-ins against one account',
    description: 'failed sign-ins against one account from any number of addresses; bans each address that failed more than 3 times against it',
    event: 'auth.login_failed',
    by: 'account',
    minFailuresPerIp: 3,
    capacity: 20,
    leakPerSecond: 1 / 60,
    decision: 'ban',
    durationMs: HOUR,
  },
];

/** The scenario names, for config checks and docs. */
export const SCENARIO_NAMES: readonly string[] = BUILTIN_SCENARIOS.map((s) => s.name);
