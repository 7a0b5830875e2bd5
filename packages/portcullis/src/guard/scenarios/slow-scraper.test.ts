/**
 * The slow-scraper detector alone, on a ManualClock: the page minimum, each signal on its own
 * (with minSignals 1, a client that shows only that signal fires and the reason names only
 * it), the site evidence that turns three of the signals on, IPv6 /64 grouping, repeats, the
 * window, and bounded memory under many clients.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../kernel/clock.ts';
import type { RequestDoneEvent } from '../../kernel/events.ts';
import { createSlowScraperDetector, hashPath, hashRefererPath, sameSitePathStart, type Firing, type SlowScraperOptions } from './slow-scraper.ts';
import { seededRandom as random } from '../../../test/support/seeded-random.ts';

const START = 1_700_000_000_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const SITE = 'https://example.com';


function event(clientIp: string, path: string, extra: Partial<RequestDoneEvent> = {}): RequestDoneEvent {
  return { site: 'example.com', method: 'GET', host: 'example.com', path, status: 200, clientIp, userAgent: 'test', referer: '', hasCookies: false, challenged: false, crossSite: false, ...extra };
}

function setup(options: Partial<SlowScraperOptions> = {}) {
  const clock = new ManualClock(START);
  const detector = createSlowScraperDetector({ clock, ...options });
  const firings: { at: number; firing: Firing }[] = [];
  const send = (e: RequestDoneEvent): void => {
    const firing = detector.observe(e);
    if (firing !== null) firings.push({ at: clock.now(), firing });
  };
  return { clock, detector, firings, send };
}

/**
 * What a browser shows on this site, from another address: assets, cookies and same-site
 * referers (so the site "shows" them), on a few pages it revisits.
 */
function browserTraffic(send: (e: RequestDoneEvent) => void, ip = '198.51.100.1'): void {
  for (let i = 0; i < 12; i++) {
    send(event(ip, `/home/${i % 3}`, { hasCookies: true, referer: `${SITE}/home/${(i + 2) % 3}` }));
    send(event(ip, '/static/app.css', { hasCookies: true, status: 304 }));
  }
}

interface Behaviour {
  assets: boolean;
  cookies: boolean;
  followsLinks: boolean;
  /** Its pages were asked for by someone else just before. */
  popular: boolean;
  regular: boolean;
}
const BROWSER_LIKE: Behaviour = { assets: true, cookies: true, followsLinks: true, popular: true, regular: false };

/** `pages` distinct pages from `ip`, 2 s apart on average, behaving as told. Returns the subject's firings. */
function crawl(h: ReturnType<typeof setup>, ip: string, pages: number, b: Behaviour, seed = 1): Firing[] {
  const rng = random(seed);
  browserTraffic(h.send);
  let previous = '/';
  for (let i = 0; i < pages; i++) {
    const path = `/catalog/${seed}/item-${i}`;
    if (b.popular) h.send(event('192.0.2.250', path, { hasCookies: true }));
    h.send(event(ip, path, { hasCookies: b.cookies, referer: b.followsLinks ? `${SITE}${previous}` : '' }));
    if (b.assets) h.send(event(ip, `/images/item-${i}.webp`, { hasCookies: b.cookies }));
    previous = path;
    // Exponential gaps (random arrivals) vary as much as they last; fixed ones not at all.
    h.clock.advance(b.regular ? 2 * SECOND : Math.round(-2 * SECOND * Math.log(1 - rng())));
  }
  return h.firings.filter((f) => f.firing.key === ip).map((f) => f.firing);
}

