// How fast the guard's decision index answers "is this address decided?" as it grows:
// `node bench/decision-lookups.mjs` (Node 24: it imports the TypeScript sources directly).
//
// For 1k, 100k and 1M active decisions (90% single IPv4 addresses, 8% IPv4 /24s, 2% IPv6
// /64s), it times lookups of addresses that match nothing (every request's cost when no ban
// applies), of banned IPv4 addresses, and of IPv6 addresses, and reports lookups per second
// and the heap the index takes. A figure, not a test: nothing here is asserted.
import { createDecisionIndex } from '../packages/portcullis/src/guard/decision-index.ts';

const LOOKUPS = 2_000_000;
const clock = { now: () => 1_700_000_000_000 };

function valueOf(i) {
  if (i % 50 === 0) return `2001:db8:${((i >>> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}::/64`;
  if (i % 12 === 0) return `172.${16 + ((i >>> 16) & 15)}.${(i >>> 8) & 255}.0/24`;
  const a = i & 0xffffff;
  return `${10 + (i >>> 24)}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

function measure(index, addresses) {
  let found = 0;
  // Warm up the JIT on the same code path first.
  for (let i = 0; i < 200_000; i++) if (index.match(addresses[i % addresses.length]) !== null) found++;
  found = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) if (index.match(addresses[i % addresses.length]) !== null) found++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { rate: LOOKUPS / seconds, found };
}

const rows = [];
for (const size of [1_000, 100_000, 1_000_000]) {
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const index = createDecisionIndex({ clock });
  const decisions = [];
  for (let i = 0; i < size; i++) decisions.push({ id: i + 1, kind: 'ban', scope: 'ip', value: valueOf(i), reason: '', origin: 'bench', createdAt: 0, expiresAt: null });
  const loadStart = process.hrtime.bigint();
  index.replaceAll(decisions);
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
  decisions.length = 0;
  globalThis.gc?.();
  const heapMb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  const misses = Array.from({ length: 4096 }, (_, i) => `192.0.${(i >>> 8) & 255}.${i & 255}`);
  const hits = [];
  for (let i = 0; i < size && hits.length < 4096; i += 7) if (!valueOf(i).includes('/')) hits.push(valueOf(i));
  const v6 = Array.from({ length: 4096 }, (_, i) => `2001:db8:ffff:${i.toString(16)}::1`);
  const miss = measure(index, misses);
  const hit = measure(index, hits);
  const six = measure(index, v6);
  rows.push([size, index.size, loadMs, heapMb, miss.rate, hit.rate, hit.found === LOOKUPS, six.rate]);
}

const f = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(0)}k`);
console.log(`node ${process.version}, ${LOOKUPS / 1e6}M lookups per figure${globalThis.gc ? '' : ' (run with --expose-gc for steadier heap figures)'}`);
console.log('decisions  held     load ms  heap MB  IPv4 miss/s  IPv4 hit/s  IPv6 miss/s');
for (const [size, held, loadMs, heapMb, miss, hit, allHit, six] of rows) {
  console.log(
    `${f(size).padEnd(9)}  ${String(held).padEnd(7)}  ${loadMs.toFixed(0).padStart(7)}  ${heapMb.toFixed(1).padStart(7)}  ${f(miss).padStart(11)}  ${f(hit).padStart(10)}${allHit ? '' : '?'}  ${f(six).padStart(11)}`,
  );
}
