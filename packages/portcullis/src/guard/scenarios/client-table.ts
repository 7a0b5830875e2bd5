/**
 * The behaviour scenarios' table of clients: one record per client, shared by everything that
 * counts per client (the slow-scraper detector, the rate buckets of the per-client scenarios),
 * so that a finished request looks its client up once, not once per scenario. Under load each
 * lookup in a table of tens of thousands of clients is a few cache misses; one record holding
 * every scenario's state keeps them to one (measured in bench:guard, see engine.ts).
 *
 * A client is its IPv4 address, or the /64 of an IPv6 one: one host usually holds a whole /64,
 * and an attacker rotating addresses inside it must stay one client. The exceptions are the
 * IPv6 networks whose /64 unrelated hosts share (translators, Teredo: sharedNetwork below),
 * where each address is a client. IPv4 clients are keyed by
 * the address as a signed 32-bit number (V8 hashes it without reading a string: each request's
 * address is a fresh one), IPv6 ones by the /64's canonical text (`2001:db8:1:2::/64`), or by
 * the address's in a shared network.
 *
 * Records live in slabs, not objects: a client is a slot number, its counters a stretch of a
 * shared Uint32Array and its times a stretch of a shared Float64Array, grown a chunk at a time
 * up to maxKeys. Users reserve their stretch (a region) before the first client is admitted;
 * a new client's record is zeroed, then each region's `init` runs.
 *
 * Memory is bounded: at most `maxKeys` clients; when full, a new client takes a slot chosen by
 * a hand going round the slots (CLOCK): of the next few, the first whose client was quiet for
 * `quietMs`, else the stalest. A client seen lately is passed over while quieter ones are near,
 * so a flood of one-shot addresses evicts its own. The hand is a slot number, not a walk of
 * the Map from its head: deletions leave holes at a Map's head that every such walk steps
 * over until V8 rehashes it (~20 us a new client with 50 000 held, found in review).
 */
import { hexDigitValue } from '../../kernel/hex.ts';
import { formatIpPrefix, ipv4Key, parseIpPrefix, v6WordMask } from '../ip-prefix.ts';

/** An IPv4 client as a signed 32-bit number, an IPv6 one as its /64's text. */
export type ClientKey = string | number;

export interface ClientTableOptions {
  /** Most clients remembered; default 50 000. */
  maxKeys?: number;
  /** A client quiet this long is evicted first when the table is full. */
  quietMs: number;
}

/** Where a user's words and times start in each record; `init` prepares a new client's. */
export interface ClientRegion {
  wordsAt: number;
  timesAt: number;
}

export type RegionInit = (words: Uint32Array, w: number, times: Float64Array, t: number, now: number) => void;

export interface ClientTable {
  /** The client of an address (an IPv4-mapped one is the IPv4 client); null when it is not one. */
  keyOf(ip: string): ClientKey | null;
  /** The client as decisions spell it: `203.0.113.9`, `2001:db8:1:2::/64`. */
  textOf(key: ClientKey): string;
  /**
   * Splits the IPv6 /64s that hold one of `ranges` narrower than a /64 (an allowed host): each
   * address in them is a client of its own from now on, replacing the ranges given before.
   * Counted as one client, an allowed host would fill its neighbours' buckets, and a decision on
   * its /64 would cover it. `ranges` are CIDRs or addresses; anything else is ignored.
   */
  splitAround(ranges: readonly string[]): void;
  /**
   * Reserves `words` counters and `times` times in every record, with what a new client's
   * record needs beyond zeros. Only before the first client is admitted.
   */
  reserve(words: number, times: number, init?: RegionInit): ClientRegion;
  /** The client's slot, admitting it when unknown; marks it seen at `now`. */
  slot(key: ClientKey, now: number): number;
  /** The client's slot, or -1 when unknown; marks a known one seen at `now`. */
  find(key: ClientKey, now: number): number;
  /** The counters holding a slot's record, and where it starts in them. */
  words(slot: number): Uint32Array;
  wordBase(slot: number): number;
  /** The times holding a slot's record, and where it starts in them. */
  times(slot: number): Float64Array;
  timeBase(slot: number): number;
  /** Clients held. */
  readonly size: number;
}

export const DEFAULT_MAX_CLIENTS = 50_000;
/** Slots per slab chunk. */
const CHUNK_SLOTS = 1024;
/** Clients examined when one must make room. */
const EVICT_SCAN = 8;
/** IPv6 address -> key texts remembered before the cache starts over. */
const V6_CACHE = 4096;
/** The table's own time in each record: when the client was last seen. */
const LAST_SEEN = 0;