describe('slow-scraper detector', () => {
  it('a crawler showing all five signals fires at the page minimum (300), not before, and the reason names each signal', () => {
    const h = setup();
    browserTraffic(h.send);
    let pages = 0;
    while (h.firings.length === 0 && pages < 1000) {
      h.send(event('203.0.113.7', `/catalog/item-${pages++}`));
      h.clock.advance(2 * SECOND);
    }
    assert.ok(pages >= 280 && pages <= 330, `fired after ${pages} pages`);
    const { firing } = h.firings[0]!;
    assert.equal(firing.key, '203.0.113.7');
    assert.equal(firing.lastIp, '203.0.113.7');
    assert.equal(firing.strikes, 1);
    assert.match(firing.reason, /^slow crawl: ~\d+ distinct pages in 1\d min \(0\.5\d a second\); /);
    for (const signal of [/no assets \(0 for \d+ pages\)/, /no cookies kept \(0 of \d+ pages sent any\)/, /referers not from pages it fetched \(0 of \d+\)/, /100% of pages nobody else asked for lately/, /regular timing \(gaps vary 0%\)/]) {
      assert.match(firing.reason, signal);
    }
  });

  it('a client behaving like a browser never fires, even when one signal is enough', () => {
    const h = setup({ minSignals: 1 });
    assert.deepEqual(crawl(h, '203.0.113.8', 1500, BROWSER_LIKE), []);
  });

  const alone: [keyof Behaviour, RegExp][] = [
    ['assets', /no assets/],
    ['cookies', /no cookies kept/],
    ['followsLinks', /referers not from pages it fetched/],
    ['popular', /of pages nobody else asked for lately/],
    ['regular', /regular timing/],
  ];
  for (const [trait, signal] of alone) {
    it(`signal alone: ${trait}`, () => {
      const h = setup({ minSignals: 1 });
      const b = { ...BROWSER_LIKE, [trait]: trait === 'regular' };
      const firings = crawl(h, '203.0.113.9', 600, b);
      assert.ok(firings.length >= 1, `${trait}: no firing`);
      assert.match(firings[0]!.reason, signal);
      for (const [other, otherSignal] of alone) if (other !== trait) assert.doesNotMatch(firings[0]!.reason, otherSignal, `${trait} fired ${other} too`);
    });
  }

  it('two signals are not enough by default; three are', () => {
    const two = setup();
    assert.deepEqual(crawl(two, '203.0.113.10', 1500, { ...BROWSER_LIKE, popular: false, regular: true }), [], 'rare pages and regular timing');
    const three = setup();
    const firings = crawl(three, '203.0.113.10', 1500, { ...BROWSER_LIKE, popular: false, regular: true, cookies: false });
    assert.equal(firings.length >= 1, true);
    assert.match(firings[0]!.reason, /no cookies kept.*nobody else.*regular timing/);
  });

  it('assets, cookies and referers count only on a site whose visitors show them', () => {
    // Nobody else on this site: only rare pages and timing can speak.
    const h = setup({ minSignals: 2 });
    for (let i = 0; i < 400; i++) {
      h.send(event('203.0.113.11', `/p/${i}`, { site: 'quiet.example', host: 'quiet.example' }));
      h.clock.advance(2 * SECOND);
    }
    assert.equal(h.firings.length, 1);
    assert.doesNotMatch(h.firings[0]!.firing.reason, /assets|cookies|referers/);
    const strict = setup();
    for (let i = 0; i < 2000; i++) {
      strict.send(event('203.0.113.11', `/p/${i}`, { site: 'quiet.example', host: 'quiet.example' }));
      strict.clock.advance(2 * SECOND);
    }
    assert.deepEqual(strict.firings, [], 'two signals out of the two that apply: not enough');
  });

  it('only successful page and asset GETs count: refused, missing, redirected and POSTed requests do not', () => {
    const h = setup();
    browserTraffic(h.send);
    for (let i = 0; i < 2000; i++) {
      const variant = i % 4;
      h.send(event('203.0.113.12', `/catalog/item-${i}`, variant === 0 ? { status: 403 } : variant === 1 ? { status: 404 } : variant === 2 ? { status: 302 } : { method: 'POST' }));
      h.clock.advance(2 * SECOND);
    }
    assert.deepEqual(h.firings, []);
    assert.equal(h.detector.size, 1, 'only the browser holds state');
  });

  it('IPv6: addresses inside one /64 are one client and the key is the /64; another /64 is another client', () => {
    const h = setup();
    browserTraffic(h.send);
    const rotating = ['2001:db8:1:2::10', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:DB8:1:2:0:0:0:99'];
    for (let i = 0; i < 600 && h.firings.length === 0; i++) {
      h.send(event(rotating[i % 3]!, `/catalog/item-${i}`));
      // A neighbour /64 on the same /48 crawls a third as much: it is not counted with the first.
      if (i % 3 === 0) h.send(event('2001:db8:1:3::10', `/other/item-${i}`));
      h.clock.advance(2 * SECOND);
    }
    assert.equal(h.firings.length, 1);
    assert.equal(h.firings[0]!.firing.key, '2001:db8:1:2::/64');
    assert.ok(rotating.includes(h.firings[0]!.firing.lastIp));
    assert.equal(h.detector.size, 3, 'the browser, the crawler /64, the neighbour /64');
  });

  it('an IPv4-mapped IPv6 address is its IPv4 address; something that is not an address is ignored', () => {
    const h = setup();
    browserTraffic(h.send);
    for (let i = 0; i < 600 && h.firings.length === 0; i++) {
      h.send(event(i % 2 ? '::ffff:203.0.113.13' : '203.0.113.13', `/catalog/item-${i}`));
      h.send(event('', `/catalog/item-${i}`));
      h.send(event('not an address', `/catalog/item-${i}`));
      h.send(event('fe80::1%eth0', `/catalog/item-${i}`));
      h.clock.advance(2 * SECOND);
    }
    assert.deepEqual(h.firings.map((f) => f.firing.key), ['203.0.113.13']);
  });

  it('firing again counts strikes; a firing older than the repeat memory is forgotten', () => {
    const h = setup({ repeatMemoryMs: 2 * HOUR });
    browserTraffic(h.send);
    const crawlFor = (from: number, ms: number): void => {
      for (let t = 0; t < ms; t += 2 * SECOND) {
        h.send(event('203.0.113.14', `/catalog/item-${from + t}`));
        h.clock.advance(2 * SECOND);
      }
    };
    crawlFor(0, 30 * MINUTE);
    assert.deepEqual(h.firings.map((f) => f.firing.strikes), [1, 2], 'fires, forgets its counts, fires again 300 pages later');
    assert.ok(h.firings[1]!.at - h.firings[0]!.at >= 590 * SECOND, 'the second firing needs as many new pages');
    h.clock.advance(3 * HOUR);
    browserTraffic(h.send);
    crawlFor(1_000_000, 12 * MINUTE);
    assert.deepEqual(h.firings.map((f) => f.firing.strikes), [1, 2, 1]);
  });

  it('a crawl below about 300 pages an hour never reaches the minimum, however long it runs', () => {
    const h = setup();
    for (let i = 0; i < 1800; i++) {
      if (i % 100 === 0) browserTraffic(h.send);
      h.send(event('203.0.113.15', `/catalog/item-${i}`));
      h.clock.advance(15 * SECOND);
    }
    assert.deepEqual(h.firings, []);
  });

  it('about 0.1 a second is caught near the end of a half window, when its last 30 to 60 minutes hold 300 pages', () => {
    const h = setup();
    let i = 0;
    for (; i < 1800 && h.firings.length === 0; i++) {
      if (i % 50 === 0) browserTraffic(h.send);
      h.send(event('203.0.113.16', `/catalog/item-${i}`));
      h.clock.advance(10 * SECOND);
    }
    assert.equal(h.firings.length, 1);
    assert.ok(i * 10 * SECOND <= 2 * HOUR, `after ${(i * 10) / 60} min`);
  });

  it('distinct pages: a page of the last half is not new again, one of two halves ago is', () => {
    // Timing alone (one signal) fires; the window must hold 200 pages and 200 distinct ones.
    const half = 30 * MINUTE;
    /** Each half's walks (path prefix, pages) from one client, 6 s apart; where in each half it fired (its n-th page), or -1. */
    const run = (halves: [string, number][][]): number[] => {
      const h = setup({ minPages: 200, minSignals: 1 });
      return halves.map((walks) => {
        h.clock.advance(half - (h.clock.now() % half) + 1);
        let n = 0;
        for (const [prefix, count] of walks) {
          for (let i = 0; i < count; i++) {
            n++;
            h.send(event('203.0.113.17', `${prefix}-${i}`));
            if (h.firings.length > 0) return n;
            h.clock.advance(6 * SECOND);
          }
        }
        return -1;
      });
    };
    // 100 pages, then the same 100 in the next half: still ~100 distinct, so it takes ~100 new
    // pages more (forgetting the last half would fire at the 100th page).
    const [, repeated] = run([[['/q', 100]], [['/q', 100], ['/r', 200]]]);
    assert.ok(repeated! > 150, `fired at page ${repeated} of the second half`);
    // 60 pages, 100 others, then the first 60 again: two halves on, they are new, and it fires
    // at the page minimum (remembering them would take ~60 pages more).
    const [, , again] = run([[['/p', 60]], [['/q', 100]], [['/p', 280]]]);
    assert.ok(again! >= 100 && again! <= 110, `fired at page ${again} of the third half`);
  });

  it('memory stays bounded under many clients, and a crawler among them keeps its state and fires', () => {
    const h = setup({ maxKeys: 1000 });
    browserTraffic(h.send);
    let crawled = 0;
    for (let i = 0; i < 60_000; i++) {
      const ip = i % 2 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::1`;
      h.send(event(ip, `/landing/${i % 50}`, { hasCookies: true }));
      if (i % 40 === 0) h.send(event('203.0.113.17', `/catalog/item-${crawled++}`));
      h.clock.advance(50);
    }
    assert.ok(h.detector.size <= 1000, `held ${h.detector.size} keys`);
    // 1500 pages in 50 minutes: it fires every ~300 pages, its strikes counting up.
    assert.deepEqual(h.firings.map((f) => [f.firing.key, f.firing.strikes]), [1, 2, 3, 4].map((n) => ['203.0.113.17', n]));
  });

  it('with room for three clients, a crawler keeps its counts while two new clients arrive between each of its pages', () => {
    const h = setup({ maxKeys: 3 });
    browserTraffic(h.send);
    let pages = 0;
    for (let i = 0; h.firings.length === 0 && pages < 400; i++) {
      h.send(event('203.0.113.18', `/catalog/item-${pages++}`));
      h.clock.advance(SECOND);
      h.send(event(`10.0.${i >> 8}.${i & 255}`, '/', { hasCookies: true }));
      h.send(event(`10.1.${i >> 8}.${i & 255}`, '/', { hasCookies: true }));
      h.clock.advance(SECOND);
      assert.ok(h.detector.size <= 3);
    }
    assert.deepEqual(h.firings.map((f) => f.firing.key), ['203.0.113.18']);
    assert.ok(pages <= 330, `fired after ${pages} pages`);
  });
});

describe('slow-scraper hashing', () => {
  it('a page and a Referer naming it hash the same, however the Referer encodes it', () => {
    const seed = 0x811c9dc5;
    const cases: [string, string][] = [
      ['/wiki/Zürich', `${SITE}/wiki/Z%C3%BCrich?action=view#top`],
      ['/wiki/Zürich', `${SITE}/wiki/Z%c3%bcrich`],
      ['/', `${SITE}`],
      ['/', `${SITE}/?q=1`],
      ['/a b', `${SITE}/a%20b`],
      ['/emoji/😀', `${SITE}/emoji/%F0%9F%98%80`],
      ['/100%', `${SITE}/100%25`],
      ['/docs/intro', 'http://EXAMPLE.com:8443/docs/intro'],
    ];
    for (const [path, ref] of cases) {
      const start = sameSitePathStart(ref, 'example.com');
      assert.notEqual(start, -1, ref);
      assert.equal(hashRefererPath(seed, ref, start), hashPath(seed, path), `${path} <- ${ref}`);
    }
    assert.notEqual(hashPath(seed, '/a'), hashPath(seed, '/b'));
    assert.notEqual(hashPath(seed, '/a'), hashPath(seed + 1, '/a'), 'the seed (the site) matters');
  });

  it('only http(s) URLs of the request host are same-site', () => {
    for (const ref of ['https://example.com.evil/x', 'https://evil.example/x', 'https://example.co/x', 'https://example.com@evil/x', 'android-app://example.com/x', '/x', 'example.com/x', 'https://', '']) {
      assert.equal(sameSitePathStart(ref, 'example.com'), -1, ref);
    }
    assert.equal(sameSitePathStart('https://example.com', 'example.com'), 19);
    assert.equal(sameSitePathStart('https://example.com/x', 'example.com'), 19);
    assert.equal(sameSitePathStart('https://example.com:443?x', 'example.com'), 23);
  });
});
