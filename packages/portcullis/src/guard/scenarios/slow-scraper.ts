/**
 * The slow-scraper detector: a polite crawler walking thousands of pages at 0.2-1 requests a
 * second from one address (or one IPv6 /64) is far below any rate limit, and below the rate
 * CrowdSec's crawl scenario can see. What gives it away is not its rate but how it browses:
 *
 * - it asks for many distinct pages (the gate: at least `minPages` in the window, counted by
 *   linear counting on a 512-bit bitmap, ~4 % error at 300);
 * - it does not fetch the pages' assets (stylesheets, scripts, images);
 * - it keeps no cookies, on a site whose visitors do send them;
 * - its Referer is absent, or names a page it did not fetch lately: it does not follow links,
 *   it walks a list (on a site whose visitors send same-site referers);
 * - most of its pages are pages nobody asked for in the last hour or two;
 * - its timing is machine-regular: successive gaps between its pages hardly differ.
 *
 * Pages are GET and HEAD requests for non-static paths answered 2xx or 304; assets are static
 * paths (scenarios.ts isStaticPath) answered below 400. Everything else is ignored, so a
 * challenged crawler that cannot solve the proof of work (its answers are 403s) stops counting.
 *
 * Each signal says yes or no; `minSignals` of them (3) fire once the gate is passed. The
 * assets, cookies and referer signals only count on a site where other requests show that
 * browsers there do fetch assets, send cookies, send same-site referers (at least 10 such
 * requests in the window): a site without cookies must not make every visitor suspect.
 *
 * Who is not flagged: a reader (far below 300 pages an hour), an office of people behind one
 * NAT address (many pages, but assets, cookies, followed links and human timing), a single-page
 * app polling its API and monitoring probes and RSS readers (few distinct paths), someone
 * opening 30 tabs (30 pages). What it cannot tell apart: a headless browser that fetches
 * assets, keeps cookies and follows links at irregular times (then only the page count and
 * rarity remain); search engines and link checkers, which are crawlers (allow their ranges);
 * an API client walking many distinct resources without cookies; a crawl spread over many
 * addresses, each below `minPages` an hour (about 0.08 requests a second). The referer signal
 * alone cannot tell a crawler that sends the page it fetched just before as its Referer.
 *
 * A client is its IPv4 address, or the /64 of an IPv6 one (client-table.ts): one host usually
 * holds a whole /64, and a crawler rotating addresses inside it must stay one client.
 *
 * Memory is bounded: per client 88 words of its record in the client table (two 512-bit
 * bitmaps, a ring of the last 32 pages' hashes, two halves of counters) and three times,
 * ~450 bytes with the table's Map entry and key; the table holds at most `maxKeys` clients,
 * evicting the stalest first. Shared: per site a few counters (at most 256 sites), and a
 * two-generation Bloom filter of the pages anyone asked for (2 x 128 Kibit). The per-event
 * work is constant: a hash of the path (and of the Referer's path), a few array reads and
 * writes; nothing is allocated once a client is known (an IPv6 address not seen lately costs
 * one parse).
 */
import type { Clock } from '../../kernel/clock.ts';
import type { RequestDoneEvent } from '../../kernel/events.ts';
import { hexDigitValue } from '../../kernel/hex.ts';
import { createClientTable, type ClientKey, type ClientTable } from './client-table.ts';
import { isStaticPath } from './scenarios.ts';

export interface SlowScraperOptions {
  clock: Clock;
  /**
   * The table of clients it shares with the other per-client scenarios (engine.ts); default:
   * a table of its own, holding at most `maxKeys` clients.
   */
  clients?: ClientTable;
  /** Most clients (addresses, IPv6 /64s) remembered in a table of its own; default 50 000. */
  maxKeys?: number;
  /** The sliding window, counted in two halves (so it covers the last half to whole); default 1 hour. */
  windowMs?: number;
  /** Distinct pages in the window before anything can fire; default 300. */
  minPages?: number;
  /** Signals (of 5) that must agree; default 3. */
  minSignals?: number;
  /** How long a firing is remembered: firing again within it counts as a repeat; default 7 days. */
  repeatMemoryMs?: number;
}

