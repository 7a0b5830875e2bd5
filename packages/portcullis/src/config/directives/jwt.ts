/**
 * `jwt [<matcher>] { ... }`: only requests carrying a valid `Authorization: Bearer` JWT go on,
 * and only those whose claims the `require` lines admit; chosen claims go upstream in headers.
 *
 *     jwt [<matcher>] {
 *         issuer <url>                          default: this config's identity provider
 *         audience <aud>...                     default: the issuer
 *         algorithms <alg>...                   default RS256 ES256 EdDSA; HS* and none refused
 *         leeway <duration>                     default 30s, at most 5m
 *         typ <type>                            required typ header (at+jwt); default not checked
 *         require scope|group <value>...        repeatable; every line must hold
 *         require claim <name> <value>...
 *         claim_header <claim> <header>         repeatable; default none
 *         strip_authorization                   the token does not go upstream
 *     }
 *
 * Values are checked by jwt-checks.ts, shared with JSON configs. The step that fills in the
 * default issuer, which needs every site, is here too.
 */
import type { Directive, Token } from '../ast.ts';
import type { IdentityConfig, JwtHandler, JwtRequirement, RouteConfig, SiteConfig } from '../types.ts';
import type { ErrorList } from '../../kernel/errors.ts';
import { argCount, createDispenser, type Dispenser, durationArg, eachSubdirective, flag, noBlock, once, singleArg } from '../dispenser.ts';
import {
  checkJwtAlgorithm,
  checkJwtAudience,
  checkJwtClaimHeader,
  checkJwtClaimName,
  checkJwtIssuer,
  checkJwtLeeway,
  checkJwtRequirementKind,
  checkJwtRequirementValue,
  checkJwtTyp,
  DEFAULT_JWT_ALGORITHMS,
  DEFAULT_JWT_LEEWAY_MS,
  fillJwtDefaults,
  jwtHandlerProblems,
  jwtRequirementValuesProblems,
} from '../jwt-checks.ts';
import type { Parsed } from '../durations.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

const USAGE = 'jwt [<matcher>] { issuer ...; audience ...; algorithms ...; leeway ...; typ ...; require ...; claim_header ...; strip_authorization }';

/** Where list settings were written, to place the errors between settings. */
interface Places {
  algorithms: Token[];
  audience: Token[];
  claimHeaders: Directive[];
}

export function adaptJwt(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  const argsOk = argCount(disp, d, args, 0, 0, USAGE);
  const handler: JwtHandler = {
    handler: 'jwt',
    // '' until checkJwtSites fills in the identity provider's issuer.
    issuer: '',
    audience: [],
    algorithms: [...DEFAULT_JWT_ALGORITHMS],
    leewayMs: DEFAULT_JWT_LEEWAY_MS,
    typ: null,
    require: [],
    claimHeaders: [],
    stripAuthorization: false,
  };
  const places: Places = { algorithms: [], audience: [], claimHeaders: [] };
  const seen = new Map<string, Directive>();
  /** A once-only subdirective's single argument through `check`; null after reporting. */
  const single = <T>(sub: Directive, usage: string, check: (text: string) => Parsed<T>): T | null => {
    const t = once(disp, seen, sub) ? singleArg(disp, sub, usage) : null;
    if (t === null) return null;
    const r = check(t.text);
    if (r.ok) return r.value;
    disp.error(t, `${sub.name}: ${r.error}`);
    return null;
  };
  /** A once-only subdirective's list of arguments, each through `check`. */
  const many = (sub: Directive, usage: string, check: (text: string) => Parsed<string>): { values: string[]; tokens: Token[] } | null => {
    if (!once(disp, seen, sub)) return null;
    noBlock(disp, sub);
    if (!argCount(disp, sub, sub.args, 1, Infinity, usage)) return null;
    const values: string[] = [];
    const tokens: Token[] = [];
    for (const t of sub.args) {
      const r = check(t.text);
      if (!r.ok) disp.error(t, `${sub.name}: ${r.error}`);
      else {
        values.push(r.value);
        tokens.push(t);
      }
    }
    return { values, tokens };
  };
  eachSubdirective(disp, d, {
    issuer: (sub) => {
      const issuer = single(sub, 'issuer <url>', checkJwtIssuer);
      // A bad issuer is reported here; not '' so it is not reported again as missing.
      handler.issuer = issuer ?? sub.args[0]?.text ?? 'invalid';
    },
    audience: (sub) => {
      const list = many(sub, 'audience <aud>...', checkJwtAudience);
      if (list === null) return;
      handler.audience = list.values;
      places.audience = list.tokens;
    },
    algorithms: (sub) => {
      const list = many(sub, 'algorithms RS256|ES256|EdDSA|...', checkJwtAlgorithm);
      if (list === null || list.values.length === 0) return;
      handler.algorithms = list.values;
      places.algorithms = list.tokens;
    },
    leeway: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'leeway <duration>') : null;
      const ms = t && durationArg(disp, t, 'leeway');
      if (t === null || ms === null) return;
      const r = checkJwtLeeway(ms);
      if (r.ok) handler.leewayMs = r.value;
      else disp.error(t, `leeway: ${r.error}`);
    },
    typ: (sub) => {
      const typ = single(sub, 'typ <type>', checkJwtTyp);
      if (typ !== null) handler.typ = typ;
    },
    require: (sub) => {
      const requirement = parseRequire(sub, disp);
      if (requirement !== null) handler.require.push(requirement);
    },
    claim_header: (sub) => {
      const pair = parseClaimHeader(sub, disp);
      if (pair === null) return;
      handler.claimHeaders.push(pair);
      places.claimHeaders.push(sub);
    },
    strip_authorization: (sub) => {
      if (once(disp, seen, sub) && flag(disp, sub)) handler.stripAuthorization = true;
    },
  });
  for (const p of jwtHandlerProblems(handler)) {
    const at = p.setting.kind === 'claimHeaders' ? places.claimHeaders[p.setting.index] : places[p.setting.kind][p.setting.index];
    disp.error(at ?? d, p.message);
  }
  // A route with errors is still returned, so the issuer step reports its problems too (the
  // errors already reported make the whole config fail).
  return ok && argsOk ? routeOf(match, handler, d) : null;
}


