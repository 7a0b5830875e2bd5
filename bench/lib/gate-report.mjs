// Renders the gate bench's results as Markdown: the three routes side by side, their ratios to
// the open route, the verification rates, each figure beside the target.

/**
 * @typedef {object} RouteRow
 * @property {string} name
 * @property {string} label
 * @property {number} rps           median over rounds
 * @property {number} rpsMin
 * @property {number} rpsMax
 * @property {number} p50Ms         median over rounds
 * @property {number} p99Ms         median over rounds
 * @property {number} serverCpuPct  median, % of one core
 * @property {number} perCpuS       median of rps / server CPU share
 * @property {number} requests      over all rounds
 * @property {number} statusErrors  over all rounds: responses above 399
 * @property {number} socketErrors  over all rounds
 *
 * @typedef {{ route: string, rps: number, perCpuS: number, p99: number, perRound: number[] }} RatioRow
 * @typedef {{ key: string, label: string, rate: number, perCpuS: number }} VerifyRow
 * @typedef {{ label: string, measured: string, target: string, met: 'yes' | 'no' | 'invalid' }} TargetRow
 * @typedef {import('./identity-profile.mjs').ProfileSummary & { route: string, ours: import('./identity-profile.mjs').Hot[] }} ProfileRow
 */

/**
 * @param {{ header: string[], routes: RouteRow[], ratios: RatioRow[], verify: VerifyRow[],
 *   targets: TargetRow[], profiles: ProfileRow[], notes: string[] }} data
 * @returns {string}
 */
export function renderGateReport({ header, routes, ratios, verify, targets, profiles, notes }) {
  const out = ['# Portcullis gated routes benchmark', '', ...header, ''];

  out.push('## Targets', '', '| figure | measured | target | met |', '|---|---:|---:|:---:|');
  for (const t of targets) out.push(`| ${t.label} | ${t.measured} | ${t.target} | ${t.met} |`);

  out.push('', '## Routes (1 KB through reverse_proxy, wrk)', '',
    '| route | rps | rps min–max | p50 | p99 | server CPU | per CPU-s | requests | non-2xx/3xx | socket errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of routes) {
    out.push(`| ${r.label} | ${num(r.rps)} | ${num(r.rpsMin)}–${num(r.rpsMax)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${pct(r.serverCpuPct)} | ${num(r.perCpuS)} | ${num(r.requests)} | ${r.statusErrors} | ${r.socketErrors} |`);
  }
  out.push('', 'Every response must be a 200: wrk counts answers above 399 (a refused credential is a fast 401, ' +
    'which would make a gate look free), and each route was probed for 200 with the exact body before and after the load ' +
    '(and for 401 without its credential, so the gate is known to be on). A row with errors is not a measurement.');

  out.push('', '## Ratios to the open route', '',
    'rps and per CPU-s: 1 means the gate is free; the target is 0.85, judged on per CPU-s (requests per second of server CPU: ' +
      'what a request costs, whatever share of its core the server got). p99: below 1 is a shorter tail.', '',
    '| route | rps | per CPU-s | p99 | rps per round |', '|---|---:|---:|---:|---|');
  for (const q of ratios) out.push(`| ${q.route} | ${ratio(q.rps)} | ${ratio(q.perCpuS)} | ${ratio(q.p99)} | ${q.perRound.map(ratio).join(', ')} |`);

  if (verify.length > 0) {
    out.push('', '## Token verification on the server core', '',
      'RS256 (RSA 2048), one verification awaited at a time (one request\'s path), the server idle. ' +
      'Medians over rounds; per CPU-s divides by this process\'s CPU time, so it stays right when another job takes part of the core.', '',
      '| verification | per second | per CPU-s | × crypto.verify | × jose |', '|---|---:|---:|---:|---:|');
    const raw = verify.find((v) => v.key === 'raw');
    const jose = verify.find((v) => v.key === 'jose');
    for (const v of verify) {
      out.push(`| ${v.label} | ${num(v.rate)} | ${num(v.perCpuS)} | ${raw ? ratio(v.perCpuS / raw.perCpuS) : '–'} | ${jose ? ratio(v.perCpuS / jose.perCpuS) : '–'} |`);
    }
  }

  for (const p of profiles) {
    out.push('', `## Server CPU profile: ${p.route}`, '',
      `${(p.totalMs / 1000).toFixed(1)} s of main-thread samples${p.windowed ? ' inside this route\'s wrk runs' : ' (whole run: the windows matched no sample)'}.`, '',
      '| package | self | share |', '|---|---:|---:|');
    for (const k of p.packages.slice(0, 10)) out.push(`| ${escape(k.name)} | ${k.selfMs.toFixed(0)} ms | ${k.pct.toFixed(1)} % |`);
    out.push('', '| function | where | self | share |', '|---|---|---:|---:|');
    for (const f of p.functions) out.push(`| ${escape(f.name)} | ${escape(f.where)} | ${f.selfMs.toFixed(0)} ms | ${f.pct.toFixed(1)} % |`);
    out.push('', 'In the gate\'s own files (authenticate, edge sessions, identity headers, jwt, @portcullis/verify):', '');
    if (p.ours.length === 0) out.push('none sampled.');
    else {
      out.push('| function | where | self | share |', '|---|---|---:|---:|');
      for (const f of p.ours) out.push(`| ${escape(f.name)} | ${escape(f.where)} | ${f.selfMs.toFixed(1)} ms | ${f.pct.toFixed(2)} % |`);
    }
  }

  if (notes.length > 0) out.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** @param {string} s */
function escape(s) {
  return s.replaceAll('|', '\\|');
}

/** @param {number} n */
export function num(n) {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

/** @param {number} r */
export function ratio(r) {
  return Number.isFinite(r) && r > 0 ? `${r.toFixed(2)}×` : '–';
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