/** What observe() reports when a client looks like a slow scraper. */
export interface Firing {
  /** The IPv4 address, or the IPv6 /64 as CIDR (`2001:db8:1:2::/64`). */
  key: string;
  /** The address of the request that made it fire (inside `key`). */
  lastIp: string;
  /** For `portcullis decisions`: the page count and each signal that fired, with its figures. */
  reason: string;
  /** 1 on the first firing; 2 or more when the key fired before within `repeatMemoryMs`. */
  strikes: number;
}

export interface SlowScraperDetector {
  /**
   * Counts one finished request; returns a firing when it made its client cross the line.
   * `key`: the client (ClientTable.keyOf of the event's address), when the caller has it.
   */
  observe(event: RequestDoneEvent, key?: ClientKey | null): Firing | null;
  /** Clients held in its table (shared: by every scenario using it). */
  readonly size: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Signal thresholds. Shares are of the client's pages in the window. */
const ASSETS_PER_PAGE_BELOW = 0.05;
const COOKIE_SHARE_BELOW = 0.05;
const FOLLOWED_SHARE_BELOW = 0.1;
const RARE_SHARE_FROM = 0.5;
/** Mean |gap - previous gap| over mean gap: 0 for a metronome, ~0.33 for gaps uniform in mean ± 50 %, ~1 for random (Poisson) arrivals. */
const JITTER_BELOW = 0.5;
/** Gaps between pages counted before the timing signal can say anything. */
const MIN_GAPS = 50;
/** Longer gaps count as this long: a lunch break says nothing more than a long read. */
const MAX_GAP_MS = 10 * MINUTE;
/** Requests on the site, in the window, that show its browsers fetch assets / send cookies / send same-site referers. */
const SITE_EVIDENCE = 10;
const MAX_SITES = 256;
/** Bytes of a path hashed: longer paths are told apart by their first 2 KiB. */
const MAX_HASHED_BYTES = 2048;

/** A client's record in the client table: its counters (words) and times, laid out here. */
const BITMAP_WORDS = 16;
const BITMAP_BITS = BITMAP_WORDS * 32;
const RING = 32;
const RING_AT = 2 * BITMAP_WORDS;
const COUNTS_AT = RING_AT + RING;
/** Counters per half window, at COUNTS_AT + half * STRIDE. */
const PAGES = 0;
const ASSETS = 1;
const COOKIE_PAGES = 2;
const FOLLOWED = 3;
const RARE = 4;
const BITS_SET = 5;
const GAPS = 6;
const GAP_MS = 7;
const JITTER_MS = 8;
const STRIDE = 9;
/** The half-window index the current half belongs to. */
const EPOCH = COUNTS_AT + 2 * STRIDE;
const RING_NEXT = EPOCH + 1;
/** Bits set in the union of both halves' bitmaps. */
const UNION_BITS = EPOCH + 2;
const STRIKES = EPOCH + 3;
/** The previous gap between pages plus 1, ms; 0: none yet. */
const LAST_GAP = EPOCH + 4;
const WORDS = EPOCH + 6;
/** Times, ms since the epoch. When the counted window's first page came (for the reason's rate). */
const SINCE = 0;
/** -1: no page yet. */
const LAST_PAGE_AT = 1;
const LAST_FIRED_AT = 2;
const TIMES = 3;

/** Per-site counters per half window. */
const SITE_ASSETS = 0;
const SITE_COOKIES = 1;
const SITE_REFERERS = 2;
const SITE_STRIDE = 3;

/** The global "did anyone ask for this page lately" filter: 2^17 bits a generation, 4 probes. */
const BLOOM_WORDS = 4096;
const BLOOM_MASK = BLOOM_WORDS * 32 - 1;
const BLOOM_PROBES = 4;
const BLOOM_GENERATION_MS = HOUR;

/**
 * Hashes are cut to 30 bits: V8 keeps integers of 31 bits unboxed (Smi), so a hash returned
 * from a function allocates nothing; 30 bits are plenty for 32-entry rings and 17-bit indexes.
 */
const SMI_BITS = 0x3fffffff;
/** FNV-1a's offset basis, cut to 30 bits like the hashes. */
const FNV_OFFSET = 0x811c9dc5 & SMI_BITS;
const FNV_PRIME = 0x01000193;

interface SiteState {
  seed: number;
  epoch: number;
  counts: Uint32Array;
}

/** Builds a detector; see the file comment for what it watches. */
export function createSlowScraperDetector(options: SlowScraperOptions): SlowScraperDetector {
  const { clock } = options;
  // At least a second: half-window indexes are kept in 32 bits.
  const half = Math.max(1000, Math.floor((options.windowMs ?? HOUR) / 2));
  const minPages = Math.max(1, options.minPages ?? 300);
  const minSignals = Math.max(1, options.minSignals ?? 3);
  const repeatMemoryMs = options.repeatMemoryMs ?? 7 * DAY;
  // Linear counting: n distinct values set about m(1 - e^(-n/m)) of m bits.
  const bitsNeeded = Math.min(BITMAP_BITS - 1, Math.ceil(BITMAP_BITS * (1 - Math.exp(-minPages / BITMAP_BITS))));
  const clients = options.clients ?? createClientTable({ quietMs: half, ...(options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys }) });
  // A new client: counting starts at its first request.
  const region = clients.reserve(WORDS, TIMES, (u, b, t, tb, now) => forget(u, b, t, tb, Math.floor(now / half), now));
  const wordsAt = region.wordsAt;
  const timesAt = region.timesAt;
  const sites = new Map<string, SiteState>();
  const bloom = [new Uint32Array(BLOOM_WORDS), new Uint32Array(BLOOM_WORDS)];
  let bloomGeneration = Math.floor(clock.now() / BLOOM_GENERATION_MS);

