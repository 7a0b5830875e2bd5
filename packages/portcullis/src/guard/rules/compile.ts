/**
 * Request rules compiled once per config into one function per request: the built-in rule
 * set (data/rules/*.json) and the `rule` blocks from config, minus per-site exclusions.
 *
 * The per-request path, cheapest first: custom rules (method and path checks before any
 * regexp), then a few Map lookups per path segment, one combined RegExp each for the user
 * agent, the raw path and the query (decoded; plain ones only against the few regexps that
 * can match plain text), and one indexOf per header value. An ordinary request (`/`,
 * `/assets/app.js?v=3`) matches none of them. Exclusions are looked up only after a match.
 *
 * When several rules match, the strongest action wins (block > challenge > log): a custom rule
 * that only logs `/admin*` must not let a built-in block for `/admin/.env` through.
 */
import type { CustomRule, RequestRulesConfig } from '../../config/types.ts';
import type { GateRequest } from '../../proxy/index.ts';
import { PortcullisError } from '../../kernel/errors.ts';
import { compileCustomRule, type CustomRuleTest } from './custom-rule.ts';
import { compileExclusions } from './exclusions.ts';
import { compileFieldMatcher, compileHeaderMatcher } from './field-matcher.ts';
import { decodeForInspection } from './inspect-decode.ts';
import { compilePathIndex } from './path-index.ts';
import { isPlain, loadBuiltinRules, type BuiltinRule, type Target } from './rule-files.ts';
import { rememberCleanInputs } from '../clean-inputs.ts';

export type RuleAction = 'block' | 'log' | 'challenge';

/** What a request matched. The same frozen object for every request that matches the rule. */
export interface RuleHit {
  readonly id: string;
  readonly category: string;
  readonly action: RuleAction;
}

export interface CompileRulesOptions {
  /** Where the built-in rule files are (tests); default the package's data/rules/. */
  dataDir?: string;
}

/** The category of every rule from config, usable in `exclude` like the built-in ones. */
export const CUSTOM_CATEGORY = 'custom';

const RANK: Record<RuleAction, number> = { log: 0, challenge: 1, block: 2 };

type Excluded = ReadonlySet<number> | null;

/**
 * Compiles the rules. Throws PortcullisError ERR_CONFIG_INVALID when the built-in files are
 * unreadable or wrong, a custom pattern does not compile, or an exclusion names an unknown rule.
 */
export function compileRequestRules(config: RequestRulesConfig, options: CompileRulesOptions = {}): (req: GateRequest) => RuleHit | null {
  // Read even when `builtin off`: exclusions may still name built-in rules.
  const builtins = loadBuiltinRules(options.dataDir);
  const hits: RuleHit[] = [
    ...builtins.map((r) => hit(r.id, r.category, 'block', config.logOnly)),
    ...config.custom.map((r) => hit(r.id, CUSTOM_CATEGORY, r.action, config.logOnly)),
  ];
  const custom = config.custom.map((r, i) => ({ index: builtins.length + i, test: compileAt(r) }));
  const exclusions = compileExclusions(config.exclusions, (name) => resolveName(name, builtins, config));
  const builtin = config.builtin ? compileBuiltins(builtins) : null;

  const firstMatch = (req: GateRequest, path: string, excluded: Excluded): number => {
    let best = -1;
    for (let i = 0; i < custom.length; i++) {
      const c = custom[i]!;
      if ((excluded !== null && excluded.has(c.index)) || !c.test(req, path)) continue;
      if (hits[c.index]!.action === 'block') return c.index;
      if (best === -1 || RANK[hits[c.index]!.action] > RANK[hits[best]!.action]) best = c.index;
    }
    if (builtin !== null) {
      const b = builtin(req, path, excluded);
      if (b !== -1 && (best === -1 || RANK[hits[b]!.action] > RANK[hits[best]!.action])) return b;
    }
    return best;
  };

  return (req) => {
    const path = req.path.toLowerCase();
    const found = firstMatch(req, path, null);
    if (found === -1) return null;
    if (exclusions === null) return hits[found]!;
    const excluded = exclusions(req.host);
    if (excluded === null || !excluded.has(found)) return hits[found]!;
    const again = firstMatch(req, path, excluded);
    return again === -1 ? null : hits[again]!;
  };
}