/** Builds an empty table; users reserve their regions, then look clients up. */
export function createClientTable(options: ClientTableOptions): ClientTable {
  const maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_CLIENTS);
  const { quietMs } = options;
  const chunkSlots = Math.min(CHUNK_SLOTS, maxKeys);
  let wordStride = 0;
  let timeStride = 1;
  const inits: RegionInit[] = [];
  const slots = new Map<ClientKey, number>();
  /** The client in each slot. */
  const owners: ClientKey[] = [];
  /** Where the eviction round looks next. */
  let hand = 0;
  const counters: Uint32Array[] = [];
  const times: Float64Array[] = [];
  let slotsUsed = 0;
  const v6Keys = new Map<string, ClientKey | null>();
  /** The /64s split by splitAround. */
  let split: ReadonlySet<string> = new Set();
  // The last client looked up: the scenarios of one event ask for the same client in turn.
  let lastKey: ClientKey | undefined;
  let lastSlot = -1;

  const chunkOf = (slot: number): number => (slot / chunkSlots) | 0;
  const timesOf = (slot: number): Float64Array => times[chunkOf(slot)]!;
  const timeBaseOf = (slot: number): number => (slot % chunkSlots) * timeStride;

  /**
   * A slot for a new client: a fresh one while below maxKeys, else, of the next few slots the
   * hand passes, the first whose client was quiet for `quietMs`, or the stalest.
   */
  const freeSlot = (now: number): number => {
    if (slotsUsed < maxKeys) {
      if (slotsUsed % chunkSlots === 0) {
        counters.push(new Uint32Array(chunkSlots * wordStride));
        times.push(new Float64Array(chunkSlots * timeStride));
      }
      return slotsUsed++;
    }
    let victim = hand;
    let victimSeen = Infinity;
    for (let tries = 0; tries < EVICT_SCAN; tries++) {
      const slot = hand;
      hand = (hand + 1) % slotsUsed;
      const seen = timesOf(slot)[timeBaseOf(slot) + LAST_SEEN]!;
      if (seen < victimSeen) {
        victim = slot;
        victimSeen = seen;
      }
      if (now - seen >= quietMs) break;
    }
    slots.delete(owners[victim]!);
    lastKey = undefined;
    return victim;
  };

  const admit = (key: ClientKey, now: number): number => {
    const slot = freeSlot(now);
    const u = counters[chunkOf(slot)]!;
    const t = timesOf(slot);
    const w = (slot % chunkSlots) * wordStride;
    const tb = timeBaseOf(slot);
    u.fill(0, w, w + wordStride);
    t.fill(0, tb, tb + timeStride);
    t[tb + LAST_SEEN] = now;
    for (const init of inits) init(u, w, t, tb, now);
    slots.set(key, slot);
    owners[slot] = key;
    return slot;
  };

  return {
    get size() {
      return slots.size;
    },
    keyOf(ip) {
      if (ip.indexOf(':') === -1) return ipv4Key(ip);
      const known = v6Keys.get(ip);
      if (known !== undefined) return known;
      const text = clientKey(ip);
      const key = text === null ? null : text.indexOf(':') === -1 ? ipv4Key(text) : split.has(text) ? singleAddress(ip) : text;
      if (v6Keys.size >= V6_CACHE) v6Keys.clear();
      v6Keys.set(ip, key);
      return key;
    },
    textOf(key) {
      return typeof key === 'number' ? formatIpPrefix({ family: 4, net: key >>> 0, bits: 32 }) : key;
    },
    splitAround(ranges) {
      const networks = new Set<string>();
      for (const range of ranges) {
        const prefix = parseIpPrefix(range);
        if (prefix === null || prefix.family !== 6 || prefix.bits <= 64) continue;
        const network = clientKey(formatIpPrefix({ ...prefix, bits: 128 }));
        if (network !== null && network.endsWith('/64')) networks.add(network);
      }
      split = networks;
      // Addresses seen before were keyed by the old rule.
      v6Keys.clear();
      lastKey = undefined;
    },
    reserve(words, timeCount, init) {
      if (slotsUsed > 0) throw new Error('client table: regions are reserved before the first client is admitted');
      const region = { wordsAt: wordStride, timesAt: timeStride };
      wordStride += words;
      timeStride += timeCount;
      if (init !== undefined) inits.push((u, w, t, tb, now) => init(u, w + region.wordsAt, t, tb + region.timesAt, now));
      return region;
    },
    slot(key, now) {
      let slot = key === lastKey ? lastSlot : slots.get(key);
      if (slot === undefined) slot = admit(key, now);
      timesOf(slot)[timeBaseOf(slot) + LAST_SEEN] = now;
      lastKey = key;
      lastSlot = slot;
      return slot;
    },
    find(key, now) {
      const slot = key === lastKey ? lastSlot : slots.get(key);
      if (slot === undefined) return -1;
      timesOf(slot)[timeBaseOf(slot) + LAST_SEEN] = now;
      return slot;
    },
    words: (slot) => counters[chunkOf(slot)]!,
    wordBase: (slot) => (slot % chunkSlots) * wordStride,
    times: timesOf,
    timeBase: timeBaseOf,
  };
}

