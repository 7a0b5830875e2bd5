/**
 * Replays through the scenario engine on a ManualClock: each attack gets a decision from the
 * scenario made for it, within that scenario's threshold; ordinary browsing (a reader with
 * their assets, an office behind one address, a busy single-page app, a user opening 30 tabs,
 * feed readers, monitoring, a mistyped password) never gets one, over hours.
 *
 * The slow-scraper replays run on a site with human visitors (their assets, cookies and
 * same-site referers are what make three of its signals count), and answer requests as the
 * gate would: once a decision covers the client, its pages are 403s (the challenge page)
 * unless it holds a clearance.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../kernel/clock.ts';
import { EventBus, type LoginEvent, type RequestDoneEvent } from '../../kernel/events.ts';
import { silentLogger, type Logger } from '../../kernel/logger.ts';
import type { NewDecision } from '../../store/index.ts';
import { createDecisionIndex } from '../decision-index.ts';
import { createScenarioEngine, type ScenarioSettings } from './engine.ts';
import { BUILTIN_SCENARIOS, isScannerUserAgent, isSensitivePath, isStaticPath } from './scenarios.ts';
import { createSlowScraperDetector, type Firing } from './slow-scraper.ts';
import { seededRandom as random } from '../../../test/support/seeded-random.ts';
import { recordingLogger } from '../../../test/support/recording-logger.ts';

const START = 1_700_000_000_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

function harness(settings: Partial<ScenarioSettings> = {}, options: { logger?: Logger; maxKeys?: number; decide?: (d: NewDecision) => Promise<unknown> } = {}) {
  const events = new EventBus();
  const clock = new ManualClock(START);
  const decisions: { at: number; decision: NewDecision }[] = [];
  // The decisions in force, as the gate holds them.
  const index = createDecisionIndex({ clock });
  const engine = createScenarioEngine({
    events,
    clock,
    logger: options.logger ?? silentLogger(),
    decide:
      options.decide ??
      ((decision) => {
        decisions.push({ at: clock.now(), decision });
        index.add({ ...decision, id: decisions.length, createdAt: clock.now() });
      }),
    ...(options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys }),
  });
  engine.configure({ neverBan: [], simulate: false, ...settings });
  /** One request, answered. */
  const request = (clientIp: string, path: string, extra: Partial<RequestDoneEvent> = {}): void =>
    events.emit('http.request_done', { site: 'example.com', method: 'GET', host: 'example.com', path, status: 200, clientIp, userAgent: BROWSER, referer: '', hasCookies: false, challenged: false, crossSite: false, ...extra });
  const loginFailed = (clientIp: string, login: string): void =>
    events.emit('auth.login_failed', { login, userId: login === 'nobody' ? null : `id-${login}`, clientIp, reason: 'credentials' } satisfies LoginEvent);
  /**
   * A page or asset request answered as the gate would: 403 (the challenge page, or the
   * refusal) when a decision covers the client, unless it is a challenge and the client holds
   * a clearance.
   */
  const gated = (clientIp: string, path: string, extra: Partial<RequestDoneEvent> & { cleared?: boolean } = {}): number => {
    const { cleared = false, ...rest } = extra;
    const decided = index.match(clientIp);
    const status = decided !== null && !(decided.kind === 'challenge' && cleared) ? 403 : (rest.status ?? 200);
    // As the front door marks it: the 403 was the challenge page, not the site's answer.
    const challenged = status === 403 && decided?.kind === 'challenge';
    request(clientIp, path, { ...rest, status, challenged });
    return status;
  };
  return { events, clock, engine, decisions, index, request, gated, loginFailed };
}

type Harness = ReturnType<typeof harness>;


/** A human's pause: log-normal around `medianMs` (most short, some long), at least 2 s. */
function think(rng: () => number, medianMs: number, sigma = 1): number {
  const normal = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  return Math.max(2 * SECOND, Math.round(medianMs * Math.exp(sigma * normal)));
}

const ORIGIN = 'https://example.com';

interface Reading {
  ip: string;
  start: number;
  end: number;
  rng: () => number;
  /** The n-th page this person opens. */
  page: (n: number) => string;
  medianThinkMs?: number;
  userAgent?: string;
}

/**
 * A person reading the site in a browser, as Steps: each page follows a link from the one
 * before (Referer), now and then one opened from a bookmark (no Referer); the site's cookie
 * is sent from the second request on; the first page brings the stylesheet, script and font,
 * later ones their images (the rest is cached), and now and then a stylesheet revalidation.
 */
function reading(h: Harness, at: (ms: number, run: () => void) => void, r: Reading): number {
  let t = r.start;
  let previous = '';
  let n = 0;
  const ua = r.userAgent ?? BROWSER;
  for (; t < r.end; n++) {
    const path = r.page(n);
    const referer = previous === '' || r.rng() < 0.1 ? '' : `${ORIGIN}${previous}`;
    const cookies = n > 0;
    at(t - START, () => h.gated(r.ip, path, { referer, hasCookies: cookies, userAgent: ua }));
    const assets = n === 0 ? ['/static/site.css', '/static/site.js', '/fonts/inter.woff2'] : Array.from({ length: Math.floor(r.rng() * 3) }, (_, k) => `/images${path}-${k}.jpg`);
    if (n > 0 && r.rng() < 0.1) assets.push('/static/site.css');
    assets.forEach((asset, k) => at(t - START + 80 + k * 15, () => h.gated(r.ip, asset, { referer: `${ORIGIN}${path}`, hasCookies: true, userAgent: ua, status: asset === '/static/site.css' && n > 0 ? 304 : 200 })));
    previous = path;
    t += think(r.rng, r.medianThinkMs ?? 40 * SECOND);
  }
  return n;
}

/** A few people reading popular pages, so the site shows its browsers fetch assets, keep cookies and send referers. */
function visitors(h: Harness, at: (ms: number, run: () => void) => void, until: number, seed = 11): void {
  for (let v = 0; v < 6; v++) {
    const rng = random(seed + v);
    reading(h, at, { ip: `198.51.100.${100 + v}`, start: START + v * 2 * MINUTE, end: START + until, rng, page: () => `/articles/popular-${Math.floor(rng() * rng() * 40)}` });
  }
}

