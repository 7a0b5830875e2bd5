/**
 * `rewrite` and `uri`: change the request's method, path or query before later handlers see it.
 * Every change updates both path forms: `rawPath` (sent upstream) and the normalised `path`
 * (matched), so a rewrite can never leave the two disagreeing.
 */
import type { RewriteHandler } from '../../config/types.ts';
import { ErrorCodes, httpError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { normalizePath } from '../normalize-path.ts';
import { compileTemplate } from '../placeholders.ts';
import { escapePath } from '../uri-escape.ts';

type Step = (ctx: RequestContext) => void;

function setRawPath(ctx: RequestContext, rawPath: string): void {
  const raw = rawPath.startsWith('/') ? rawPath : '/' + rawPath;
  const path = normalizePath(raw);
  if (path === null) throw httpError(400, 'rewritten path is malformed', ErrorCodes.ERR_HTTP_BAD_REQUEST);
  ctx.rawPath = raw;
  ctx.path = path;
}

function uriStep(template: string): Step {
  const uri = compileTemplate(template);
  return (ctx) => {
    const value = uri(ctx);
    const q = value.indexOf('?');
    const pathPart = q === -1 ? value : value.slice(0, q);
    // `?a=b` alone keeps the path and replaces the query (Caddy).
    if (pathPart !== '') setRawPath(ctx, escapePath(pathPart));
    if (q !== -1) ctx.query = value.slice(q + 1);
  };
}

function stripPrefixStep(prefix: string): Step {
  const lower = (prefix.startsWith('/') ? prefix : '/' + prefix).toLowerCase();
  return (ctx) => {
    if (ctx.rawPath.toLowerCase().startsWith(lower)) {
      setRawPath(ctx, ctx.rawPath.slice(lower.length));
    } else if (ctx.path.toLowerCase().startsWith(lower)) {
      // The matcher saw the normalised path (say `//api/x` as `/api/x`); strip from that form
      // too, or the upstream would receive the prefix the route was meant to remove.
      setRawPath(ctx, escapePath(ctx.path.slice(lower.length)));
    }
  };
}

function stripSuffixStep(suffix: string): Step {
  const lower = suffix.toLowerCase();
  return (ctx) => {
    if (ctx.rawPath.toLowerCase().endsWith(lower)) setRawPath(ctx, ctx.rawPath.slice(0, -lower.length));
  };
}

function substringStep(find: string, replace: string, limit: number | undefined): Step {
  return (ctx) => {
    let raw = ctx.rawPath;
    let count = 0;
    let from = 0;
    while (find !== '' && (limit === undefined || limit <= 0 || count < limit)) {
      const at = raw.indexOf(find, from);
      if (at === -1) break;
      raw = raw.slice(0, at) + replace + raw.slice(at + find.length);
      from = at + replace.length;
      count++;
    }
    if (count > 0) setRawPath(ctx, raw);
  };
}

function regexpStep(find: string, replace: string): Step {
  const pattern = new RegExp(find, 'g');
  return (ctx) => {
    const replaced = ctx.path.replace(pattern, replace);
    if (replaced !== ctx.path) setRawPath(ctx, escapePath(replaced));
  };
}

export function createRewrite(config: RewriteHandler, _deps: HandlerDeps): Handler {
  const steps: Step[] = [];
  if (config.method) {
    const method = config.method.toUpperCase();
    steps.push((ctx) => {
      ctx.method = method;
    });
  }
  if (config.uri !== undefined) steps.push(uriStep(config.uri));
  if (config.strip_path_prefix) steps.push(stripPrefixStep(config.strip_path_prefix));
  if (config.strip_path_suffix) steps.push(stripSuffixStep(config.strip_path_suffix));
  for (const s of config.uri_substring ?? []) steps.push(substringStep(s.find, s.replace, s.limit));
  for (const r of config.path_regexp ?? []) steps.push(regexpStep(r.find, r.replace));
  return (ctx, next) => {
    for (const step of steps) step(ctx);
    return next();
  };
}
