// Renders the identity bench's results as Markdown: each figure beside the target and
// Keycloak's published per-vCPU sizing figure, then the raw crypto rates on the same core.

/**
 * @typedef {object} GrantRow
 * @property {string} scenario
 * @property {string} label
 * @property {number} rate        median successes per second
 * @property {number} rateMin
 * @property {number} rateMax
 * @property {number} serverCpuPct median
 * @property {number} perCpuS     median of rate / server CPU share: one fully busy core
 * @property {number} loadCpuPct  median CPU of the load generator, % of its core
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} successes   over all rounds
 * @property {number} failures    over all rounds
 * @property {Record<string, number>} failuresByStep
 * @property {number} peakRssKiB
 * @property {number} target
 * @property {number} keycloak
 * @property {number} concurrency
 *
 * @typedef {{ key: string, label: string, rate: number, perCpuS: number }} CryptoRow
 * @typedef {import('./identity-profile.mjs').ProfileSummary & { scenario: string }} ProfileRow
 */

const MB = 1e6;

/**
 * @param {{ header: string[], grants: GrantRow[], startRssKiB: number, idleRssKiB: number, afterRssKiB: number | null,
 *   rssTargetMB: number, keycloakMemoryMB: number, crypto: CryptoRow[], argon2: string | null,
 *   profiles: ProfileRow[], notes: string[] }} data
 * @returns {string}
 */
export function renderIdentityReport({ header, grants, startRssKiB, idleRssKiB, afterRssKiB, rssTargetMB, keycloakMemoryMB, crypto, argon2, profiles, notes }) {
  const out = ['# Portcullis identity provider benchmark', '', ...header, ''];
  out.push(
    '| figure | measured | min–max | server CPU | per CPU-s | target | Keycloak per vCPU | × Keycloak | target met |',
    '|---|---:|---:|---:|---:|---:|---:|---:|:---:|',
  );
  for (const g of grants) {
    const met = g.failures > 0 ? 'errors' : g.perCpuS >= g.target ? 'yes' : 'no';
    out.push(`| ${g.label} | ${num(g.rate)}/s | ${num(g.rateMin)}–${num(g.rateMax)} | ${pct(g.serverCpuPct)} | ${num(g.perCpuS)}/s | ≥ ${g.target}/s | ${g.keycloak}/s | ${ratio(g.perCpuS / g.keycloak)} | ${met} |`);
  }
  const idleMB = (idleRssKiB * 1024) / MB;
  out.push(`| RSS after start (discovery answered, idle 1 s) | ${mem(startRssKiB)} | | | | | | | |`);
  out.push(`| idle RSS, provider enabled (after one login, idle 2 s) | ${mem(idleRssKiB)} | | | | ≤ ${rssTargetMB} MB | ≈ ${keycloakMemoryMB / 1000} GB per node | ${ratio(idleMB / keycloakMemoryMB)} | ${idleMB <= rssTargetMB ? 'yes' : 'no'} |`);
  const peak = Math.max(0, ...grants.map((g) => g.peakRssKiB));
  if (peak > 0) out.push(`| peak RSS under load | ${mem(peak)} | | | | | | ${ratio((peak * 1024) / MB / keycloakMemoryMB)} | |`);
  if (afterRssKiB !== null) out.push(`| RSS after the load, idle 2 s | ${mem(afterRssKiB)} | | | | | | | |`);
  out.push('', '"per CPU-s" is the rate divided by the share of its core the server got: what one fully busy core does. ' +
    'The targets and the Keycloak ratio are judged on it, since another job on the machine can take part of the core away.');

  out.push('', '## Per scenario', '',
    '| scenario | concurrency | successes | failures | p50 | p99 | load generator CPU | peak server RSS |',
    '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const g of grants) {
    out.push(`| ${g.label} | ${g.concurrency} | ${g.successes} | ${g.failures}${failureDetail(g.failuresByStep)} | ${ms(g.p50Ms)} | ${ms(g.p99Ms)} | ${pct(g.loadCpuPct)} | ${mem(g.peakRssKiB)} |`);
  }

  if (crypto.length > 0) {
    out.push('', '## Raw cryptography on the server core', '',
      'The ceiling under each figure: a login checks one password and signs one ID token; a refresh ' +
      'grant signs one ID token (its access token is opaque); a client_credentials grant signs one JWT ' +
      'access token. The rest of the server\'s time goes to HTTP, oidc-provider and the database.', '',
      '| operation | per second | per CPU-s |', '|---|---:|---:|');
    for (const c of crypto) out.push(`| ${c.label} | ${num(c.rate)} | ${num(c.perCpuS)} |`);
    if (argon2) out.push('', `argon2id parameters: ${argon2}.`);
  }

  for (const p of profiles) {
    out.push('', `## Server CPU profile: ${p.scenario}`, '',
      `${(p.totalMs / 1000).toFixed(1)} s of samples${p.windowed ? ' inside the measured windows' : ' (whole run: the windows matched no sample)'}. ` +
      'Main thread only: argon2 runs on libuv\'s pool and shows up here as (idle); WebCrypto signing (jose, so every JWT) runs ' +
      'synchronously on the main thread in Node 24 and shows up as self time of node:internal/crypto/util jobPromise. ' +
      'node:sqlite runs synchronously too: its time is the self time of the dialect\'s run/all/prepare.', '',
      '| package | self | share |', '|---|---:|---:|');
    for (const k of p.packages.slice(0, 12)) out.push(`| ${k.name} | ${k.selfMs.toFixed(0)} ms | ${k.pct.toFixed(1)} % |`);
    out.push('', '| function | where | self | share |', '|---|---|---:|---:|');
    for (const f of p.functions) out.push(`| ${escape(f.name)} | ${escape(f.where)} | ${f.selfMs.toFixed(0)} ms | ${f.pct.toFixed(1)} % |`);
  }

  if (notes.length > 0) out.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** @param {Record<string, number>} byStep */
function failureDetail(byStep) {
  const parts = Object.entries(byStep).map(([step, n]) => `${escape(step)}: ${n}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** @param {string} s */
function escape(s) {
  return s.replaceAll('|', '\\|');
}

/** @param {number} n */
function num(n) {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

/** @param {number} r */
function ratio(r) {
  return Number.isFinite(r) && r > 0 ? `${r < 0.1 ? r.toFixed(3) : r.toFixed(2)}×` : '–';
}

/** @param {number} n */
function pct(n) {
  return Number.isFinite(n) ? `${Math.round(n)} %` : '–';
}

/** @param {number} n */
function ms(n) {
  if (!Number.isFinite(n)) return '–';
  return `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`;
}

/** @param {number} kib */
function mem(kib) {
  if (!(kib > 0)) return '–';
  return `${(kib / 1024).toFixed(1)} MiB (${((kib * 1024) / MB).toFixed(1)} MB)`;
}