interface Crawl {
  ips: readonly string[];
  start: number;
  /** Requests a second, over all its addresses. */
  rate: number;
  end: number;
  timing?: 'fixed' | 'uniform' | 'poisson';
  referer?: 'none' | 'synthetic' | 'previous';
  /** Solves the challenge (a headless browser): a challenge decision does not stop its pages. */
  solves?: boolean;
  /** Stops at its first refused answer (a polite crawler told no). */
  stopsWhenRefused?: boolean;
  seed?: number;
  prefix?: string;
}

/**
 * A crawler walking distinct pages: no assets, no cookies, Referer none, synthetic (a
 * listing page it never fetched) or its previous page; gaps fixed, uniform within +/-50 %,
 * or random (Poisson).
 */
function crawling(h: Harness, at: (ms: number, run: () => void) => void, c: Crawl): void {
  const rng = random(c.seed ?? 99);
  const mean = SECOND / c.rate;
  let refused = false;
  for (let t = c.start, n = 0; t < c.end; n++) {
    const ip = c.ips[n % c.ips.length]!;
    const path = `${c.prefix ?? '/catalog/item'}-${n}`;
    const referer = c.referer === 'synthetic' ? `${ORIGIN}/catalog/?page=${Math.floor(n / 40)}` : c.referer === 'previous' && n > 0 ? `${ORIGIN}${c.prefix ?? '/catalog/item'}-${n - 1}` : '';
    at(t - START, () => {
      if (refused) return;
      const status = h.gated(ip, path, { referer, userAgent: 'Mozilla/5.0 (compatible; catalog-sync/2.1)', cleared: c.solves === true });
      if (status === 403 && c.stopsWhenRefused) refused = true;
    });
    t += c.timing === 'uniform' ? mean * (0.5 + rng()) : c.timing === 'poisson' ? -mean * Math.log(1 - rng()) : mean;
  }
}

function slowScraperDecisions(h: Harness) {
  return h.decisions.filter((d) => d.decision.origin === 'scenario:slow-scraper');
}

/** Events at given times, played in time order (ties in the order given). */
type Step = { at: number; run: () => void };
function replay(clock: ManualClock, steps: Step[]): void {
  steps.sort((a, b) => a.at - b.at);
  for (const step of steps) {
    if (step.at > clock.now()) clock.advance(step.at - clock.now());
    step.run();
  }
}