  const siteOf = (name: string, epoch: number): SiteState | null => {
    let site = sites.get(name);
    if (site === undefined) {
      if (sites.size >= MAX_SITES) return null;
      site = { seed: hashText(FNV_OFFSET, name), epoch, counts: new Uint32Array(2 * SITE_STRIDE) };
      sites.set(name, site);
    }
    if (epoch > site.epoch) {
      const c = site.counts;
      if (epoch - site.epoch >= 2) c.fill(0);
      else c.fill(0, (epoch & 1) * SITE_STRIDE, (epoch & 1) * SITE_STRIDE + SITE_STRIDE);
      site.epoch = epoch;
    }
    return site;
  };

  const siteShows = (site: SiteState | null, counter: number): boolean => site !== null && site.counts[counter]! + site.counts[SITE_STRIDE + counter]! >= SITE_EVIDENCE;

  /** Moves a key (counters `u` from `b`) on to half-window `epoch`: the half before is kept, older ones are forgotten. */
  const advance = (u: Uint32Array, b: number, t: Float64Array, tb: number, epoch: number, now: number): void => {
    const cur = epoch & 1;
    if (epoch - u[b + EPOCH]! === 1) {
      u.fill(0, b + cur * BITMAP_WORDS, b + cur * BITMAP_WORDS + BITMAP_WORDS);
      u.fill(0, b + COUNTS_AT + cur * STRIDE, b + COUNTS_AT + cur * STRIDE + STRIDE);
      u[b + UNION_BITS] = u[b + COUNTS_AT + (cur ^ 1) * STRIDE + BITS_SET]!;
    } else {
      u.fill(0, b, b + RING_AT);
      u.fill(0, b + COUNTS_AT, b + COUNTS_AT + 2 * STRIDE);
      u[b + UNION_BITS] = 0;
      t[tb + SINCE] = now;
    }
    u[b + EPOCH] = epoch;
  };

  /** Forgets a key's counts (not its strikes): counting starts over at `now`. */
  const forget = (u: Uint32Array, b: number, t: Float64Array, tb: number, epoch: number, now: number): void => {
    u.fill(0, b, b + STRIKES);
    u[b + EPOCH] = epoch;
    u[b + LAST_GAP] = 0;
    t[tb + SINCE] = now;
    t[tb + LAST_PAGE_AT] = -1;
  };

