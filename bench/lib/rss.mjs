import { readdirSync, readFileSync } from 'node:fs';

/**
 * Resident set size, in KiB, of every process in process group `pgid` (a server started in its
 * own group: the server plus any workers it forked, such as nginx's). Linux /proc only.
 * @param {number} pgid
 * @returns {number}
 */
export function groupRssKiB(pgid) {
  return groupMemoryKiB(pgid).rss;
}

/**
 * The group's RSS in KiB, and its two parts (/proc/PID/status RssAnon and RssFile): `anon`,
 * the memory the servers allocated for themselves (heap, buffers, stacks); `file`, pages of
 * their program and library files mapped in (code and read-only data), shared with every
 * other process running the same binary and dropped by the kernel under memory pressure.
 * @param {number} pgid
 * @returns {{ rss: number, anon: number, file: number }}
 */
export function groupMemoryKiB(pgid) {
  const total = { rss: 0, anon: 0, file: 0 };
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    if (processGroup(entry) !== pgid) continue;
    const status = statusOf(entry);
    total.rss += statusKiB(status, 'VmRSS');
    total.anon += statusKiB(status, 'RssAnon');
    total.file += statusKiB(status, 'RssFile');
  }
  return total;
}

/** @param {string} pid @returns {number} */
function processGroup(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm (field 2) may contain spaces and parentheses: fields after it start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]); // state, ppid, pgrp
  } catch {
    return -1; // exited meanwhile
  }
}

/** @param {string} pid @returns {string} */
function statusOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return ''; // exited meanwhile
  }
}

/** @param {string} status @param {string} field @returns {number} */
function statusKiB(status, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

/**
 * Samples a group's RSS every `intervalMs` until stopped; `stop()` returns the peak in KiB.
 * @param {number} pgid
 * @param {number} intervalMs
 * @returns {{ stop: () => number }}
 */
export function samplePeakRss(pgid, intervalMs = 200) {
  let peak = groupRssKiB(pgid);
  const timer = setInterval(() => {
    peak = Math.max(peak, groupRssKiB(pgid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, groupRssKiB(pgid));
    },
  };
}