/** Compiles a custom rule, naming its line when it cannot be (a JSON config checked elsewhere). */
function compileAt(rule: CustomRule): CustomRuleTest {
  try {
    return compileCustomRule(rule);
  } catch (error) {
    if (!(error instanceof PortcullisError)) throw error;
    throw new PortcullisError(error.code, `rule ${rule.id}: ${error.message}`, { source: rule.source, directive: 'guard', cause: error });
  }
}

function hit(id: string, category: string, action: RuleAction, logOnly: boolean): RuleHit {
  return Object.freeze({ id, category, action: logOnly ? 'log' : action });
}

/** Rule indices for an id or category (built-in or custom), or null when unknown. */
function resolveName(name: string, builtins: BuiltinRule[], config: RequestRulesConfig): number[] | null {
  const out: number[] = [];
  builtins.forEach((r, i) => {
    if (r.id === name || r.category === name) out.push(i);
  });
  config.custom.forEach((r, i) => {
    if (r.id === name || name === CUSTOM_CATEGORY) out.push(builtins.length + i);
  });
  // A known category may have no rules left (`custom` with none defined): still not a typo.
  return out.length > 0 || name === CUSTOM_CATEGORY ? out : null;
}

type BuiltinCheck = (req: GateRequest, path: string, excluded: Excluded) => number;

/** The built-in rules as one check: path segments, user agent, raw path, query, headers. */
function compileBuiltins(rules: BuiltinRule[]): BuiltinCheck {
  const paths = compilePathIndex(rules.flatMap((r, rule) => r.paths.map((pattern) => ({ rule, pattern }))));
  const regexpsFor = (target: Target, plainOnly = false) =>
    rules.flatMap((r, rule) => r.regexps.filter((x) => x.in.includes(target) && (!plainOnly || x.plain.includes(target))).map((x) => ({ rule, pattern: x.pattern, needles: x.needles })));
  const userAgent = compileFieldMatcher(regexpsFor('user_agent'));
  const rawPath = compileFieldMatcher(regexpsFor('path'));
  const plainPath = compileFieldMatcher(regexpsFor('path', true));
  const query = compileFieldMatcher(regexpsFor('query'));
  const plainQuery = compileFieldMatcher(regexpsFor('query', true));
  const headers = compileHeaderMatcher(regexpsFor('headers'));
  // A user agent no rule matches matches none for any exclusions either: remembered as such.
  const cleanAgents = rememberCleanInputs();
  // So is a request target (path and query as sent) that no path, raw-path or query rule
  // matches: the path and query rules read nothing else, and a site's busy URLs repeat. Under
  // load these three cost ~1 us a request in cache misses; a remembered target one Set lookup.
  const cleanTargets = rememberCleanInputs();
  return (req, path, excluded) => {
    const target = req.originalUri;
    const knownClean = excluded === null && cleanTargets.has(target);
    let r = paths === null || knownClean ? -1 : paths.match(path, excluded);
    if (r !== -1) return r;
    if (userAgent !== null) {
      const ua = req.req.headers['user-agent'];
      if (typeof ua === 'string' && ua !== '' && !cleanAgents.has(ua)) {
        r = userAgent.match(ua.toLowerCase(), excluded);
        if (r !== -1) return r;
        if (excluded === null) cleanAgents.add(ua);
      }
    }
    if (!knownClean) {
      // Plain input is read only by the regexps that declare it (rule-files.ts checks them).
      const pathMatcher = isPlain(req.rawPath) ? plainPath : rawPath;
      if (pathMatcher !== null) {
        r = pathMatcher.match(decodeForInspection(req.rawPath, false), excluded);
        if (r !== -1) return r;
      }
      const queryMatcher = req.query === '' ? null : isPlain(req.query) ? plainQuery : query;
      if (queryMatcher !== null) {
        r = queryMatcher.match(decodeForInspection(req.query, true), excluded);
        if (r !== -1) return r;
      }
      if (excluded === null) cleanTargets.add(target);
    }
    return headers === null ? -1 : headers.match(req.req.rawHeaders, excluded);
  };
}