describe('scenario attack replays', () => {
  it('http-4xx-scan: the 21st distinct 404 path within seconds bans the address for 4 hours', () => {
    const h = harness();
    for (let i = 1; i <= 20; i++) {
      h.request('203.0.113.5', `/admin-${i}/index.html`, { status: 404 });
      h.clock.advance(200);
    }
    assert.equal(h.decisions.length, 0, 'not before the threshold');
    h.request('203.0.113.5', '/admin-21/index.html', { status: 404 });
    assert.equal(h.decisions.length, 1);
    const { decision, at } = h.decisions[0]!;
    assert.deepEqual(decision, {
      kind: 'ban',
      scope: 'ip',
      value: '203.0.113.5',
      reason: 'more than 20 4xx answers on distinct paths',
      origin: 'scenario:http-4xx-scan',
      expiresAt: at + 4 * HOUR,
    });
  });

  it('http-4xx-scan: a slow scan (one path every 10 s) leaks out; one every 5 s is caught', () => {
    const slow = harness();
    for (let i = 0; i < 500; i++) {
      slow.request('203.0.113.6', `/p${i}`, { status: 404 });
      slow.clock.advance(10 * SECOND + 1);
    }
    assert.equal(slow.decisions.length, 0);
    const faster = harness();
    let n = 0;
    while (faster.decisions.length === 0 && n < 100) {
      faster.request('203.0.113.6', `/p${n++}`, { status: 404 });
      faster.clock.advance(5 * SECOND);
    }
    // Net +0.5 a request: about 40 requests fill 20.
    assert.ok(n > 21 && n <= 45, `fired after ${n}`);
    assert.equal(faster.decisions[0]!.decision.origin, 'scenario:http-4xx-scan');
  });

  it('sensitive-file-probe: four distinct probes for secrets ban for 24 hours', () => {
    const h = harness();
    const probes = ['/.env', '/.git/config', '/wp-login.php', '/backup.sql'];
    probes.forEach((path, i) => {
      assert.equal(h.decisions.length, 0, `not before probe ${i + 1}`);
      h.request('198.51.100.66', path, { status: 404 });
      h.clock.advance(500);
    });
    assert.equal(h.decisions.length, 1);
    assert.equal(h.decisions[0]!.decision.origin, 'scenario:sensitive-file-probe');
    assert.equal(h.decisions[0]!.decision.kind, 'ban');
    assert.equal(h.decisions[0]!.decision.expiresAt, h.decisions[0]!.at + 24 * HOUR);
  });

  it('sensitive-file-probe: probes refused by the request rules (403) count too; a served WordPress login does not', () => {
    const h = harness();
    for (let i = 0; i < 10; i++) h.request('192.0.2.40', '/wp-login.php', { status: 200, method: i % 2 ? 'POST' : 'GET' });
    assert.equal(h.decisions.length, 0);
    for (const path of ['/.env', '/.aws/credentials', '/phpmyadmin/', '/.git/HEAD']) h.request('192.0.2.41', path, { status: 403 });
    assert.deepEqual(h.decisions.map((d) => [d.decision.value, d.decision.origin]), [['192.0.2.41', 'scenario:sensitive-file-probe']]);
  });

  it('security: probes another site\'s page makes a browser send (<img src=/.env>, Sec-Fetch-Site: cross-site) never ban the visitor; they decide a challenge', () => {
    const h = harness();
    const visitor = '198.51.100.70';
    // What four <img> tags on evil.example make a visitor's browser send to this site.
    for (const path of ['/.env', '/.git/config', '/wp-login.php', '/backup.sql']) h.request(visitor, path, { status: 403, crossSite: true, referer: 'https://evil.example/' });
    assert.deepEqual(h.decisions.map((d) => [d.decision.kind, d.decision.value, d.decision.origin]), [['challenge', visitor, 'scenario:sensitive-file-probe']]);
    assert.match(h.decisions[0]!.decision.reason, /another site's page .*a challenge, not a ban/);
    // Twenty-one distinct 404 images: the same.
    for (let i = 0; i <= 20; i++) h.request('198.51.100.71', `/missing-${i}.php`, { status: 404, crossSite: true });
    assert.deepEqual(h.decisions.slice(1).map((d) => [d.decision.kind, d.decision.origin]), [['challenge', 'scenario:http-4xx-scan']]);
    // The visitor's own probes still fill the banning bucket, apart from what was sent for others.
    for (const path of ['/.env', '/.git/config', '/wp-login.php']) h.request(visitor, path, { status: 404 });
    assert.equal(h.decisions.length, 2, 'three own probes: under the capacity, whatever came cross-site before');
    h.request(visitor, '/.aws/credentials', { status: 404 });
    assert.deepEqual(h.decisions.slice(2).map((d) => [d.decision.kind, d.decision.value]), [['ban', visitor]]);
  });

  it('bad-user-agent: a scanner announcing itself is banned on its second request', () => {
    const h = harness();
    h.request('192.0.2.77', '/', { userAgent: 'sqlmap/1.7.2#stable (https://sqlmap.org)' });
    assert.equal(h.decisions.length, 0);
    h.request('192.0.2.77', '/?id=1', { userAgent: 'sqlmap/1.7.2#stable (https://sqlmap.org)' });
    assert.equal(h.decisions.length, 1);
    assert.equal(h.decisions[0]!.decision.origin, 'scenario:bad-user-agent');
    assert.equal(h.decisions[0]!.decision.expiresAt, h.decisions[0]!.at + 24 * HOUR);
  });

  it('bad-user-agent: a scanner between browsers is still counted (the last clean User-Agent remembered hides nothing)', () => {
    const h = harness();
    for (let i = 0; i < 2; i++) {
      h.request('198.51.100.1', '/', { userAgent: BROWSER });
      h.request('192.0.2.78', '/', { userAgent: 'Mozilla/5.0 (compatible; Nuclei)' });
      h.request('198.51.100.1', '/', { userAgent: BROWSER });
    }
    assert.deepEqual(h.decisions.map((d) => [d.decision.origin, d.decision.value]), [['scenario:bad-user-agent', '192.0.2.78']]);
  });

  it('aggressive-crawl: 10 page requests a second is challenged within about a minute; its assets do not count', () => {
    const h = harness();
    let pages = 0;
    while (h.decisions.length === 0 && pages < 2000) {
      h.request('203.0.113.80', `/catalog/item/${pages++}`);
      // Assets between pages must not change when it fires.
      h.request('203.0.113.80', `/static/thumb-${pages}.jpg`);
      h.clock.advance(100);
    }
    // Net +5 a second past 300: fires after about 60 s, 600 pages.
    assert.ok(pages > 300 && pages <= 620, `fired after ${pages} pages`);
    assert.equal(h.decisions.length, 1);
    assert.equal(h.decisions[0]!.decision.kind, 'challenge');
    assert.equal(h.decisions[0]!.decision.origin, 'scenario:aggressive-crawl');
    assert.equal(h.decisions[0]!.decision.expiresAt, h.decisions[0]!.at + HOUR);
  });

  it('login-bruteforce-ip: the 11th failed sign-in within minutes bans the address for an hour', () => {
    const h = harness();
    for (let i = 0; i < 10; i++) {
      h.loginFailed('198.51.100.9', i % 2 ? 'admin' : `user${i}`);
      h.clock.advance(2 * SECOND);
    }
    assert.equal(h.decisions.length, 0);
    h.loginFailed('198.51.100.9', 'root');
    assert.equal(h.decisions.length, 1);
    assert.deepEqual(h.decisions[0]!.decision, {
      kind: 'ban',
      scope: 'ip',
      value: '198.51.100.9',
      reason: 'more than 10 failed sign-ins from this client',
      origin: 'scenario:login-bruteforce-ip',
      expiresAt: h.decisions[0]!.at + HOUR,
    });
  });

  it('login-bruteforce-account: an attack on one account spread over addresses bans the addresses that kept trying', () => {
    const h = harness();
    const attackers = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5'];
    // One address of a password spray tries once; it is not banned (below the per-address minimum).
    h.loginFailed('192.0.2.200', 'alice');
    for (let round = 0; round < 5 && h.decisions.length === 0; round++) {
      for (const ip of attackers) {
        h.loginFailed(ip, 'alice');
        h.clock.advance(SECOND);
      }
    }
    assert.deepEqual(h.decisions.map((d) => d.decision.value).sort(), attackers);
    for (const { decision } of h.decisions) {
      assert.equal(decision.origin, 'scenario:login-bruteforce-account');
      assert.equal(decision.kind, 'ban');
      assert.match(decision.reason, /^more than 20 failed sign-ins against one account; [45] from this client$/);
      assert.doesNotMatch(decision.reason, /alice/, 'the login is not stored in the reason');
    }
    assert.ok(!h.decisions.some((d) => d.decision.origin === 'scenario:login-bruteforce-ip'), 'no address alone crossed its own threshold');
  });

  it('security: login-bruteforce-account cannot be steered onto the account\'s owner: old typos leak away, and attempts the throttle refused are not held against a client', () => {
    const h = harness();
    const alice = '198.51.100.7';
    const throwaway = ['203.0.113.21', '203.0.113.22', '203.0.113.23', '203.0.113.24'];
    // For 36 hours an attacker keeps alice's bucket from draining, one attempt a minute over
    // four addresses; alice mistypes her password once every 12 hours.
    for (let minute = 0; minute <= 36 * 60; minute++) {
      h.events.emit('auth.login_failed', { login: 'alice', userId: 'id-alice', clientIp: throwaway[minute % 4]!, reason: 'throttled' } satisfies LoginEvent);
      if (minute % (12 * 60) === 0) h.loginFailed(alice, 'alice');
      h.clock.advance(MINUTE);
    }
    // Locked out by the attack, she tries four more times in two minutes: the throttle refuses each.
    for (let i = 0; i < 4; i++) {
      h.events.emit('auth.login_failed', { login: 'alice', userId: 'id-alice', clientIp: alice, reason: 'throttled' } satisfies LoginEvent);
      h.clock.advance(30 * SECOND);
    }
    // Then the attacker overflows the bucket.
    for (let i = 0; i < 25; i++) h.events.emit('auth.login_failed', { login: 'alice', userId: 'id-alice', clientIp: throwaway[i % 4]!, reason: 'throttled' } satisfies LoginEvent);
    assert.ok(!h.decisions.some((d) => d.decision.value === alice), JSON.stringify(h.decisions.map((d) => d.decision.value)));
  });
});

describe('slow-scraper replays', () => {
  /** Steps, and a replay of them with human visitors on the site the whole time. */
  function scene(settings: Partial<ScenarioSettings> = {}, options: { logger?: Logger } = {}) {
    const h = harness(settings, options);
    const steps: Step[] = [];
    const at = (ms: number, run: () => void) => steps.push({ at: START + ms, run });
    return { h, at, play: (until: number) => (visitors(h, at, until), replay(h.clock, steps)) };
  }
  const CRAWLER = '203.0.113.44';
  const BEGIN = START + 5 * MINUTE;

  it('0.5 requests a second (no assets, cookies or referers, fixed gaps) is challenged for 24 h within 30 minutes: after ~10 minutes', () => {
    const { h, at, play } = scene();
    crawling(h, at, { ips: [CRAWLER], start: BEGIN, rate: 0.5, end: BEGIN + HOUR, stopsWhenRefused: true });
    play(2 * HOUR);
    const [first, ...rest] = slowScraperDecisions(h);
    assert.ok(first, 'challenged');
    assert.deepEqual(rest, [], 'once: then it got challenge pages and stopped');
    const minutes = (first.at - BEGIN) / MINUTE;
    // ~300 distinct pages at 2 s each.
    assert.ok(minutes >= 9 && minutes <= 11, `challenged after ${minutes.toFixed(1)} min`);
    const { decision } = first;
    assert.equal(decision.kind, 'challenge');
    assert.equal(decision.scope, 'ip');
    assert.equal(decision.value, CRAWLER);
    assert.equal(decision.expiresAt, first.at + 24 * HOUR);
    assert.match(decision.reason, /^slow crawl: ~\d+ distinct pages in 10 min \(0\.50 a second\); no assets \(0 for \d+ pages\), no cookies kept \(0 of \d+ pages sent any\), referers not from pages it fetched \(0 of \d+\), 100% of pages nobody else asked for lately, regular timing \(gaps vary 0%\)$/);
    assert.deepEqual(h.decisions.map((d) => d.decision.value), [CRAWLER], 'no visitor was decided on');
    assert.equal(h.engine.fired.get('slow-scraper'), 1);
  });

  it('0.2 requests a second with synthetic referers is challenged within 30 minutes: after ~25 minutes', () => {
    const { h, at, play } = scene();
    crawling(h, at, { ips: [CRAWLER], start: BEGIN, rate: 0.2, end: BEGIN + 2 * HOUR, referer: 'synthetic', stopsWhenRefused: true });
    play(3 * HOUR);
    const decided = slowScraperDecisions(h);
    assert.equal(decided.length, 1);
    const minutes = (decided[0]!.at - BEGIN) / MINUTE;
    assert.ok(minutes >= 23 && minutes <= 27, `challenged after ${minutes.toFixed(1)} min`);
    assert.match(decided[0]!.decision.reason, /referers not from pages it fetched \(0 of/);
  });

  it('jittered timing: gaps uniform within +/-50 % still count as regular; random (Poisson) gaps do not, and the other four signals still catch it', () => {
    for (const timing of ['uniform', 'poisson'] as const) {
      const { h, at, play } = scene();
      crawling(h, at, { ips: [CRAWLER], start: BEGIN, rate: 0.5, end: BEGIN + HOUR, timing, stopsWhenRefused: true });
      play(90 * MINUTE);
      const decided = slowScraperDecisions(h);
      assert.equal(decided.length, 1, timing);
      const minutes = (decided[0]!.at - BEGIN) / MINUTE;
      assert.ok(minutes <= 12, `${timing}: after ${minutes.toFixed(1)} min`);
      if (timing === 'uniform') assert.match(decided[0]!.decision.reason, /regular timing \(gaps vary (2|3|4)\d%\)/);
      else assert.doesNotMatch(decided[0]!.decision.reason, /regular timing/);
    }
  });

  it('a crawler whose Referer is always the page it fetched just before is still caught by its other signals', () => {
    const { h, at, play } = scene();
    crawling(h, at, { ips: [CRAWLER], start: BEGIN, rate: 0.5, end: BEGIN + HOUR, referer: 'previous', stopsWhenRefused: true });
    play(90 * MINUTE);
    const decided = slowScraperDecisions(h);
    assert.equal(decided.length, 1);
    assert.doesNotMatch(decided[0]!.decision.reason, /referers/, 'its referers do follow its own pages');
    assert.match(decided[0]!.decision.reason, /no assets.*no cookies kept.*nobody else.*regular timing/);
  });

  it('three addresses of one IPv6 /64 in turn: the /64 is challenged (scope range), and the gate then covers every address in it', () => {
    const { h, at, play } = scene();
    const rotating = ['2001:db8:7:7::a', '2001:db8:7:7:1:2:3:4', '2001:db8:7:7:ffff::1'];
    crawling(h, at, { ips: rotating, start: BEGIN, rate: 0.5, end: BEGIN + HOUR, stopsWhenRefused: true });
    play(90 * MINUTE);
    const decided = slowScraperDecisions(h);
    assert.equal(decided.length, 1);
    assert.equal(decided[0]!.decision.scope, 'range');
    assert.equal(decided[0]!.decision.value, '2001:db8:7:7::/64');
    assert.ok((decided[0]!.at - BEGIN) / MINUTE <= 11);
    for (const ip of [...rotating, '2001:db8:7:7::beef']) assert.equal(h.index.match(ip)?.origin, 'scenario:slow-scraper', ip);
    assert.equal(h.index.match('2001:db8:7:8::a'), null, 'the next /64 is not covered');
  });

  it('spread over three IPv4 addresses at 0.2-0.3 a second each: each address is challenged on its own, within ~17-25 minutes', () => {
    const { h, at, play } = scene();
    const ips = ['203.0.113.61', '203.0.113.62', '203.0.113.63'];
    ips.forEach((ip, i) => crawling(h, at, { ips: [ip], start: BEGIN, rate: [0.2, 0.25, 0.3][i]!, end: BEGIN + 2 * HOUR, seed: i, prefix: `/catalog/${i}/item`, stopsWhenRefused: true }));
    play(150 * MINUTE);
    const decided = slowScraperDecisions(h);
    assert.deepEqual(decided.map((d) => d.decision.value).sort(), ips);
    for (const d of decided) {
      const minutes = (d.at - BEGIN) / MINUTE;
      assert.ok(minutes >= 15 && minutes <= 27, `${d.decision.value} after ${minutes.toFixed(1)} min`);
    }
  });

  it('spread over twelve IPv4 addresses at 0.05 a second each (0.6 in all): no address reaches 300 pages an hour, nothing is decided (a limit)', () => {
    const { h, at, play } = scene();
    const ips = Array.from({ length: 12 }, (_, i) => `203.0.113.${70 + i}`);
    ips.forEach((ip, i) => crawling(h, at, { ips: [ip], start: BEGIN, rate: 0.05, end: BEGIN + 3 * HOUR, seed: i, prefix: `/catalog/${i}/item` }));
    play(3 * HOUR);
    assert.deepEqual(h.decisions, []);
  });

  it('firing again escalates to a ban: after passing the challenge and crawling on, or after the challenge ran out', () => {
    // A headless browser solves the proof of work and goes on crawling with its clearance.
    const solver = scene();
    crawling(solver.h, solver.at, { ips: [CRAWLER], start: BEGIN, rate: 0.5, end: BEGIN + HOUR, solves: true, stopsWhenRefused: true });
    solver.play(90 * MINUTE);
    const [challenged, banned, ...more] = slowScraperDecisions(solver.h);
    assert.equal(challenged?.decision.kind, 'challenge');
    assert.equal(banned?.decision.kind, 'ban');
    assert.deepEqual(more, []);
    assert.equal(banned.decision.expiresAt, banned.at + 24 * HOUR);
    assert.match(banned.decision.reason, /^again after a challenge \(firing 2\): slow crawl: /);
    const minutes = (banned.at - challenged.at) / MINUTE;
    assert.ok(minutes >= 9 && minutes <= 11, `banned ${minutes.toFixed(1)} min after the challenge`);
    assert.equal(solver.h.engine.fired.get('slow-scraper'), 2);

    // A polite crawler stops when challenged and comes back the next day, after its challenge ran out.
    const returning = scene();
    crawling(returning.h, returning.at, { ips: [CRAWLER], start: BEGIN, rate: 0.5, end: BEGIN + HOUR, stopsWhenRefused: true });
    const tomorrow = BEGIN + 25 * HOUR;
    crawling(returning.h, returning.at, { ips: [CRAWLER], start: tomorrow, rate: 0.5, end: tomorrow + HOUR, stopsWhenRefused: true, prefix: '/catalog/again' });
    returning.play(tomorrow + 2 * HOUR - START);
    assert.deepEqual(slowScraperDecisions(returning.h).map((d) => d.decision.kind), ['challenge', 'ban']);
  });

  it('a challenged crawler that cannot solve it and keeps going stays challenged: its challenge pages count for no scenario', () => {
    const { h, at, play } = scene();
    crawling(h, at, { ips: [CRAWLER], start: BEGIN, rate: 0.5, end: BEGIN + HOUR });
    play(90 * MINUTE);
    // Without the `challenged` mark its 403s on distinct paths made http-4xx-scan ban it
    // within a minute: "a challenge, not a ban, first".
    assert.deepEqual(h.decisions.map((d) => d.decision.origin), ['scenario:slow-scraper']);
    assert.equal(h.decisions[0]!.decision.kind, 'challenge');
  });

  it('never on an allowed address or range (a search engine); simulate logs the challenge and decides nothing', () => {
    const allowed = scene({ neverBan: ['203.0.113.0/24', '2001:db8:7::/48'] });
    crawling(allowed.h, allowed.at, { ips: [CRAWLER], start: BEGIN, rate: 0.5, end: BEGIN + HOUR });
    crawling(allowed.h, allowed.at, { ips: ['2001:db8:7:7::a', '2001:db8:7:7::b'], start: BEGIN, rate: 0.5, end: BEGIN + HOUR, prefix: '/v6/item' });
    allowed.play(90 * MINUTE);
    assert.deepEqual(allowed.h.decisions, []);

    const { logger, lines } = recordingLogger();
    const simulated = scene({ simulate: true }, { logger });
    crawling(simulated.h, simulated.at, { ips: ['2001:db8:7:7::a'], start: BEGIN, rate: 0.5, end: BEGIN + 15 * MINUTE });
    simulated.play(30 * MINUTE);
    assert.deepEqual(simulated.h.decisions, []);
    const logged = lines.filter((l) => l.msg === 'guard scenario would decide (simulate)');
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.scenario, 'slow-scraper');
    assert.equal(logged[0]!.clientIp, '2001:db8:7:7::/64');
    assert.equal(logged[0]!.decision, 'challenge');
  });
});

describe('batched evaluation (what main.ts runs)', () => {
  it('a finished request is decided on in the next turn of the loop; a burst is not held back; detaching drops what waits', async () => {
    const events = new EventBus();
    const clock = new ManualClock(START);
    const decisions: NewDecision[] = [];
    const engine = createScenarioEngine({ events, clock, logger: silentLogger(), decide: (d) => void decisions.push(d), batch: true });
    engine.configure({ neverBan: [], simulate: false });
    const probe = (ip: string, path: string) =>
      events.emit('http.request_done', { site: 'example.com', method: 'GET', host: 'example.com', path, status: 404, clientIp: ip, userAgent: 'sqlmap/1.7', referer: '', hasCookies: false, challenged: false, crossSite: false });
    // bad-user-agent holds one event; the second fires.
    probe('192.0.2.1', '/x');
    probe('192.0.2.1', '/y');
    assert.equal(decisions.length, 0, 'not inside emit()');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(decisions.map((d) => [d.value, d.origin]), [['192.0.2.1', 'scenario:bad-user-agent']]);

    // 1024 finished requests in one turn are evaluated as the 1024th arrives: each of the 200
    // addresses sent five or more, so each fired once (then its bucket is blackholed).
    for (let i = 0; i < 1024; i++) probe(`198.51.100.${i % 200}`, `/p${i}`);
    assert.equal(decisions.length, 201, 'decided before the turn ended');

    const before = decisions.length;
    probe('203.0.113.9', '/y');
    engine.configure(null);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(decisions.length, before, 'detached: nothing pending is decided');
  });
});

describe('batched evaluation: a scenario that throws', () => {
  it('is logged; the other events of its batch are still evaluated, each once, and the process is not taken down', async () => {
    const events = new EventBus();
    const clock = new ManualClock(START);
    const { logger, lines } = recordingLogger('info');
    const seen: string[] = [];
    const scenarios = [
      {
        ...BUILTIN_SCENARIOS.find((s) => s.name === 'bad-user-agent')!,
        matches: (e: RequestDoneEvent) => {
          seen.push(e.path);
          if (e.path === '/boom') throw new Error('scenario bug');
          return false;
        },
      },
    ];
    const engine = createScenarioEngine({ events, clock, logger, decide: () => undefined, scenarios: scenarios as never, batch: true });
    engine.configure({ neverBan: [], simulate: false });
    const done = (path: string) =>
      events.emit('http.request_done', { site: 'example.com', method: 'GET', host: 'example.com', path, status: 200, clientIp: '192.0.2.1', userAgent: BROWSER, referer: '', hasCookies: true, challenged: false, crossSite: false });
    done('/a');
    done('/boom');
    done('/b');
    await new Promise((resolve) => setImmediate(resolve));
    done('/c');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['/a', '/boom', '/b', '/c']);
    assert.ok(lines.some((l) => l.msg === 'guard scenario evaluation failed'));
    engine.configure(null);
  });
});

