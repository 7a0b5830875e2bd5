/**
 * Renders the bench results as Markdown.
 *
 * @typedef {{ scenario: string, server: string, rps: number, rpsMin: number, rpsMax: number,
 *   p50Ms: number, p99Ms: number, cpuPct: number, perCpuS: number, peakRssKiB: number,
 *   errors: number, rounds: number }} Row
 *   p50Ms/p99Ms are NaN where the load generator gives no percentiles (h2load).
 * @typedef {{ server: string, label: string, idleRssKiB: number, idleAnonKiB: number, idleFileKiB: number }} Idle
 */

/** The reference server's name (bench/peers/node-bare.mjs). */
const BARE_NODE = 'node-bare';

/**
 * @param {{ header: string[], scenarios: { name: string, label: string }[],
 *   servers: { name: string, label: string }[], rows: Row[], idle: Idle[], notes: string[] }} data
 * @returns {string}
 */
export function renderReport({ header, scenarios, servers, rows, idle, notes }) {
  const label = Object.fromEntries(servers.map((s) => [s.name, s.label]));
  const out = ['# Portcullis benchmark', '', ...header, ''];

  out.push('| scenario | server | rps | rps min–max | p50 | p99 | server CPU | per CPU-s | peak RSS | errors |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const sc of scenarios) {
    for (const s of servers) {
      const r = rows.find((x) => x.scenario === sc.name && x.server === s.name);
      if (!r) continue;
      out.push(`| ${sc.label} | ${s.label} | ${int(r.rps)} | ${int(r.rpsMin)}–${int(r.rpsMax)} | ` +
        `${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${pct(r.cpuPct)} | ${int(r.perCpuS)} | ${mib(r.peakRssKiB)} | ${r.errors} |`);
    }
  }

  const subject = servers[0];
  // bare Node is the reference for what Node itself reaches, not a peer: it gets one column
  // of its own (subject rps / bare Node rps), shown only when it produced rows.
  const bare = servers.find((s) => s.name === BARE_NODE);
  const bareColumn = subject !== undefined && bare !== undefined && subject !== bare &&
    rows.some((r) => r.server === BARE_NODE);
  const others = servers.slice(1).filter((s) => s !== bare);
  if (subject && (others.length > 0 || bareColumn)) {
    out.push('', `## Ratios: ${subject.label} / peer`, '',
      'rps and per CPU-s: above 1 means faster than the peer (per CPU-s: per second of server CPU, ' +
      'the fair comparison when a server was not saturated). p99: below 1 means lower tail latency.' +
      (bareColumn && bare ? ` rps vs ${bare.label}: ${subject.label}'s rps over the bare Node reference server's, ` +
        'how close it comes to what Node itself does here (1 would be the ceiling).' : ''), '');
    /** @type {('rps' | 'perCpuS' | 'p99Ms')[]} */
    const keys = ['rps', 'perCpuS', 'p99Ms'];
    const name = { rps: 'rps', perCpuS: 'per CPU-s', p99Ms: 'p99' };
    /** The columns in order: each key against each peer, rps also against bare Node. */
    const columns = keys.flatMap((k) => [
      ...others.map((o) => ({ key: k, peer: o })),
      ...(k === 'rps' && bareColumn && bare ? [{ key: k, peer: bare }] : []),
    ]);
    out.push(`| scenario | ${columns.map((c) => `${name[c.key]} vs ${c.peer.label}`).join(' | ')} |`);
    out.push(`|---|${columns.map(() => '---:').join('|')}|`);
    for (const sc of scenarios) {
      const mine = rows.find((x) => x.scenario === sc.name && x.server === subject.name);
      if (!mine) continue;
      const cell = (/** @type {string} */ other, /** @type {'rps' | 'perCpuS' | 'p99Ms'} */ key) => {
        const theirs = rows.find((x) => x.scenario === sc.name && x.server === other);
        return theirs && theirs[key] > 0 && mine[key] > 0 ? `${(mine[key] / theirs[key]).toFixed(2)}×` : '–';
      };
      out.push(`| ${sc.label} | ${columns.map((c) => cell(c.peer.name, c.key)).join(' | ')} |`);
    }
  }

  if (idle.length > 0) {
    out.push(
      '', '## Idle RSS (after start, before load)', '',
      'RSS is the sum of two parts: the memory the server allocated for itself (anonymous), and the pages of its program',
      'and library files mapped in (its code, shared with every process running the same binary, dropped under memory',
      'pressure). Measured on Node 24 here: an empty `node` process maps 34 MiB of its binary, one that loads node:http,', 
      'node:http2 and undici and serves a request about 46 MiB.', '',
      '| server | idle RSS | allocated (anonymous) | program files mapped |', '|---|---:|---:|---:|',
    );
    for (const i of idle) out.push(`| ${label[i.server] ?? i.server} | ${mib(i.idleRssKiB)} | ${mib(i.idleAnonKiB)} | ${mib(i.idleFileKiB)} |`);
  }
  if (notes.length > 0) out.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** @param {number} n */
function int(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** @param {number} n */
function ms(n) {
  if (!Number.isFinite(n)) return '–';
  return `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`;
}

/** @param {number} n */
function pct(n) {
  return Number.isFinite(n) ? `${Math.round(n)} %` : '–';
}

/** @param {number} kib */
function mib(kib) {
  return `${(kib / 1024).toFixed(1)} MiB`;
}