  /**
   * True when nobody asked for the page (hash `h`) in the last one or two hours; then records
   * it. The hot helpers take small integers (an hour's index, a gap), not the clock's
   * milliseconds: a double passed to a function V8 did not inline is boxed, one allocation
   * per event.
   */
  const rareThenRecord = (h: number, generation: number): boolean => {
    if (generation > bloomGeneration) {
      // The older generation is dropped whole: "lately" is the last one to two hours.
      const older = bloom[0]!;
      older.fill(0);
      if (generation - bloomGeneration >= 2) bloom[1]!.fill(0);
      bloom[0] = bloom[1]!;
      bloom[1] = older;
      bloomGeneration = generation;
    }
    const current = bloom[1]!;
    const previous = bloom[0]!;
    const step = mix(h) | 1;
    let seen = true;
    for (let i = 0, at = h; i < BLOOM_PROBES; i++, at = (at + step) | 0) {
      const bit = at & BLOOM_MASK;
      const word = bit >>> 5;
      const mask = 1 << (bit & 31);
      if ((current[word]! & mask) === 0 && (previous[word]! & mask) === 0) seen = false;
      current[word] = current[word]! | mask;
    }
    return !seen;
  };

  const countPage = (u: Uint32Array, b: number, site: SiteState | null, e: RequestDoneEvent, generation: number): void => {
    const cur = u[b + EPOCH]! & 1;
    const c = b + COUNTS_AT + cur * STRIDE;
    const seed = site?.seed ?? FNV_OFFSET;
    const h = hashPath(seed, e.path);
    u[c + PAGES]!++;
    if (e.hasCookies) u[c + COOKIE_PAGES]!++;
    if (rareThenRecord(h, generation)) u[c + RARE]!++;

    const ref = e.referer;
    if (ref.length > 0) {
      const start = sameSitePathStart(ref, e.host);
      if (start !== -1) {
        if (site !== null) site.counts[cur * SITE_STRIDE + SITE_REFERERS]!++;
        const rh = hashRefererPath(seed, ref, start);
        for (let i = b + RING_AT; i < b + RING_AT + RING; i++) {
          if (u[i] === rh) {
            u[c + FOLLOWED]!++;
            break;
          }
        }
      }
    }
    const next = u[b + RING_NEXT]!;
    u[b + RING_AT + next] = h;
    u[b + RING_NEXT] = (next + 1) % RING;

    // Distinct pages: one bit of this half's bitmap; the union's count moves when the bit is new to both.
    const bit = mix(h ^ 0x5bd1e995) & (BITMAP_BITS - 1);
    const word = b + cur * BITMAP_WORDS + (bit >>> 5);
    const mask = 1 << (bit & 31);
    if ((u[word]! & mask) === 0) {
      u[word] = u[word]! | mask;
      u[c + BITS_SET]!++;
      if ((u[b + (cur ^ 1) * BITMAP_WORDS + (bit >>> 5)]! & mask) === 0) u[b + UNION_BITS]!++;
    }
  };

  /** Counts the gap (ms, at most MAX_GAP_MS) since the key's previous page. */
  const countGap = (u: Uint32Array, b: number, gap: number): void => {
    const c = b + COUNTS_AT + (u[b + EPOCH]! & 1) * STRIDE;
    u[c + GAPS]!++;
    u[c + GAP_MS]! += gap;
    const last = u[b + LAST_GAP]!;
    if (last > 0) u[c + JITTER_MS]! += Math.abs(gap - (last - 1));
    u[b + LAST_GAP] = gap + 1;
  };

  /** The sum of both halves of a key's counter. */
  const total = (u: Uint32Array, b: number, counter: number): number => u[b + COUNTS_AT + counter]! + u[b + COUNTS_AT + STRIDE + counter]!;

