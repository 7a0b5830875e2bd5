// What every bench script needs around its measurements: option parsing, pinning itself to the
// load generator's cores, stopping its processes on Ctrl-C, and tolerant version probes.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { findBinary } from './which.mjs';

/**
 * An integer option: `raw` (a flag's value or an env var), else `fallback`; throws when it is
 * not an integer within [min, max].
 * @param {string | undefined} raw @param {number} fallback @param {number} min
 * @param {number} max @param {string} name
 */
export function intOption(raw, fallback, min, max, name) {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, not '${raw}'`);
  return n;
}

/**
 * Stops every process on Ctrl-C, kill or exit, and removes the temp dir unless it is kept.
 * @param {{ stopAll(): Promise<unknown>, killAllSync(): void }} procs
 * @param {{ keep: boolean, interrupted: boolean }} state @param {string} dir
 * @param {string} label the script's name in messages (`bench:gate`)
 * @param {string} kept what the temp dir holds, for the message when it is kept
 */
export function installCleanup(procs, state, dir, label, kept) {
  /** @type {[NodeJS.Signals, number][]} */
  const signals = [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]];
  for (const [signal, code] of signals) {
    process.on(signal, () => {
      if (state.interrupted) return;
      state.interrupted = true;
      console.error(`\n${label}: ${signal}: stopping`);
      procs.stopAll().finally(() => {
        if (!state.keep) rmSync(dir, { recursive: true, force: true });
        else console.error(`${label}: ${kept} kept in ${dir}`);
        process.exit(code);
      });
    });
  }
  process.on('exit', () => procs.killAllSync());
}

/**
 * Moves this harness (all threads) onto the load generator's cores.
 * @param {string} taskset @param {string | undefined} cpus
 */
export function pinSelf(taskset, cpus) {
  if (cpus === undefined) return;
  try {
    execFileSync(taskset, ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore', timeout: 5000 });
  } catch {
    // best effort: the harness is idle while the load generator runs
  }
}

/**
 * stdout of a version probe, '' when the program is missing or fails.
 * @param {string} command @param {string[]} args
 */
export function safeExec(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // wrk --version exits 1 after printing its banner.
    return typeof (/** @type {any} */ (err))?.stdout === 'string' ? /** @type {any} */ (err).stdout : '';
  }
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Where the server and the load run: with taskset and two cores or more, the server on
 * BENCH_SERVER_CPUS (0) and this harness with the load generator on BENCH_LOAD_CPUS (1);
 * else unpinned. Notes for the report say when it is not pinned or the machine was busy.
 * @param {string} label the script's name in messages
 * @param {string[]} notes the report's notes, appended to
 * @param {string} sharing who shares the machine when not pinned, for the note
 */
export function placeOnCores(label, notes, sharing) {
  const taskset = findBinary('taskset');
  // Read before pinning: afterwards this process sees only the load generator's cores.
  const cpuCount = availableParallelism();
  const pinned = taskset !== null && cpuCount >= 2;
  const serverCpus = pinned ? process.env.BENCH_SERVER_CPUS ?? '0' : undefined;
  const loadCpus = pinned ? process.env.BENCH_LOAD_CPUS ?? '1' : undefined;
  if (!pinned) notes.push(`Not pinned to cores (taskset missing or a single CPU): ${sharing} share the machine.`);
  if (pinned && taskset !== null) pinSelf(taskset, loadCpus);
  // Other work on the machine (a test suite, a build) skews every number: say so in the report.
  const loadAtStart = loadavg()[0] ?? 0;
  if (loadAtStart > 0.7) {
    const msg = `The machine was busy when the bench started (1-min load average ${loadAtStart.toFixed(2)}): rates are lower and noisier than on a quiet machine; "per CPU-s" corrects for the share of the core the server got.`;
    console.error(`${label}: warning: ${msg}`);
    notes.push(msg);
  }
  return { taskset, cpuCount, serverCpus, loadCpus };
}
