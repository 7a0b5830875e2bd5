import { readdirSync, readFileSync } from 'node:fs';

/**
 * Resident set size, in KiB, of every process in process group `pgid` (a server started in its
 * own group: the server plus any workers it forked, such as nginx's). Linux /proc only.
 * @param {number} pgid
 * @returns {number}
 */
export function groupRssKiB(pgid) {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    if (processGroup(entry) !== pgid) continue;
    total += vmRssKiB(entry);
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

/** @param {string} pid @returns {number} */
function vmRssKiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
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