  /** The signals that hold for a key as bits (1 assets, 2 cookies, 4 referers, 8 rare pages, 16 timing); 0 below the page minimum. */
  const signalsOf = (u: Uint32Array, b: number, site: SiteState | null): number => {
    const pages = total(u, b, PAGES);
    if (pages < minPages || u[b + UNION_BITS]! < bitsNeeded) return 0;
    let held = 0;
    if (siteShows(site, SITE_ASSETS) && total(u, b, ASSETS) < pages * ASSETS_PER_PAGE_BELOW) held |= 1;
    if (siteShows(site, SITE_COOKIES) && total(u, b, COOKIE_PAGES) < pages * COOKIE_SHARE_BELOW) held |= 2;
    if (siteShows(site, SITE_REFERERS) && total(u, b, FOLLOWED) < pages * FOLLOWED_SHARE_BELOW) held |= 4;
    if (total(u, b, RARE) >= pages * RARE_SHARE_FROM) held |= 8;
    const gapMs = total(u, b, GAP_MS);
    if (total(u, b, GAPS) >= MIN_GAPS && gapMs > 0 && total(u, b, JITTER_MS) < gapMs * JITTER_BELOW) held |= 16;
    return held;
  };

  /** For `portcullis decisions`: the page count and rate, and each signal that held with its figures. */
  const reasonOf = (u: Uint32Array, b: number, held: number, since: number, now: number): string => {
    const pages = total(u, b, PAGES);
    const said: string[] = [];
    if (held & 1) said.push(`no assets (${total(u, b, ASSETS)} for ${pages} pages)`);
    if (held & 2) said.push(`no cookies kept (${total(u, b, COOKIE_PAGES)} of ${pages} pages sent any)`);
    if (held & 4) said.push(`referers not from pages it fetched (${total(u, b, FOLLOWED)} of ${pages})`);
    if (held & 8) said.push(`${percent(total(u, b, RARE) / pages)} of pages nobody else asked for lately`);
    if (held & 16) said.push(`regular timing (gaps vary ${percent(total(u, b, JITTER_MS) / total(u, b, GAP_MS))})`);
    const distinct = Math.round(-BITMAP_BITS * Math.log(1 - Math.min(u[b + UNION_BITS]!, BITMAP_BITS - 1) / BITMAP_BITS));
    const from = Math.max(since, (u[b + EPOCH]! - 1) * half);
    const seconds = Math.max(1, (now - from) / 1000);
    return `slow crawl: ~${distinct} distinct pages in ${Math.max(1, Math.round(seconds / 60))} min (${(pages / seconds).toFixed(2)} a second); ${said.join(', ')}`;
  };

  return {
    get size() {
      return clients.size;
    },
    observe(e, known) {
      const method = e.method;
      if (method !== 'GET' && method !== 'HEAD') return null;
      const key = known === undefined ? clients.keyOf(e.clientIp) : known;
      if (key === null) return null;
      const now = clock.now();
      const status = e.status;
      const isStatic = status >= 200 && status < 400 && isStaticPath(e.path);
      const isPage = !isStatic && ((status >= 200 && status < 300) || status === 304);
      if (!isStatic && !isPage) {
        // Not counted (a challenge page, a 404, a redirect); it keeps a known client from looking idle.
        clients.find(key, now);
        return null;
      }
      const nowEpoch = Math.floor(now / half);
      const slot = clients.slot(key, now);
      const u = clients.words(slot);
      const t = clients.times(slot);
      const b = clients.wordBase(slot) + wordsAt;
      const tb = clients.timeBase(slot) + timesAt;
      // A clock set back keeps counting in the half it was in.
      const epoch = Math.max(nowEpoch, u[b + EPOCH]!);
      if (epoch > u[b + EPOCH]!) advance(u, b, t, tb, epoch, now);
      const site = siteOf(e.site, epoch);
      const cur = epoch & 1;
      if (e.hasCookies && site !== null) site.counts[cur * SITE_STRIDE + SITE_COOKIES]!++;
      if (isStatic) {
        u[b + COUNTS_AT + cur * STRIDE + ASSETS]!++;
        if (site !== null) site.counts[cur * SITE_STRIDE + SITE_ASSETS]!++;
        return null;
      }
      countPage(u, b, site, e, Math.floor(now / BLOOM_GENERATION_MS));
      const lastPageAt = t[tb + LAST_PAGE_AT]!;
      if (lastPageAt >= 0) countGap(u, b, Math.min(MAX_GAP_MS, Math.max(0, now - lastPageAt)));
      t[tb + LAST_PAGE_AT] = now;
      const held = signalsOf(u, b, site);
      if (popcount(held) < minSignals) return null;
      const reason = reasonOf(u, b, held, t[tb + SINCE]!, now);
      const strikes = u[b + STRIKES]! > 0 && now - t[tb + LAST_FIRED_AT]! < repeatMemoryMs ? u[b + STRIKES]! + 1 : 1;
      u[b + STRIKES] = strikes;
      t[tb + LAST_FIRED_AT] = now;
      // Counting starts over: firing again takes another `minPages` pages, which a challenged
      // client only gets by passing the challenge, or once its decision ran out.
      forget(u, b, t, tb, epoch, now);
      return { key: clients.textOf(key), lastIp: e.clientIp, reason, strikes };
    },
  };
}

