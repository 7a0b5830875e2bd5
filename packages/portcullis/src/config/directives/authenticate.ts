/**
 * `authenticate [<matcher>] { ... }`: only users signed in at the identity provider pass, and
 * only those the `require` lines admit; their identity goes upstream in headers.
 *
 *     authenticate [<matcher>] {
 *         require user|group|any_group|email <value>...     repeatable; every line must hold
 *         deny_status 401|403|404                           default 403
 *         header_names { user <h>; email <h>; name <h>; groups <h> }
 *         header_aliases authentik|oauth2-proxy...
 *         assertion [<header>]                              default X-Portcullis-Assertion
 *     }
 *
 * Values are checked by authenticate-checks.ts, shared with JSON configs. The check of the
 * sites against the identity provider, which needs every site, is here too.
 */
import type { Directive, Token } from '../ast.ts';
import type { AuthenticateHandler, AuthRequirement, IdentityConfig, RouteConfig, SiteConfig } from '../types.ts';
import type { ErrorList } from '../../kernel/errors.ts';
import { argCount, createDispenser, type Dispenser, eachSubdirective, intArg, type Located, noBlock, once, singleArg } from '../dispenser.ts';
import {
  authenticateHeaderProblems,
  authenticateSiteProblems,
  checkDenyStatus,
  checkHeaderAlias,
  checkIdentityHeaderName,
  checkRequirementKind,
  checkRequirementValue,
  DEFAULT_ASSERTION_HEADER,
  DEFAULT_DENY_STATUS,
  DEFAULT_IDENTITY_HEADERS,
  IDENTITY_HEADER_ROLES,
  requirementValuesProblems,
  type HeaderSetting,
  type IdentityHeaderRole,
} from '../authenticate-checks.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

const USAGE = 'authenticate [<matcher>] { require ...; deny_status ...; header_names { ... }; header_aliases ...; assertion [<header>] }';

/** Where each header setting was written, to place the errors between settings. */
interface HeaderPlaces {
  namesBlock: Directive | null;
  names: Partial<Record<IdentityHeaderRole, Directive>>;
  aliases: Token[];
  assertion: Directive | null;
}

export function adaptAuthenticate(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  const argsOk = argCount(disp, d, args, 0, 0, USAGE);
  const handler: AuthenticateHandler = {
    handler: 'authenticate',
    require: [],
    denyStatus: DEFAULT_DENY_STATUS,
    headers: { ...DEFAULT_IDENTITY_HEADERS },
    aliases: [],
    assertionHeader: null,
  };
  const places: HeaderPlaces = { namesBlock: null, names: {}, aliases: [], assertion: null };
  const seen = new Map<string, Directive>();
  eachSubdirective(disp, d, {
    require: (sub) => {
      const requirement = parseRequire(sub, disp);
      if (requirement !== null) handler.require.push(requirement);
    },
    deny_status: (sub) => {
      const t = once(disp, seen, sub) ? singleArg(disp, sub, 'deny_status 401|403|404') : null;
      const value = t && intArg(disp, t, 'deny_status', 100, 599);
      if (t === null || value === null) return;
      const checked = checkDenyStatus(value);
      if (checked.ok) handler.denyStatus = checked.value;
      else disp.error(t, `deny_status: ${checked.error}`);
    },
    header_names: (sub) => {
      if (!once(disp, seen, sub)) return;
      places.namesBlock = sub;
      parseHeaderNames(sub, disp, handler, places);
    },
    header_aliases: (sub) => {
      if (!once(disp, seen, sub)) return;
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 1, Infinity, 'header_aliases authentik|oauth2-proxy...')) return;
      for (const t of sub.args) {
        const alias = checkHeaderAlias(t.text);
        if (!alias.ok) disp.error(t, `header_aliases: ${alias.error}`);
        else {
          handler.aliases.push(alias.value);
          places.aliases.push(t);
        }
      }
    },
    assertion: (sub) => {
      if (!once(disp, seen, sub)) return;
      places.assertion = sub;
      noBlock(disp, sub);
      if (!argCount(disp, sub, sub.args, 0, 1, 'assertion [<header>]')) return;
      const t = sub.args[0];
      if (t === undefined) return void (handler.assertionHeader = DEFAULT_ASSERTION_HEADER);
      const name = checkIdentityHeaderName(t.text);
      if (name.ok) handler.assertionHeader = name.value;
      else disp.error(t, `assertion: ${name.error}`);
    },
  });
  for (const problem of authenticateHeaderProblems(handler)) disp.error(placeOf(problem.setting, places, d), problem.message);
  // A route with errors is still returned, so the site checks run and report theirs too (the
  // errors already reported make the whole config fail).
  return ok && argsOk ? routeOf(match, handler, d) : null;
}