/** `require scope|group <value>...` or `require claim <name> <value>...`; null after reporting. */
function parseRequire(sub: Directive, disp: Dispenser): JwtRequirement | null {
  noBlock(disp, sub);
  const [kindToken, ...rest] = sub.args;
  if (kindToken === undefined) {
    disp.error(sub, 'require: expected a kind and at least one value (usage: require scope|group <value>... or require claim <name> <value>...)');
    return null;
  }
  const kind = checkJwtRequirementKind(kindToken.text);
  if (!kind.ok) {
    disp.error(kindToken, `require: ${kind.error}`);
    return null;
  }
  let claim: string | null = null;
  let valueTokens = rest;
  if (kind.value === 'claim') {
    const nameToken = rest[0];
    if (nameToken === undefined) {
      disp.error(sub, 'require claim: expected a claim name and at least one value (usage: require claim <name> <value>...)');
      return null;
    }
    const name = checkJwtClaimName(nameToken.text);
    if (!name.ok) {
      disp.error(nameToken, `require claim: ${name.error}`);
      return null;
    }
    claim = name.value;
    valueTokens = rest.slice(1);
  }
  const label = claim === null ? `require ${kind.value}` : `require claim ${claim}`;
  if (valueTokens.length === 0) {
    disp.error(sub, `${label}: expected at least one value (usage: ${label} <value>...)`);
    return null;
  }
  let good = true;
  const values: string[] = [];
  for (const t of valueTokens) {
    const value = checkJwtRequirementValue(kind.value, t.text);
    if (value.ok) values.push(value.value);
    else {
      disp.error(t, `${label}: ${value.error}`);
      good = false;
    }
  }
  if (!good) return null;
  for (const p of jwtRequirementValuesProblems(values)) disp.error(valueTokens[p.index]!, `${label}: ${p.message}`);
  return claim === null ? { kind: kind.value as 'scope' | 'group', values } : { kind: 'claim', claim, values };
}

/** `claim_header <claim> <header>`; null after reporting. */
function parseClaimHeader(sub: Directive, disp: Dispenser): { claim: string; header: string } | null {
  noBlock(disp, sub);
  if (!argCount(disp, sub, sub.args, 2, 2, 'claim_header <claim> <header>')) return null;
  const [claimToken, headerToken] = sub.args as [Token, Token];
  const claim = checkJwtClaimName(claimToken.text);
  if (!claim.ok) disp.error(claimToken, `claim_header: ${claim.error}`);
  const header = checkJwtClaimHeader(headerToken.text);
  if (!header.ok) disp.error(headerToken, `claim_header: ${header.error}`);
  return claim.ok && header.ok ? { claim: claim.value, header: header.value } : null;
}

/**
 * Gives every `jwt` without an `issuer` the config's identity provider, and every one without
 * an `audience` its issuer; reports those with no provider to take the issuer from.
 */
export function checkJwtSites(sites: readonly SiteConfig[], identity: IdentityConfig | null, httpPort: number, httpsPort: number, errors: ErrorList): void {
  const disp = createDispenser(errors, 'jwt');
  for (const p of fillJwtDefaults({ identity, sites, httpPort, httpsPort })) disp.error(p.use.source ?? sites[p.site]!.source, p.message);
}