function popcount(bits: number): number {
  let n = 0;
  for (; bits !== 0; bits &= bits - 1) n++;
  return n;
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/** murmur3's finaliser: spreads a hash's bits before they pick bitmap and filter positions. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & SMI_BITS;
}

/** FNV-1a over a short text's UTF-16 code units (site names). */
function hashText(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h & SMI_BITS;
}

/**
 * FNV-1a over the UTF-8 bytes of a decoded path (the event's path is percent-decoded once),
 * so it equals hashRefererPath over the same path as a browser sends it, percent-encoded.
 */
export function hashPath(seed: number, path: string): number {
  let h = seed;
  let bytes = 0;
  for (let i = 0; i < path.length && bytes < MAX_HASHED_BYTES; i++) {
    let c = path.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      bytes++;
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 63)), FNV_PRIME);
      bytes += 2;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < path.length) {
      const low = path.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
        h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 63)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | (c & 63)), FNV_PRIME);
        bytes += 4;
        continue;
      }
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 63)), FNV_PRIME);
    bytes += 3;
  }
  return h & SMI_BITS;
}

/**
 * hashPath of the path in a Referer from `start` (where sameSitePathStart found it) to its
 * query or fragment: `%XX` is the byte it encodes, any other character one byte (Node reads
 * header values as Latin-1, one character a byte). An empty path is `/`.
 */
export function hashRefererPath(seed: number, ref: string, start: number): number {
  let h = seed;
  const n = ref.length;
  if (start >= n || ref.charCodeAt(start) !== 47) return Math.imul(h ^ 47, FNV_PRIME) & SMI_BITS;
  let bytes = 0;
  for (let i = start; i < n && bytes < MAX_HASHED_BYTES; i++, bytes++) {
    const c = ref.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) break;
    if (c === 37 /* % */ && i + 2 < n) {
      const hi = hexDigitValue(ref.charCodeAt(i + 1));
      const lo = hexDigitValue(ref.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        h = Math.imul(h ^ ((hi << 4) | lo), FNV_PRIME);
        i += 2;
        continue;
      }
    }
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME);
  }
  return h & SMI_BITS;
}

/**
 * Where the path starts in `ref` when it is an http(s) URL of `host` (any port; `host` is
 * lower-case, as the request context has it), else -1. Returns ref.length for `https://host`.
 */
export function sameSitePathStart(ref: string, host: string): number {
  let i: number;
  if (ref.startsWith('https://')) i = 8;
  else if (ref.startsWith('http://')) i = 7;
  else return -1;
  const hn = host.length;
  if (hn === 0 || ref.length < i + hn) return -1;
  for (let j = 0; j < hn; j++) {
    let c = ref.charCodeAt(i + j);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== host.charCodeAt(j)) return -1;
  }
  i += hn;
  if (i < ref.length && ref.charCodeAt(i) === 58 /* : */) {
    i++;
    while (i < ref.length && ref.charCodeAt(i) >= 48 && ref.charCodeAt(i) <= 57) i++;
  }
  if (i === ref.length) return i;
  const c = ref.charCodeAt(i);
  return c === 47 || c === 63 || c === 35 ? i : -1;
}