/** `require <kind> <value>...`; null after reporting. */
function parseRequire(sub: Directive, disp: Dispenser): AuthRequirement | null {
  noBlock(disp, sub);
  const [kindToken, ...valueTokens] = sub.args;
  if (kindToken === undefined) {
    disp.error(sub, 'require: expected a kind and at least one value (usage: require user|group|any_group|email <value>...)');
    return null;
  }
  const kind = checkRequirementKind(kindToken.text);
  if (!kind.ok) {
    disp.error(kindToken, `require: ${kind.error}`);
    return null;
  }
  if (valueTokens.length === 0) {
    disp.error(sub, `require ${kind.value}: expected at least one value (usage: require ${kind.value} <value>...)`);
    return null;
  }
  let good = true;
  const values: string[] = [];
  for (const t of valueTokens) {
    const value = checkRequirementValue(kind.value, t.text);
    if (value.ok) values.push(value.value);
    else {
      disp.error(t, `require ${kind.value}: ${value.error}`);
      good = false;
    }
  }
  if (!good) return null;
  for (const p of requirementValuesProblems(kind.value, values)) disp.error(valueTokens[p.index]!, `require ${kind.value}: ${p.message}`);
  return { kind: kind.value, values };
}

/** `header_names { user <h>; email <h>; name <h>; groups <h> }`. */
function parseHeaderNames(d: Directive, disp: Dispenser, handler: AuthenticateHandler, places: HeaderPlaces): void {
  argCount(disp, d, d.args, 0, 0, 'header_names { user <header>; email <header>; name <header>; groups <header> }');
  if (d.block === null) return void disp.error(d, 'header_names: expected a block: header_names { user <header>; email <header>; name <header>; groups <header> }');
  const seen = new Map<string, Directive>();
  const role = (r: IdentityHeaderRole) => (sub: Directive) => {
    if (!once(disp, seen, sub, `header_names ${r}`)) return;
    noBlock(disp, sub);
    const t = sub.args.length === 1 ? sub.args[0]! : null;
    if (t === null) return void disp.error(sub, `header_names ${r}: expected one header name, got ${sub.args.length}`);
    const name = checkIdentityHeaderName(t.text);
    if (!name.ok) return void disp.error(t, `header_names ${r}: ${name.error}`);
    handler.headers[r] = name.value;
    places.names[r] = sub;
  };
  eachSubdirective(disp, d, Object.fromEntries(IDENTITY_HEADER_ROLES.map((r) => [r, role(r)])));
}

function placeOf(setting: HeaderSetting, places: HeaderPlaces, d: Directive): Located {
  if (setting.kind === 'name') return places.names[setting.role] ?? places.namesBlock ?? d;
  if (setting.kind === 'alias') return places.aliases[setting.index] ?? d;
  return places.assertion ?? d;
}

/**
 * Checks the sites that use `authenticate` against the identity provider (some site serves
 * it; the session cookie reaches each of them), reporting at each site's first authenticate.
 */
export function checkAuthenticateSites(sites: readonly SiteConfig[], identity: IdentityConfig | null, httpPort: number, httpsPort: number, errors: ErrorList): void {
  const disp = createDispenser(errors, 'authenticate');
  for (const p of authenticateSiteProblems({ identity, sites, httpPort, httpsPort })) {
    disp.error(p.use.source ?? sites[p.site]!.source, p.message);
  }
}
