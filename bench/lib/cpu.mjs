import { readFileSync, readdirSync } from 'node:fs';

// USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every Linux architecture the
// bench runs on (sysconf(_SC_CLK_TCK) is not reachable from Node without a native module).
const CLK_TCK = 100;

/**
 * CPU seconds (user + system, all threads) used so far by every process in a process group.
 * A process that exited meanwhile (never the case for the servers here) drops out of the sum.
 * @param {number} pgid
 * @returns {number}
 */
export function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // comm (field 2) may contain spaces and parentheses: fields after it start at the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue; // pgrp
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
      // exited meanwhile
    }
  }
  return ticks / CLK_TCK;
}
