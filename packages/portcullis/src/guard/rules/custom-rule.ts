/**
 * A `rule <id> { ... }` from config as one predicate: every condition it names must hold
 * (within one condition, any listed value may match). Conditions run cheapest first, so most
 * requests are turned away by a method or path check before any regexp runs.
 */
import type { CustomRule } from '../../config/types.ts';
import type { GateRequest } from '../../proxy/index.ts';
import { compileIpRanges } from '../../kernel/ip-ranges.ts';
import { compileStringTest } from '../../proxy/index.ts';
import { decodeForCustomRules } from './inspect-decode.ts';
import { compileRuleRegexp } from './rule-regexp.ts';

/** `pathLower` is the request's normalised path, lower-cased once for every rule. */
export type CustomRuleTest = (req: GateRequest, pathLower: string) => boolean;

type Condition = (req: GateRequest, pathLower: string) => boolean;

/** Compiles a rule; throws PortcullisError ERR_CONFIG_INVALID on a bad pattern, range or regexp. */
export function compileCustomRule(rule: CustomRule): CustomRuleTest {
  const conditions: Condition[] = [];
  if (rule.methods.length > 0) {
    const methods = new Set(rule.methods.map((m) => m.toUpperCase()));
    conditions.push((req) => methods.has(req.method));
  }
  if (rule.paths.length > 0) {
    // Caddy's path matcher semantics on the normalised path, case-insensitively.
    const tests = rule.paths.map((p) => compileStringTest(p.toLowerCase()));
    conditions.push((_req, path) => tests.some((t) => t(path)));
  }
  if (rule.ips.length > 0) {
    // Parsing the client's address costs more than a path comparison.
    const inRanges = compileIpRanges(rule.ips);
    conditions.push((req) => inRanges(req.clientIp));
  }
  if (rule.userAgent !== null) {
    const re = compileRuleRegexp(rule.userAgent);
    conditions.push((req) => {
      const ua = req.req.headers['user-agent'];
      return re.test(typeof ua === 'string' ? ua : '');
    });
  }
  for (const [name, pattern] of Object.entries(rule.headers)) {
    const key = name.toLowerCase();
    const re = compileRuleRegexp(pattern);
    // An absent header reads as empty, so `header Referer ^$` matches requests without one.
    conditions.push((req) => {
      const values = headerValues(req, key);
      return values.length === 0 ? re.test('') : values.some((v) => re.test(v));
    });
  }
  if (rule.queryRegexps.length > 0) {
    const res = rule.queryRegexps.map(compileRuleRegexp);
    // The query as sent and decoded (`+` as space): the client chooses the encoding.
    conditions.push((req) => {
      const raw = req.query;
      if (res.some((re) => re.test(raw))) return true;
      const decoded = decodeForCustomRules(raw, true);
      return decoded !== raw && res.some((re) => re.test(decoded));
    });
  }
  return (req, pathLower) => {
    for (let i = 0; i < conditions.length; i++) if (!conditions[i]!(req, pathLower)) return false;
    return true;
  };
}

const NONE: readonly string[] = [];

function headerValues(req: GateRequest, key: string): readonly string[] {
  const v = req.req.headers[key];
  if (v === undefined) return NONE;
  return typeof v === 'string' ? [v] : v;
}
