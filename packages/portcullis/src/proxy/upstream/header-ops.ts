/**
 * `header_up` / `header_down`: header edits on the upstream request head and the upstream's
 * response head, in Caddy's order (delete-all, default, add, set, delete, replace). Values may
 * hold placeholders, compiled once here.
 */
import type { HeaderOps } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type { RequestContext } from '../context.ts';
import { compileTemplate } from '../placeholders.ts';
import type { HeaderMap } from './forward-headers.ts';

export type HeaderEdit = (headers: HeaderMap, ctx: RequestContext) => void;

type Value = (ctx: RequestContext) => string;

/** A value with a CR, LF, NUL or other control byte would split or corrupt the head (RFC 9110 §5.5). */
const INVALID_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;

/** Compiles the ops once; null when there is nothing to do, so the hot path can skip the call. */
export function compileHeaderOps(ops: HeaderOps | undefined): HeaderEdit | null {
  if (ops === undefined) return null;
  const steps: HeaderEdit[] = [];
  const deletes = (ops.delete ?? []).map((name) => name.toLowerCase());
  if (deletes.includes('*')) steps.push((headers) => { for (const name of Object.keys(headers)) delete headers[name]; });
  for (const [name, values] of entries(ops.default)) {
    steps.push((headers, ctx) => { if (!Object.hasOwn(headers, name)) assign(headers, name, values, ctx, false); });
  }
  for (const [name, values] of entries(ops.add)) steps.push((headers, ctx) => assign(headers, name, values, ctx, true));
  for (const [name, values] of entries(ops.set)) steps.push((headers, ctx) => assign(headers, name, values, ctx, false));
  for (const pattern of deletes) if (pattern !== '*') steps.push(compileDelete(pattern));
  for (const [field, replacements] of Object.entries(ops.replace ?? {})) {
    for (const r of replacements) steps.push(compileReplace(field.toLowerCase(), r));
  }
  if (steps.length === 0) return null;
  return (headers, ctx) => {
    for (let i = 0; i < steps.length; i++) steps[i]!(headers, ctx);
  };
}

function entries(record: Record<string, string[]> | undefined): [string, Value[]][] {
  return Object.entries(record ?? {}).map(([name, values]) => [name.toLowerCase(), values.map(compileValue)]);
}

function compileValue(template: string): Value {
  if (!template.includes('{')) return () => template;
  return compileTemplate(template);
}

function assign(headers: HeaderMap, name: string, values: Value[], ctx: RequestContext, append: boolean): void {
  const fresh: string[] = [];
  for (const value of values) {
    const text = value(ctx);
    if (!INVALID_VALUE.test(text)) fresh.push(text);
  }
  if (fresh.length === 0) return;
  const existing = append ? headers[name] : undefined;
  const all = existing === undefined ? fresh : [...(Array.isArray(existing) ? existing : [existing]), ...fresh];
  headers[name] = all.length === 1 ? all[0]! : all;
}

/** `-Name`, `-Prefix*`, `-*Suffix`, `-*Infix*`. */
function compileDelete(pattern: string): HeaderEdit {
  const starts = pattern.startsWith('*');
  const ends = pattern.endsWith('*') && pattern.length > 1;
  const core = pattern.slice(starts ? 1 : 0, ends ? -1 : undefined);
  if (!starts && !ends) return (headers) => { delete headers[pattern]; };
  const test = starts && ends ? (n: string) => n.includes(core) : starts ? (n: string) => n.endsWith(core) : (n: string) => n.startsWith(core);
  return (headers) => {
    for (const name of Object.keys(headers)) if (test(name)) delete headers[name];
  };
}

type Replacement = NonNullable<HeaderOps['replace']>[string][number];

/** `Name search replace` (substring, every occurrence) or with `search_regexp`; field `*` = every header. */
function compileReplace(field: string, r: Replacement): HeaderEdit {
  const replacement = compileValue(r.replace);
  let edit: (value: string, ctx: RequestContext) => string;
  if (r.search_regexp !== undefined) {
    const re = compileRegExp(r.search_regexp);
    edit = (value, ctx) => value.replace(re, replacement(ctx));
  } else {
    const search = r.search ?? '';
    if (search === '') return () => {};
    // A function replacer: `$` in the replacement is literal, as in Go's strings.ReplaceAll.
    edit = (value, ctx) => {
      const text = replacement(ctx);
      return value.replaceAll(search, () => text);
    };
  }
  const apply = (headers: HeaderMap, name: string, ctx: RequestContext): void => {
    const current = headers[name];
    if (current === undefined) return;
    const next = Array.isArray(current) ? current.map((v) => edit(v, ctx)) : edit(current, ctx);
    const values = Array.isArray(next) ? next : [next];
    if (values.some((v) => INVALID_VALUE.test(v))) return;
    headers[name] = next;
  };
  if (field === '*') return (headers, ctx) => { for (const name of Object.keys(headers)) apply(headers, name, ctx); };
  return (headers, ctx) => apply(headers, field, ctx);
}

function compileRegExp(pattern: string): RegExp {
  try {
    return new RegExp(pattern, 'g');
  } catch (error) {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `reverse_proxy: header replacement: bad regular expression ${JSON.stringify(pattern)}`, {
      directive: 'reverse_proxy',
      cause: error,
    });
  }
}