/**
 * The client of an address as text: an IPv4 address itself (an IPv4-mapped IPv6 address as
 * the IPv4 one), an IPv6 address as its /64 in canonical CIDR text (`2001:db8:1:2::/64`, as
 * ip-prefix.ts formats it); null for anything else. The proxy has resolved and checked the
 * address already; this keeps out only what is plainly not one.
 */
export function clientKey(ip: string): string | null {
  if (ip.indexOf(':') === -1) return ip.length >= 7 && ip.length <= 15 && isDigit(ip.charCodeAt(0)) && isDigit(ip.charCodeAt(ip.length - 1)) ? ip : null;
  const groups = new Uint16Array(8);
  // Plain hex groups (the common form) are read here; an embedded IPv4 part, a zone or
  // anything unusual goes through the guard's full parser.
  if (ip.indexOf('.') === -1 && ipv6Groups(ip, groups) && !sharedNetwork(((groups[0]! << 16) | groups[1]!) >>> 0, ((groups[2]! << 16) | groups[3]!) >>> 0)) {
    // RFC 5952: the longest run of zero groups is compressed; for a /64 network that is the
    // trailing one (the last four groups and any zero groups before them).
    let last = 3;
    while (last >= 0 && groups[last] === 0) last--;
    let text = '';
    for (let i = 0; i <= last; i++) text += (i === 0 ? '' : ':') + groups[i]!.toString(16);
    return `${text}::/64`;
  }
  const prefix = parseIpPrefix(ip);
  if (prefix === null || prefix.bits !== (prefix.family === 4 ? 32 : 128)) return null;
  if (prefix.family === 4) return formatIpPrefix(prefix);
  if (sharedNetwork(prefix.net[0]!, prefix.net[1]!)) return formatIpPrefix(prefix);
  const net = new Uint32Array(4);
  for (let i = 0; i < 2; i++) net[i] = prefix.net[i]! & v6WordMask(64, i);
  return formatIpPrefix({ family: 6, net, bits: 64 });
}

/** An IPv6 address in the canonical text decisions use; null when it is not one address. */
function singleAddress(ip: string): string | null {
  const prefix = parseIpPrefix(ip);
  return prefix === null || prefix.bits !== 128 ? null : formatIpPrefix(prefix);
}

/**
 * True for the IPv6 networks whose /64 is shared by unrelated hosts, where each address is a
 * client of its own (`w0`, `w1`: the address's first two 32-bit words): `::/64` (loopback,
 * IPv4-compatible and IPv4-translated addresses, RFC 4291 section 2.5.5 and RFC 2765),
 * `64:ff9b::/96` and `64:ff9b:1::/48` (IPv4 hosts seen through NAT64/SIIT, RFC 6052 and RFC
 * 8215), and Teredo `2001::/32` (its /64 names the Teredo server, RFC 4380 section 4). Banning
 * their /64 would ban every IPv4 user behind the translator.
 */
function sharedNetwork(w0: number, w1: number): boolean {
  if (w0 === 0) return w1 === 0;
  if (w0 === 0x0064ff9b) return w1 === 0 || w1 >>> 16 === 1;
  return w0 === 0x20010000;
}

/**
 * Reads IPv6 text of hex groups only (RFC 4291 section 2.2 forms 1 and 2: 1-4 hex digits a
 * group, at most one `::`) into eight groups; false when it is not that.
 */
function ipv6Groups(ip: string, out: Uint16Array): boolean {
  const n = ip.length;
  let count = 0;
  let gap = -1;
  let i = 0;
  if (n >= 2 && ip.charCodeAt(0) === 58 && ip.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  } else if (n === 0 || ip.charCodeAt(0) === 58) {
    return false;
  }
  while (i < n) {
    if (count === 8) return false;
    let value = 0;
    let digits = 0;
    for (; i < n; i++, digits++) {
      const d = hexDigitValue(ip.charCodeAt(i));
      if (d < 0) break;
      value = value * 16 + d;
    }
    if (digits === 0 || digits > 4) return false;
    out[count++] = value;
    if (i === n) break;
    if (ip.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && ip.charCodeAt(i) === 58) {
      if (gap !== -1) return false;
      gap = count;
      i++;
    } else if (i === n) {
      return false;
    }
  }
  if (gap === -1) return count === 8;
  // `::` stands for at least one zero group (RFC 4291 section 2.2).
  if (count > 7) return false;
  const tail = count - gap;
  for (let k = tail - 1; k >= 0; k--) out[8 - tail + k] = out[gap + k]!;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
