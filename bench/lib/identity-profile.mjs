// Where the server's CPU went: self time per function, and per package, from a V8 .cpuprofile
// (node --cpu-prof), counting only samples inside given time windows (the measured part of a
// scenario). V8 stamps samples with the monotonic clock in microseconds, the clock
// process.hrtime reads in every process on the machine, so the load generator's window bounds
// select the same span in the server's profile.
import { readFileSync } from 'node:fs';

/**
 * @typedef {{ functionName: string, url: string, lineNumber: number }} CallFrame
 * @typedef {{ id: number, callFrame: CallFrame, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }} CpuProfile
 * @typedef {{ name: string, where: string, selfMs: number, pct: number }} Hot
 * @typedef {{ totalMs: number, windowed: boolean, functions: Hot[], packages: Hot[] }} ProfileSummary
 */

/**
 * @param {string} file a .cpuprofile
 * @param {{ startUs: number, endUs: number }[]} windows monotonic microseconds; empty: all samples
 * @param {number} top how many functions to list
 * @returns {ProfileSummary}
 */
export function summariseProfile(file, windows, top = 25) {
  /** @type {CpuProfile} */
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} node id -> self microseconds */
  const self = new Map();
  const inWindow = (/** @type {number} */ t) => windows.some((w) => t >= w.startUs && t <= w.endUs);
  let t = profile.startTime;
  let counted = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    // The sample's time is its own stamp; the time it stands for is the gap to the next one.
    const span = profile.timeDeltas[i + 1] ?? 0;
    if (windows.length > 0 && !inWindow(t)) continue;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + span);
    counted++;
  }
  // A window that matches no sample means the clocks did not line up: fall back to everything.
  if (windows.length > 0 && counted === 0) return summariseProfile(file, [], top);

  /** @type {Map<string, Hot>} */
  const functions = new Map();
  /** @type {Map<string, Hot>} */
  const packages = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    total += us;
    const name = frame.functionName || '(anonymous)';
    const where = shortUrl(frame.url, frame.lineNumber);
    const key = `${name}\0${where}`;
    const fn = functions.get(key) ?? { name, where, selfMs: 0, pct: 0 };
    fn.selfMs += us / 1000;
    functions.set(key, fn);
    const pkg = packageOf(frame);
    const p = packages.get(pkg) ?? { name: pkg, where: '', selfMs: 0, pct: 0 };
    p.selfMs += us / 1000;
    packages.set(pkg, p);
  }
  const ranked = (/** @type {Map<string, Hot>} */ m) => [...m.values()]
    .map((h) => ({ ...h, pct: total > 0 ? (100 * h.selfMs * 1000) / total : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: total / 1000, windowed: windows.length > 0, functions: ranked(functions).slice(0, top), packages: ranked(packages) };
}

/** @param {string} url @param {number} line */
function shortUrl(url, line) {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  const src = url.indexOf('/packages/portcullis/');
  const short = nm !== -1 ? url.slice(nm + '/node_modules/'.length) : src !== -1 ? url.slice(src + '/packages/'.length) : url.replace(/^file:\/\//, '');
  return `${short}:${line + 1}`;
}

/**
 * What a frame belongs to: an npm package, Portcullis itself, Node's own JavaScript, or V8's
 * pseudo-frames ((garbage collector), (program): native code such as crypto and sqlite, (idle)).
 * @param {CallFrame} frame
 */
function packageOf(frame) {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0] ?? url;
  }
  if (url.startsWith('node:')) return 'node: (core JS)';
  if (url.includes('/packages/portcullis/')) return 'portcullis';
  return url;
}
