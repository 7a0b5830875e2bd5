/**
 * Small helpers every directive adapter uses to read its arguments and block. Nothing here
 * throws: problems go into one ErrorList, so a whole file is checked and every error is reported
 * at once, each as `file:line: directive: message` (the way Caddy's dispenser words them, but
 * collected instead of stopping at the first).
 */
import type { Directive, Token } from './ast.ts';
import { ErrorCodes, type ErrorList, type SourceLocation } from '../kernel/errors.ts';
import { parseDuration } from './durations.ts';
import { parseSize } from './sizes.ts';

export type Located = Token | Directive | SourceLocation;

/** The file and line of a token, directive or location. */
export function where(at: Located): SourceLocation {
  if ('nameToken' in at) return at.source;
  return { file: at.file, line: at.line };
}

/** Reports errors about one top-level directive (or global option, or site address). */
export interface Dispenser {
  readonly errors: ErrorList;
  readonly directive: string;
  error(at: Located, message: string): void;
  /** The same error list, naming another directive. */
  named(directive: string): Dispenser;
}

export function createDispenser(errors: ErrorList, directive: string): Dispenser {
  return {
    errors,
    directive,
    error(at, message) {
      errors.add(ErrorCodes.ERR_CONFIG_INVALID, message, where(at), directive);
    },
    named(other) {
      return createDispenser(errors, other);
    },
  };
}

export function texts(tokens: readonly Token[]): string[] {
  return tokens.map((t) => t.text);
}

/** Checks the number of arguments; `usage` is shown in the message (`lb_policy <name> [<args...>]`). */
export function argCount(disp: Dispenser, d: Directive, args: readonly Token[], min: number, max: number, usage: string): boolean {
  if (args.length >= min && args.length <= max) return true;
  const prefix = d.name === disp.directive ? '' : `${d.name}: `;
  const wanted = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
  const noun = wanted === '1' || wanted === 'at least 1' ? 'argument' : 'arguments';
  disp.error(d, `${prefix}expected ${wanted} ${noun}, got ${args.length} (usage: ${usage})`);
  return false;
}

/**
 * Reports a second use of a subdirective that may appear once (`<label> is already set at
 * file:line`); true the first time. `seen` is the block's own record, by label.
 */
export function once(disp: Dispenser, seen: Map<string, Directive>, sub: Directive, label = sub.name): boolean {
  const first = seen.get(label);
  if (first === undefined) {
    seen.set(label, sub);
    return true;
  }
  disp.error(sub, `${label} is already set at ${first.source.file}:${first.source.line}`);
  return false;
}

/** Reports a block where none is allowed. */
export function noBlock(disp: Dispenser, d: Directive): boolean {
  if (d.block === null) return true;
  const prefix = d.name === disp.directive ? '' : `${d.name}: `;
  disp.error(d, `${prefix}does not take a block`);
  return false;
}

/** Handlers for a block's subdirectives, by name. */
export type SubdirectiveTable = Record<string, (sub: Directive) => void>;

/**
 * Runs each subdirective of `d`'s block through `table`. Names in `unsupported` are Caddy
 * subdirectives Portcullis does not implement yet (with a reason); any other unknown name gets
 * a "did you mean" suggestion.
 */
export function eachSubdirective(
  disp: Dispenser,
  d: Directive,
  table: SubdirectiveTable,
  unsupported: Record<string, string> = {},
): void {
  if (d.block === null) return;
  const prefix = d.name === disp.directive ? '' : `${d.name}: `;
  for (const sub of d.block) {
    const handler = Object.hasOwn(table, sub.name) ? table[sub.name] : undefined;
    if (handler) {
      handler(sub);
      continue;
    }
    if (Object.hasOwn(unsupported, sub.name)) {
      disp.error(sub, `${prefix}${sub.name}: ${unsupported[sub.name]}`);
      continue;
    }
    disp.error(sub, `${prefix}unknown subdirective ${JSON.stringify(sub.name)}${didYouMean(sub.name, Object.keys(table))}`);
  }
}

/** ` (did you mean "x"?)` for the closest candidate, or '' when none is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const best = suggest(name, candidates);
  return best === null ? '' : ` (did you mean ${JSON.stringify(best)}?)`;
}

/** The candidate closest to `name` by edit distance, if close enough to be a likely typo. */
export function suggest(name: string, candidates: Iterable<string>): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= limit ? best : null;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Infinity;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, rows[i - 2]![j - 2]! + 1);
      row.push(value);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** `label: `, or nothing when the label only repeats the directive's name. */
function labelled(disp: Dispenser, label: string): string {
  return label === '' || label === disp.directive ? '' : `${label}: `;
}

/** An integer in [min, max]; null (after reporting) otherwise. */
export function intArg(disp: Dispenser, token: Token, label: string, min: number, max: number): number | null {
  const value = /^-?\d+$/.test(token.text) ? Number(token.text) : NaN;
  if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  disp.error(token, `${labelled(disp, label)}${JSON.stringify(token.text)} is not ${range}`);
  return null;
}

/** A non-negative duration in ms; null (after reporting) otherwise. */
export function durationArg(disp: Dispenser, token: Token, label: string): number | null {
  const parsed = parseDuration(token.text);
  if (!parsed.ok) {
    disp.error(token, `${labelled(disp, label)}${parsed.error}`);
    return null;
  }
  if (parsed.value < 0) {
    disp.error(token, `${labelled(disp, label)}duration ${JSON.stringify(token.text)} must not be negative`);
    return null;
  }
  return parsed.value;
}

/** A size in bytes; null (after reporting) otherwise. */
export function sizeArg(disp: Dispenser, token: Token, label: string): number | null {
  const parsed = parseSize(token.text);
  if (!parsed.ok) {
    disp.error(token, `${labelled(disp, label)}${parsed.error}`);
    return null;
  }
  return parsed.value;
}

/** Reads `name <one argument>` subdirectives: returns the argument token or null after reporting. */
export function singleArg(disp: Dispenser, sub: Directive, usage: string): Token | null {
  noBlock(disp, sub);
  if (!argCount(disp, sub, sub.args, 1, 1, usage)) return null;
  return sub.args[0]!;
}

/** Reads flag subdirectives (`pass_thru`): no arguments, no block. */
export function flag(disp: Dispenser, sub: Directive): boolean {
  noBlock(disp, sub);
  return argCount(disp, sub, sub.args, 0, 0, sub.name);
}
