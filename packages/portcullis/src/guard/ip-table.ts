/**
 * A map from IP prefixes to values that answers "which prefixes contain this address" in a
 * time set by the number of distinct prefix lengths present, never by the number of entries:
 * one Map per prefix length, keyed by the masked network, so a lookup is one Map.get per
 * length (at most 33 for IPv4, 129 for IPv6; in practice a handful).
 *
 * IPv4 keys are signed 32-bit numbers (small integers to V8: an unsigned key above 2^31 would
 * be boxed on every lookup), so an IPv4 lookup allocates nothing. IPv6 keys are short strings of
 * the masked words, built per lookup; IPv6 clients also pay the kernel parser's arrays.
 */
import { parseIp, parseIpv4 } from '../kernel/ip-ranges.ts';
import { V4_MASKS, v6WordMask, type IpPrefix } from './ip-prefix.ts';

export interface IpTable<T> {
  /** Number of prefixes held. */
  readonly size: number;
  get(prefix: IpPrefix): T | undefined;
  set(prefix: IpPrefix, value: T): void;
  delete(prefix: IpPrefix): boolean;
  /**
   * Writes the value of every prefix containing `ip` (any text the kernel parser accepts;
   * IPv4-mapped IPv6 is IPv4) into `out`, most specific first; returns how many. `out` is the
   * caller's reusable scratch array: the lookup itself allocates nothing for IPv4.
   */
  collect(ip: string, out: T[]): number;
  /** The value of the most specific prefix containing `ip`, or undefined. */
  first(ip: string): T | undefined;
  clear(): void;
}

/** An empty table. */
export function createIpTable<T>(): IpTable<T> {
  const v4 = new Array<Map<number, T> | undefined>(33);
  const v6 = new Array<Map<string, T> | undefined>(129);
  /** Prefix lengths with at least one entry, longest first. */
  let lengths4: number[] = [];
  let lengths6: number[] = [];
  let size = 0;

  const mapFor = (prefix: IpPrefix, create: boolean): Map<number, T> | Map<string, T> | undefined => {
    const maps = prefix.family === 4 ? v4 : v6;
    let map = maps[prefix.bits];
    if (map === undefined && create) {
      map = new Map();
      maps[prefix.bits] = map as never;
      if (prefix.family === 4) lengths4 = presentLengths(v4);
      else lengths6 = presentLengths(v6);
    }
    return map;
  };
  const keyOf = (prefix: IpPrefix): number | string => (prefix.family === 4 ? prefix.net | 0 : v6Key(prefix.net, prefix.bits));

  /** The shared walk: calls `found` per match, most specific first, until it returns false. */
  function walk(ip: string, found: (value: T) => boolean): void {
    let a = ip.indexOf(':') === -1 ? parseIpv4(ip) : -1;
    let words: Uint32Array | null = null;
    if (a === -1) {
      const parsed = parseIp(ip);
      if (parsed === null) return;
      if ('v4' in parsed) a = parsed.v4;
      else words = parsed.v6;
    }
    if (words === null) {
      for (let i = 0; i < lengths4.length; i++) {
        const bits = lengths4[i]!;
        const value = v4[bits]!.get(a & V4_MASKS[bits]!);
        if (value !== undefined && !found(value)) return;
      }
      return;
    }
    for (let i = 0; i < lengths6.length; i++) {
      const bits = lengths6[i]!;
      const value = v6[bits]!.get(v6Key(words, bits));
      if (value !== undefined && !found(value)) return;
    }
  }

  // Module-level closures would be shared by every table; these are per table and reused,
  // so collect() and first() allocate no callback per call.
  let out: T[] = NONE;
  let count = 0;
  let firstValue: T | undefined;
  const push = (value: T): boolean => {
    out[count++] = value;
    return true;
  };
  const takeFirst = (value: T): boolean => {
    firstValue = value;
    return false;
  };

  return {
    get size() {
      return size;
    },
    get(prefix) {
      return (mapFor(prefix, false) as Map<number | string, T> | undefined)?.get(keyOf(prefix));
    },
    set(prefix, value) {
      const map = mapFor(prefix, true) as Map<number | string, T>;
      const key = keyOf(prefix);
      if (!map.has(key)) size++;
      map.set(key, value);
    },
    delete(prefix) {
      const map = mapFor(prefix, false) as Map<number | string, T> | undefined;
      if (map === undefined || !map.delete(keyOf(prefix))) return false;
      size--;
      if (map.size === 0) {
        if (prefix.family === 4) {
          v4[prefix.bits] = undefined;
          lengths4 = presentLengths(v4);
        } else {
          v6[prefix.bits] = undefined;
          lengths6 = presentLengths(v6);
        }
      }
      return true;
    },
    collect(ip, target) {
      out = target;
      count = 0;
      walk(ip, push);
      out = NONE;
      return count;
    },
    first(ip) {
      firstValue = undefined;
      walk(ip, takeFirst);
      const value = firstValue;
      firstValue = undefined;
      return value;
    },
    clear() {
      v4.fill(undefined);
      v6.fill(undefined);
      lengths4 = [];
      lengths6 = [];
      size = 0;
    },
  };
}

/** Where collect() writes between calls: never the caller's array, so none is kept alive. */
const NONE: never[] = [];

function presentLengths(maps: readonly (Map<unknown, unknown> | undefined)[]): number[] {
  const lengths: number[] = [];
  for (let bits = maps.length - 1; bits >= 0; bits--) if (maps[bits] !== undefined) lengths.push(bits);
  return lengths;
}

/** The masked network of an IPv6 address as a Map key. */
function v6Key(words: Uint32Array, bits: number): string {
  return `${(words[0]! & v6WordMask(bits, 0)) >>> 0}.${(words[1]! & v6WordMask(bits, 1)) >>> 0}.${(words[2]! & v6WordMask(bits, 2)) >>> 0}.${(words[3]! & v6WordMask(bits, 3)) >>> 0}`;
}
