/**
 * Replays through the scenario engine on a ManualClock: each attack gets a decision from the
 * scenario made for it, within that scenario's threshold; ordinary browsing (a reader with
 * their assets, an office behind one address, a busy single-page app, a mistyped password)
 * never gets one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ManualClock } from '../../kernel/clock.ts';
import { EventBus, type LoginEvent, type RequestDoneEvent } from '../../kernel/events.ts';
import { silentLogger, type Logger } from '../../kernel/logger.ts';
import type { NewDecision } from '../../store/index.ts';
import { createScenarioEngine, type ScenarioSettings } from './engine.ts';
import { BUILTIN_SCENARIOS, isScannerUserAgent, isSensitivePath, isStaticPath } from './scenarios.ts';

const START = 1_700_000_000_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

function harness(settings: Partial<ScenarioSettings> = {}, options: { logger?: Logger; maxKeys?: number; decide?: (d: NewDecision) => Promise<unknown> } = {}) {
  const events = new EventBus();
  const clock = new ManualClock(START);
  const decisions: { at: number; decision: NewDecision }[] = [];
  const engine = createScenarioEngine({
    events,
    clock,
    logger: options.logger ?? silentLogger(),
    decide: options.decide ?? ((decision) => void decisions.push({ at: clock.now(), decision })),
    ...(options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys }),
  });
  engine.configure({ neverBan: [], simulate: false, ...settings });
  /** One request, answered. */
  const request = (clientIp: string, path: string, extra: Partial<RequestDoneEvent> = {}): void =>
    events.emit('http.request_done', { site: 'example.com', method: 'GET', host: 'example.com', path, status: 200, clientIp, userAgent: BROWSER, referer: '', hasCookies: false, durationMs: 12, bytesSent: 1234, ...extra });
  const loginFailed = (clientIp: string, login: string): void =>
    events.emit('auth.login_failed', { login, userId: login === 'nobody' ? null : `id-${login}`, clientIp, reason: 'credentials' } satisfies LoginEvent);
  return { events, clock, engine, decisions, request, loginFailed };
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

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
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

  it('bad-user-agent: a scanner announcing itself is banned on its second request', () => {
    const h = harness();
    h.request('192.0.2.77', '/', { userAgent: 'sqlmap/1.7.2#stable (https://sqlmap.org)' });
    assert.equal(h.decisions.length, 0);
    h.request('192.0.2.77', '/?id=1', { userAgent: 'sqlmap/1.7.2#stable (https://sqlmap.org)' });
    assert.equal(h.decisions.length, 1);
    assert.equal(h.decisions[0]!.decision.origin, 'scenario:bad-user-agent');
    assert.equal(h.decisions[0]!.decision.expiresAt, h.decisions[0]!.at + 24 * HOUR);
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
      reason: 'more than 10 failed sign-ins from this address',
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
      assert.match(decision.reason, /^more than 20 failed sign-ins against one account; [45] from this address$/);
      assert.doesNotMatch(decision.reason, /alice/, 'the login is not stored in the reason');
    }
    assert.ok(!h.decisions.some((d) => d.decision.origin === 'scenario:login-bruteforce-ip'), 'no address alone crossed its own threshold');
  });
});

describe('ordinary browsing is never decided on', () => {
  it('a reader, an office behind one address, a busy single-page app and a mistyped password: no decision', () => {
    const h = harness();
    const steps: Step[] = [];
    const at = (ms: number, run: () => void) => steps.push({ at: START + ms, run });

    // A human reading 30 pages over 20 minutes, each with its assets; the browser's
    // favicon and touch icons miss, and so do a few links.
    const reader = '198.51.100.20';
    for (let page = 0; page < 30; page++) {
      const t = page * 40 * SECOND;
      at(t, () => h.request(reader, `/articles/${page}`));
      for (const [i, asset] of ['/static/app.css', '/static/app.js', `/images/hero-${page}.jpg`, '/fonts/inter.woff2', '/static/vendor.js'].entries()) {
        at(t + 50 + i * 10, () => h.request(reader, asset, { status: page === 0 ? 200 : 304 }));
      }
      if (page < 5) {
        at(t + 120, () => h.request(reader, '/favicon.ico', { status: 404 }));
        at(t + 130, () => h.request(reader, '/apple-touch-icon.png', { status: 404 }));
        at(t + 140, () => h.request(reader, '/apple-touch-icon-precomposed.png', { status: 404 }));
      }
    }
    for (const [i, path] of ['/robots.txt', '/articles/old-post', '/site.webmanifest', '/articles/typo'].entries()) {
      at(i * 5 * MINUTE + 300, () => h.request(reader, path, { status: 404 }));
    }

    // An office of 20 people behind one NAT address, each reading a page every 30 s, for 20 minutes.
    const office = '192.0.2.10';
    for (let person = 0; person < 20; person++) {
      for (let page = 0; page < 40; page++) {
        const t = page * 30 * SECOND + person * 1500;
        at(t, () => h.request(office, `/wiki/${person}/${page}`, { userAgent: `${BROWSER} person-${person}` }));
        at(t + 40, () => h.request(office, '/static/wiki.css', { status: 304 }));
      }
      // Each mistypes their password once, over the morning.
      at(person * MINUTE, () => h.loginFailed(office, `person${person}`));
    }

    // A single-page app: a burst of API calls on load, then three polls every 5 s for 30
    // minutes, a 401 when its token expires, a few 404s for items deleted meanwhile.
    const spa = '198.51.100.30';
    at(0, () => h.request(spa, '/'));
    for (let i = 0; i < 25; i++) at(100 + i, () => h.request(spa, `/api/items/${i}`));
    for (let tick = 0; tick < 360; tick++) {
      const t = 1000 + tick * 5 * SECOND;
      at(t, () => h.request(spa, '/api/notifications'));
      at(t + 5, () => h.request(spa, '/api/feed', { method: 'GET' }));
      at(t + 10, () => h.request(spa, '/api/presence', { method: 'POST', status: 204 }));
      if (tick % 60 === 59) at(t + 20, () => h.request(spa, '/api/session', { status: 401 }));
      if (tick % 72 === 0) at(t + 30, () => h.request(spa, `/api/items/deleted-${tick}`, { status: 404 }));
    }

    // Someone mistypes their password once, then signs in.
    const user = '203.0.113.200';
    at(3 * MINUTE, () => h.loginFailed(user, 'alice'));
    at(3 * MINUTE + 8 * SECOND, () => h.events.emit('auth.login_succeeded', { login: 'alice', userId: 'id-alice', clientIp: user }));

    replay(h.clock, steps);
    assert.ok(steps.length > 2500, `replayed ${steps.length} events`);
    assert.deepEqual(h.decisions, []);
    assert.equal(h.engine.fired.size, 0);
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

  it('decides on the address as the store spells it (IPv4-mapped IPv6 as IPv4, IPv6 compressed), and ignores a non-address', () => {
    const h = harness();
    for (let i = 0; i < 2; i++) h.request('::ffff:203.0.113.9', '/', { userAgent: 'Nuclei - Open-source project (github.com/projectdiscovery/nuclei)' });
    for (let i = 0; i < 2; i++) h.request('2001:DB8:0:0::1', '/', { userAgent: 'Mozilla/5.0 zgrab/0.x' });
    for (let i = 0; i < 2; i++) h.request('', '/', { userAgent: 'nikto' });
    assert.deepEqual(h.decisions.map((d) => d.decision.value), ['203.0.113.9', '2001:db8::1']);
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
