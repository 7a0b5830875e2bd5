import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/**
 * @typedef {object} Proc
 * @property {string} name
 * @property {number} pid  also its process group id (started detached)
 * @property {string} [logFile]
 * @property {() => boolean} exited
 * @property {Promise<{ code: number | null, signal: string | null }>} done
 */

/**
 * Tracks every process the bench starts so that all of them are stopped at the end, on Ctrl-C
 * and on errors. Each runs in its own process group: stopping the group also stops children
 * such as nginx workers. `cpus` pins a process with taskset (children inherit the mask).
 * @param {{ taskset: string | null }} opts
 */
export function createProcessSet({ taskset }) {
  /** @type {Map<number, Proc>} */
  const running = new Map();

  /**
   * @param {string} command @param {string[]} args @param {string | undefined} cpus
   * @returns {[string, string[]]}
   */
  function argv(command, args, cpus) {
    return cpus && taskset ? [taskset, ['-c', cpus, command, ...args]] : [command, args];
  }

  /**
   * @param {{ child: import('node:child_process').ChildProcess, name: string, logFile?: string }} p
   * @returns {Proc}
   */
  function track({ child, name, logFile }) {
    if (child.pid === undefined) throw new Error(`${name}: could not start`);
    const pid = child.pid;
    let isDone = false;
    const done = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        isDone = true;
        running.delete(pid);
        resolve({ code, signal });
      });
      child.once('error', () => {
        isDone = true;
        running.delete(pid);
        resolve({ code: null, signal: null });
      });
    });
    const proc = { name, pid, logFile, exited: () => isDone, done };
    running.set(pid, proc);
    return proc;
  }

  /**
   * Starts a long-running server; its stdout and stderr go to `logFile`.
   * @param {{ name: string, command: string, args: string[], cwd?: string,
   *   env?: NodeJS.ProcessEnv, cpus?: string, logFile: string }} opts
   * @returns {Proc}
   */
  function start({ name, command, args, cwd, env, cpus, logFile }) {
    const fd = openSync(logFile, 'a');
    try {
      const [file, list] = argv(command, args, cpus);
      const child = spawn(file, list, { cwd, env, stdio: ['ignore', fd, fd], detached: true });
      return track({ child, name, logFile });
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Runs a command to completion (killed after `timeoutMs`) and collects its output.
   * @param {{ name: string, command: string, args: string[], cpus?: string, timeoutMs: number }} opts
   * @returns {Promise<{ code: number | null, stdout: string, stderr: string, timedOut: boolean }>}
   */
  async function run({ name, command, args, cpus, timeoutMs }) {
    const [file, list] = argv(command, args, cpus);
    const child = spawn(file, list, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const proc = track({ child, name });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s) => { stdout += s; });
    child.stderr?.setEncoding('utf8').on('data', (s) => { stderr += s; });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(proc.pid, 'SIGKILL');
    }, timeoutMs);
    const { code } = await proc.done;
    clearTimeout(timer);
    // 'exit' can fire before the pipes drain.
    await Promise.all([streamEnd(child.stdout), streamEnd(child.stderr)]);
    return { code, stdout, stderr, timedOut };
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`; always sweeps the group for leftover children.
   * @param {Proc} proc @param {number} graceMs
   */
  async function stop(proc, graceMs = 3000) {
    if (!proc.exited()) {
      killGroup(proc.pid, 'SIGTERM');
      const timer = new Promise((r) => setTimeout(r, graceMs, 'timeout'));
      if ((await Promise.race([proc.done, timer])) === 'timeout') {
        killGroup(proc.pid, 'SIGKILL');
        await proc.done;
      }
    }
    killGroup(proc.pid, 'SIGKILL');
  }

  async function stopAll() {
    await Promise.all([...running.values()].map((p) => stop(p)));
  }

  /** Last resort from a synchronous 'exit' handler. */
  function killAllSync() {
    for (const pid of running.keys()) killGroup(pid, 'SIGKILL');
  }

  return { start, run, stop, stopAll, killAllSync };
}

/** @param {number} pgid @param {NodeJS.Signals} signal */
function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

/** @param {import('node:stream').Readable | null} stream */
function streamEnd(stream) {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

/**
 * Last lines of a server's log, for error messages.
 * @param {string | undefined} file @param {number} lines
 */
export function logTail(file, lines = 15) {
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