describe('ordinary browsing is never decided on', () => {
  it('over four hours: a reader, an office of 20 behind one address, a user opening 30 tabs, a single-page app, feed readers, monitoring and a mistyped password: no decision', () => {
    const h = harness();
    const steps: Step[] = [];
    const at = (ms: number, run: () => void) => steps.push({ at: START + ms, run });
    const HOURS = 4 * HOUR;

    // A human reading 30 pages over 20 minutes, following links, each page with its images;
    // the browser's favicon and touch icons miss, and so do a few links.
    const reader = '198.51.100.20';
    const readerRng = random(1);
    reading(h, at, { ip: reader, start: START, end: START + 20 * MINUTE, rng: readerRng, page: (n) => `/articles/${n}` });
    for (const [i, path] of ['/favicon.ico', '/apple-touch-icon.png', '/apple-touch-icon-precomposed.png'].entries()) at(120 + i * 10, () => h.request(reader, path, { status: 404 }));
    for (const [i, path] of ['/robots.txt', '/articles/old-post', '/site.webmanifest', '/articles/typo'].entries()) {
      at(i * 5 * MINUTE + 300, () => h.request(reader, path, { status: 404, hasCookies: true }));
    }

    // An office of 20 people behind one NAT address, each reading the wiki all morning (a page
    // every ~40 s, some much longer), half of it pages nobody else reads, with a lunch break;
    // each mistypes their password once.
    const office = '192.0.2.10';
    let officePages = 0;
    for (let person = 0; person < 20; person++) {
      const rng = random(100 + person);
      const page = (n: number) => (rng() < 0.4 ? `/wiki/Popular_${Math.floor(rng() * rng() * 50)}` : `/wiki/${person}/${n}`);
      const ua = `${BROWSER} person-${person}`;
      const lunch = START + 2 * HOUR + Math.floor(rng() * 30) * MINUTE;
      officePages += reading(h, at, { ip: office, start: START + person * 20 * SECOND, end: lunch, rng, page, userAgent: ua });
      officePages += reading(h, at, { ip: office, start: lunch + 45 * MINUTE, end: START + HOURS, rng, page: (n) => page(n + 10_000), userAgent: ua });
      at(person * MINUTE, () => h.loginFailed(office, `person${person}`));
    }

    // Someone opening 30 articles from a listing in tabs within seconds, reading them, twice.
    const tabs = '198.51.100.40';
    for (const [round, begin] of [HOUR, 3 * HOUR].entries()) {
      at(begin, () => h.request(tabs, '/news', { hasCookies: round > 0 }));
      for (let i = 0; i < 30; i++) {
        const path = `/news/${round}/story-${i}`;
        at(begin + 2 * SECOND + i * 300, () => h.request(tabs, path, { referer: `${ORIGIN}/news`, hasCookies: true }));
        at(begin + 2 * SECOND + i * 300 + 80, () => h.request(tabs, `/images${path}.jpg`, { referer: `${ORIGIN}${path}`, hasCookies: true }));
      }
    }

    // A single-page app: a burst of API calls on load, then three polls every 5 s for four
    // hours, a 401 when its token expires, a few 404s for items deleted meanwhile.
    const spa = '198.51.100.30';
    const api = { referer: `${ORIGIN}/app`, hasCookies: true };
    at(0, () => h.request(spa, '/app'));
    for (let i = 0; i < 25; i++) at(100 + i, () => h.request(spa, `/api/items/${i}`, api));
    for (let tick = 0; tick < HOURS / (5 * SECOND); tick++) {
      const t = 1000 + tick * 5 * SECOND;
      at(t, () => h.request(spa, '/api/notifications', api));
      at(t + 5, () => h.request(spa, '/api/feed', api));
      at(t + 10, () => h.request(spa, '/api/presence', { ...api, method: 'POST', status: 204 }));
      if (tick % 60 === 59) at(t + 20, () => h.request(spa, '/api/session', { ...api, status: 401 }));
      if (tick % 72 === 0) at(t + 30, () => h.request(spa, `/api/items/deleted-${tick}`, { ...api, status: 404 }));
    }

    // Feed readers: one polls the site's feed every 15 minutes, a podcast app its feed every 5.
    for (let t = 0; t < HOURS; t += 15 * MINUTE) at(t + 7 * SECOND, () => h.request('203.0.113.50', '/feed.xml', { status: t === 0 ? 200 : 304, userAgent: 'FreshRSS/1.24.0' }));
    for (let t = 0; t < HOURS; t += 5 * MINUTE) at(t + 11 * SECOND, () => h.request('203.0.113.51', '/podcast.rss', { status: 304, userAgent: 'AntennaPod/3.4' }));

    // Monitoring: a health path every 10 s, the home page and a status page every minute.
    for (let t = 0; t < HOURS; t += 10 * SECOND) at(t + 3, () => h.request('192.0.2.99', '/healthz', { userAgent: 'Go-http-client/1.1' }));
    for (let t = 0; t < HOURS; t += MINUTE) {
      at(t + 4, () => h.request('192.0.2.98', '/', { userAgent: 'Uptime-Kuma/1.23' }));
      at(t + 5, () => h.request('192.0.2.98', '/status', { userAgent: 'Uptime-Kuma/1.23' }));
    }

    // Someone mistypes their password once, then signs in.
    const user = '203.0.113.200';
    at(3 * MINUTE, () => h.loginFailed(user, 'alice'));
    at(3 * MINUTE + 8 * SECOND, () => h.events.emit('auth.login_succeeded', { login: 'alice', userId: 'id-alice', clientIp: user }));

    // The margin: the same events through detectors that need fewer signals.
    const margins = [1, 2].map((minSignals) => {
      const detector = createSlowScraperDetector({ clock: h.clock, minSignals });
      const firings: Firing[] = [];
      h.events.on('http.request_done', (e) => {
        const firing = detector.observe(e);
        if (firing !== null) firings.push(firing);
      });
      return firings;
    });

    replay(h.clock, steps);
    assert.ok(officePages > 3000, `the office read ${officePages} pages`);
    assert.ok(steps.length > 15_000, `replayed ${steps.length} events`);
    assert.deepEqual(h.decisions, []);
    assert.equal(h.engine.fired.size, 0);
    // Two signals short: the office passes the page minimum, and of the five signals only its
    // rarely read pages hold (assets, cookies, followed links and human timing all speak for it).
    const [one, two] = margins;
    assert.deepEqual(two, []);
    assert.ok(one!.length > 0);
    for (const firing of one!) {
      assert.equal(firing.key, office);
      assert.match(firing.reason, /^slow crawl: ~\d+ distinct pages in \d+ min \([\d.]+ a second\); \d+% of pages nobody else asked for lately$/);
    }
  });

  it('a monitoring probe hitting a health path every 10 s for a day: no decision', () => {
    const h = harness();
    for (let i = 0; i < 8640; i++) {
      h.request('192.0.2.99', '/healthz', { userAgent: 'Go-http-client/1.1' });
      h.clock.advance(10 * SECOND);
    }
    assert.deepEqual(h.decisions, []);
  });
});

