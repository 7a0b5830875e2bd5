/**
 * What every handler directive adapter receives and the steps they share: splitting off the
 * optional matcher token, building the route, reading status codes.
 */
import type { Directive, Token } from '../ast.ts';
import type { HandlerConfig, MatcherSet, RouteConfig } from '../types.ts';
import type { Dispenser } from '../dispenser.ts';
import { isMatcherToken, resolveMatcherToken, type MatcherScope } from '../matcher-syntax.ts';

export interface DirectiveInput {
  d: Directive;
  disp: Dispenser;
  /** Named matchers visible where the directive is written. */
  scope: MatcherScope;
  /**
   * Adapts the directives of a nested block (handle, handle_path, route, handle_errors) with
   * their own named matchers; `sorted` false keeps the written order (route).
   */
  nestedRoutes(block: Directive[], scope: MatcherScope, sorted: boolean): RouteConfig[];
}

/** A handler directive: the route it adds to its block, or null when it has errors. */
export type HandlerDirective = (input: DirectiveInput) => RouteConfig | null;

export interface MatcherAndArgs {
  /** Absent: the route matches every request. */
  match: MatcherSet[] | undefined;
  args: Token[];
  /** False when the matcher token named an undefined matcher (already reported). */
  ok: boolean;
}

/**
 * Takes the optional matcher token off the directive's arguments. `minRest` is how many
 * arguments must remain for the first to count as a matcher: `root /srv` is a path, while
 * `root /static/* /srv` starts with one (as in Caddy's root and rewrite).
 */
export function matcherAndArgs(input: DirectiveInput, minRest = 0): MatcherAndArgs {
  const args = input.d.args;
  const first = args[0];
  if (!isMatcherToken(first) || args.length - 1 < minRest) return { match: undefined, args: [...args], ok: true };
  const resolved = resolveMatcherToken(first, input.scope, input.disp);
  return resolved.ok ? { match: resolved.match, args: args.slice(1), ok: true } : { match: undefined, args: args.slice(1), ok: false };
}

/** A route running `handler` for requests matching `match`, remembering where it was written. */
export function routeOf(match: MatcherSet[] | undefined, handler: HandlerConfig, d: Directive): RouteConfig {
  return match === undefined ? { handle: [handler], source: d.source } : { match, handle: [handler], source: d.source };
}

export interface StatusRule {
  min: number;
  max: number;
  /** Whether a `{placeholder}` giving the status at request time is allowed. */
  placeholder: boolean;
}

/** A status code (a number), or a placeholder template (a string); null after reporting. */
export function parseStatus(disp: Dispenser, token: Token, label: string, rule: StatusRule): number | string | null {
  if (rule.placeholder && /^\{[^{}]+\}$/.test(token.text)) return token.text;
  const value = /^\d{3}$/.test(token.text) ? Number(token.text) : NaN;
  if (value >= rule.min && value <= rule.max) return value;
  disp.error(token, `${label}: ${JSON.stringify(token.text)} is not a status code from ${rule.min} to ${rule.max}`);
  return null;
}

/** True when `text` is a three-digit positive number (Caddy's test for "this is a status"). */
export function looksLikeStatus(text: string): boolean {
  return /^\d{3}$/.test(text) && Number(text) > 0;
}
