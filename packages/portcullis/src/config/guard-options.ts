/**
 * The global `guard { ... }` block: the addresses never refused (`allow`), blocklist files,
 * `simulate`, the request rules (`rules { }`, read by guard-rules.ts) and whether the
 * behaviour scenarios run (`scenarios on|off|simulate`).
 *
 *     guard {
 *         allow 192.0.2.10 10.0.0.0/8
 *         blocklist /etc/portcullis/blocklist.txt
 *         simulate
 *     }
 *
 * `guard` alone turns the guard on with its defaults.
 */
import { dirname, resolve } from 'node:path';
import type { Directive, Token } from './ast.ts';
import type { GuardConfig } from './types.ts';
import { argCount, flag, eachSubdirective, noBlock, singleArg, where, type Dispenser } from './dispenser.ts';
import { defaultRequestRules, parseGuardRules } from './guard-rules.ts';
import { checkIpRanges } from './matcher-syntax.ts';

/** Reads the `guard` global option; problems are reported through `disp`. */
export function parseGuardBlock(d: Directive, disp: Dispenser): GuardConfig {
  const guard: GuardConfig = { neverBan: [], blocklists: [], simulate: false, rules: defaultRequestRules(), source: where(d) };
  argCount(disp, d, d.args, 0, 0, 'guard { allow <ranges...>; blocklist <files...>; simulate; rules { ... } }');
  let rulesSeen: Directive | null = null;
  eachSubdirective(disp, d, {
    allow: (sub) => {
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'allow <ranges...>')) return;
      for (const range of checkIpRanges(disp, 'allow', sub.args)) if (!guard.neverBan.includes(range)) guard.neverBan.push(range);
    },
    blocklist: (sub) => {
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'blocklist <files...>')) return;
      for (const t of sub.args) {
        const path = blocklistPath(disp, t);
        if (path === null) continue;
        if (guard.blocklists.includes(path)) disp.error(t, `blocklist: ${t.text} is listed twice`);
        else guard.blocklists.push(path);
      }
    },
    simulate: (sub) => {
      if (flag(disp, sub)) guard.simulate = true;
    },
    scenarios: (sub) => {
      const t = singleArg(disp, sub, 'scenarios on|off|simulate');
      if (t === null) return;
      if (t.text === 'on' || t.text === 'off' || t.text === 'simulate') guard.scenarios = t.text;
      else disp.error(t, `scenarios: expected on, off or simulate, got ${JSON.stringify(t.text)}`);
    },
    rules: (sub) => {
      if (rulesSeen !== null) {
        disp.error(sub, `rules: already set at ${rulesSeen.source.file}:${rulesSeen.source.line}; write them in one block`);
        return;
      }
      rulesSeen = sub;
      guard.rules = parseGuardRules(sub, disp, dirname(sub.source.file));
    },
  });
  return guard;
}

/** A blocklist file, absolute against the directory of the file it was written in. */
function blocklistPath(disp: Dispenser, t: Token): string | null {
  if (t.text === '') {
    disp.error(t, 'blocklist: the path is empty');
    return null;
  }
  return resolve(dirname(t.file), t.text);
}