describe('scenario engine', () => {
  it('never decides on an allowed address, and still does on others', () => {
    const h = harness({ neverBan: ['192.0.2.0/24'] });
    for (let i = 0; i < 30; i++) {
      h.request('192.0.2.5', `/x${i}`, { status: 404 });
      h.request('198.51.100.5', `/x${i}`, { status: 404 });
    }
    assert.deepEqual(h.decisions.map((d) => d.decision.value), ['198.51.100.5']);
  });

  it('simulate logs what would be decided and decides nothing', () => {
    const { logger, lines } = recordingLogger();
    const h = harness({ simulate: true }, { logger });
    for (let i = 0; i < 25; i++) h.request('203.0.113.5', `/x${i}`, { status: 404 });
    assert.deepEqual(h.decisions, []);
    const simulated = lines.filter((l) => l.msg === 'guard scenario would decide (simulate)');
    assert.equal(simulated.length, 1);
    assert.equal(simulated[0]!.scenario, 'http-4xx-scan');
    assert.equal(simulated[0]!.clientIp, '203.0.113.5');
    assert.equal(simulated[0]!.decision, 'ban');
    assert.equal(h.engine.fired.get('http-4xx-scan'), 1);
  });

  it('one attack, one decision: the blackhole holds while the banned client keeps sending', () => {
    const h = harness();
    for (let i = 0; i < 400; i++) {
      h.request('203.0.113.5', `/scan/${i}`, { status: i < 21 ? 404 : 403 });
      h.clock.advance(1000);
    }
    assert.deepEqual(h.decisions.map((d) => d.decision.origin), ['scenario:http-4xx-scan']);
  });

  it('decides on the client as the store spells it (IPv4-mapped IPv6 as IPv4, an IPv6 /64 compressed, scope range), and ignores a non-address', () => {
    const h = harness();
    for (let i = 0; i < 2; i++) h.request('::ffff:203.0.113.9', '/', { userAgent: 'Nuclei - Open-source project (github.com/projectdiscovery/nuclei)' });
    for (let i = 0; i < 2; i++) h.request('2001:DB8:0:0::1', '/', { userAgent: 'Mozilla/5.0 zgrab/0.x' });
    for (let i = 0; i < 2; i++) h.request('', '/', { userAgent: 'nikto' });
    assert.deepEqual(h.decisions.map((d) => [d.decision.value, d.decision.scope]), [['203.0.113.9', 'ip'], ['2001:db8::/64', 'range']]);
  });

  it('security: an IPv6 scanner rotating its address inside its /64 is one client to every scenario, and the /64 is banned', () => {
    const h = harness();
    const inside = (i: number): string => `2001:db8:5:5:${((i * 7919) % 65536 || 1).toString(16)}::${(i + 1).toString(16)}`;
    for (let i = 0; i < 21; i++) h.request(inside(i), `/scan/${i}`, { status: 404 });
    assert.deepEqual(h.decisions.map((d) => [d.decision.origin, d.decision.value, d.decision.scope]), [['scenario:http-4xx-scan', '2001:db8:5:5::/64', 'range']]);
    for (const ip of [inside(0), inside(20), '2001:db8:5:5::beef']) assert.equal(h.index.match(ip)?.origin, 'scenario:http-4xx-scan', ip);
    assert.equal(h.index.match('2001:db8:5:6::1'), null, 'the next /64 is not covered');

    const logins = harness();
    for (let i = 0; i < 11; i++) logins.loginFailed(inside(i), 'alice');
    assert.deepEqual(logins.decisions.map((d) => [d.decision.origin, d.decision.value]), [['scenario:login-bruteforce-ip', '2001:db8:5:5::/64']]);

    const crawl = harness();
    for (let i = 0; i < 400; i++) {
      crawl.request(inside(i % 50), `/page/${i}`);
      crawl.clock.advance(50);
    }
    assert.deepEqual(crawl.decisions.map((d) => [d.decision.origin, d.decision.value]), [['scenario:aggressive-crawl', '2001:db8:5:5::/64']]);
  });

  it('security: an allowed IPv6 address never gets its /64 decided on, by the request or the sign-in scenarios', () => {
    const allowedHost = '2001:db8:5:5::10';
    const h = harness({ neverBan: [allowedHost] });
    for (let i = 0; i < 25; i++) h.loginFailed(allowedHost, 'alice');
    for (let i = 0; i < 2; i++) h.request(allowedHost, '/', { userAgent: 'sqlmap/1.7' });
    assert.equal(h.decisions.length, 0);
    // A scanner sharing the allowed host's /64 is decided on alone, so the decision cannot cover the allowed host.
    for (let i = 0; i < 2; i++) h.request('2001:db8:5:5::66', '/', { userAgent: 'sqlmap/1.7' });
    assert.deepEqual(h.decisions.map((d) => [d.decision.value, d.decision.scope]), [['2001:db8:5:5::66', 'ip']]);
    assert.equal(h.index.match(allowedHost), null);
    // Another /64 with nothing allowed in it is decided on whole.
    for (let i = 0; i < 2; i++) h.request('2001:db8:5:6::66', '/', { userAgent: 'sqlmap/1.7' });
    assert.deepEqual(h.decisions[1]!.decision.value, '2001:db8:5:6::/64');
  });

  it('failed sign-ins from something that is not an address still count against the account', () => {
    const h = harness();
    for (let i = 0; i < 7; i++) {
      h.loginFailed('192.0.2.31', 'alice');
      h.loginFailed('192.0.2.32', 'alice');
      h.loginFailed('', 'alice');
    }
    assert.deepEqual(h.decisions.map((d) => [d.decision.origin, d.decision.value]).sort(), [
      ['scenario:login-bruteforce-account', '192.0.2.31'],
      ['scenario:login-bruteforce-account', '192.0.2.32'],
    ]);
  });

  it('an allowed address inside a /64 keeps the /64 from being decided on', () => {
    const h = harness({ neverBan: ['2001:db8:5:5::/64'] });
    for (let i = 0; i < 30; i++) h.request(`2001:db8:5:5::${i + 1}`, `/scan/${i}`, { status: 404 });
    assert.deepEqual(h.decisions, []);
  });

  it('memory stays bounded under random addresses, and the attacker among them is still banned', () => {
    const h = harness({}, { maxKeys: 2000 });
    for (let i = 0; i < 30_000; i++) {
      const random = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      h.request(random, `/p${i}`, { status: 404, userAgent: i % 7 ? BROWSER : 'masscan/1.3' });
      h.loginFailed(random, `u${i}`);
      if (i % 100 === 0) h.request('203.0.113.5', `/probe-${i}`, { status: 404 });
      h.clock.advance(5);
    }
    // Each scenario's buckets and the slow-scraper detector (one of the scenarios) hold at most 2000 keys each.
    assert.ok(h.engine.keyCount() <= 2000 * BUILTIN_SCENARIOS.length, `held ${h.engine.keyCount()} keys`);
    assert.ok(h.decisions.some((d) => d.decision.value === '203.0.113.5' && d.decision.origin === 'scenario:http-4xx-scan'));
  });

  it('configure(null) stops listening; configuring twice listens once', () => {
    const h = harness();
    h.engine.configure({ neverBan: [], simulate: false });
    for (let i = 0; i < 2; i++) h.request('192.0.2.8', '/', { userAgent: 'sqlmap' });
    assert.equal(h.decisions.length, 1);
    h.engine.configure(null);
    assert.equal(h.events.has('http.request_done'), false);
    assert.equal(h.events.has('auth.login_failed'), false);
    for (let i = 0; i < 5; i++) h.request('192.0.2.9', '/', { userAgent: 'sqlmap' });
    assert.equal(h.decisions.length, 1);
  });

  it('a bad allow range is refused and leaves the previous settings in force', () => {
    const h = harness({ neverBan: ['192.0.2.0/24'] });
    assert.throws(() => h.engine.configure({ neverBan: ['not-an-address'], simulate: false }), { code: 'ERR_CONFIG_INVALID' });
    for (let i = 0; i < 2; i++) h.request('192.0.2.8', '/', { userAgent: 'sqlmap' });
    assert.deepEqual(h.decisions, []);
  });

  it('a store that fails is logged, never thrown into the emitter', async () => {
    const { logger, lines } = recordingLogger();
    const h = harness({}, { logger, decide: () => Promise.reject(new Error('database is locked')) });
    for (let i = 0; i < 2; i++) h.request('192.0.2.8', '/', { userAgent: 'sqlmap' });
    await new Promise((r) => setImmediate(r));
    assert.ok(lines.some((l) => l.msg === 'guard scenario: storing the decision failed' && l.err === 'database is locked'));
  });
});

describe('scenario classifiers', () => {
  it('a scenario marked clientErrorsOnly (skipped by the engine outside 4xx) matches no other status', () => {
    const marked = BUILTIN_SCENARIOS.filter((s) => 'matches' in s && s.clientErrorsOnly === true);
    assert.deepEqual(marked.map((s) => s.name), ['http-4xx-scan', 'sensitive-file-probe']);
    const event = (status: number, path: string): RequestDoneEvent => ({ site: 's', method: 'GET', host: 'example.com', path, status, clientIp: '203.0.113.5', userAgent: BROWSER, referer: '', hasCookies: false, challenged: false, crossSite: false });
    for (const s of marked) {
      if (!('matches' in s)) continue;
      assert.ok(s.matches(event(404, '/.env')), `${s.name} matches a 404 on /.env`);
      for (const status of [100, 200, 204, 301, 304, 399, 500, 502, 503]) {
        for (const path of ['/.env', '/wp-login.php', '/backup.sql', '/missing/page']) assert.ok(!s.matches(event(status, path)), `${s.name}: ${status} ${path}`);
      }
    }
  });

  it('static paths', () => {
    for (const p of ['/a.css', '/x/y.JS', '/i.png', '/f.woff2', '/favicon.ico', '/m.svg', '/b.jpeg']) assert.ok(isStaticPath(p), p);
    for (const p of ['/', '/api/items', '/page.html', '/x.php', '/css', '/a.css/more']) assert.ok(!isStaticPath(p), p);
  });

  it('sensitive paths', () => {
    for (const p of ['/.env', '/.env.production', '/.git/config', '/wp-login.php', '/blog/wp-admin/', '/phpmyadmin/', '/backup.sql', '/db.sqlite', '/actuator/env', '/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php', '/.DS_Store']) {
      assert.ok(isSensitivePath(p), p);
    }
    for (const p of ['/', '/environment', '/gitlab', '/articles/git-tips', '/wp-content/uploads/a.jpg', '/settings']) assert.ok(!isSensitivePath(p), p);
  });

  it('scanner user agents, not generic clients', () => {
    for (const ua of ['sqlmap/1.7', 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)', 'Fuzz Faster U Fool v2.1.0 ffuf', 'WPScan v3.8.25']) assert.ok(isScannerUserAgent(ua), ua);
    for (const ua of [BROWSER, 'curl/8.5.0', 'python-requests/2.31', 'Go-http-client/1.1', 'Googlebot/2.1']) assert.ok(!isScannerUserAgent(ua), ua);
  });
});
