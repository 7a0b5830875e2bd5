/**
 * `rewrite` and `uri`: change the request's method, path or query before later handlers see it.
 * Every change updates both path forms: `rawPath` (sent upstream) and the normalised `path`
 * (matched), so a rewrite can never leave the two disagreeing.
 *
 * Escaping follows Caddy's rewrite.go: request values enter a new path in escaped form and a new
 * query query-escaped (see TemplateEscape in placeholders.ts), and path_regexp works on the
 * escaped path, so the client's path is decoded exactly once, by setRawPath.
 */
import type { RewriteHandler } from '../../config/types.ts';
import { ErrorCodes, httpError } from '../../kernel/errors.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { HandlerDeps } from '../handler-deps.ts';
import { compileGoRegexp, parseReplacement, replaceAllGo } from '../matchers/regexp.ts';
import { normalizePath } from '../normalize-path.ts';
import { compileTemplate } from '../placeholders.ts';
import { canonicalRawPath, escapedRequestPath, escapePath, escapePathValue } from '../uri-escape.ts';

type Step = (ctx: RequestContext) => void;

function setRawPath(ctx: RequestContext, rawPath: string): void {
  const raw = rawPath.startsWith('/') ? rawPath : '/' + rawPath;
  const path = normalizePath(raw);
  if (path === null) throw httpError(400, 'rewritten path is malformed', ErrorCodes.ERR_HTTP_BAD_REQUEST);
  // Send upstream a form that decodes to what the matchers see: dot segments or `//` left in the
  // raw form (config text, a value such as {orig_uri}) would resolve differently there, maybe
  // above a prefix the rewrite added (as Caddy's canonicalizePath after stripping).
  ctx.rawPath = canonicalRawPath(raw, path);
  ctx.path = path;
}

function uriStep(template: string): Step {
  // Path and query are split at the template's own `?`, never at one inside a value (Caddy
  // scans the configured URI), and each is compiled with the escaping its part needs.
  const q = template.indexOf('?');
  const pathTemplate = q === -1 ? template : template.slice(0, q);
  const path = pathTemplate === '' ? null : compileTemplate(pathTemplate, { escape: 'path' });
  const query = q === -1 ? null : compileTemplate(template.slice(q + 1), { escape: 'query' });
  return (ctx) => {
    // Both parts read the request as it was before this step changes it.
    let newQuery = query === null ? null : query(ctx);
    let value = path === null ? '' : path(ctx);
    // Only a value already in URI form ({uri}, {orig_uri}) can carry a `?`: what follows it is a
    // query, used when the target sets none (rewrite.go: an injected query does not overwrite).
    const injected = value.indexOf('?');
    if (injected !== -1) {
      if (newQuery === null) newQuery = value.slice(injected + 1);
      value = value.slice(0, injected);
    }
    // `?a=b` alone keeps the path and replaces the query (Caddy).
    if (value !== '') setRawPath(ctx, escapePath(value));
    if (newQuery !== null) ctx.query = newQuery;
  };
}

function stripPrefixStep(prefix: string): Step {
  const lower = (prefix.startsWith('/') ? prefix : '/' + prefix).toLowerCase();
  return (ctx) => {
    if (ctx.rawPath.toLowerCase().startsWith(lower)) {
      setRawPath(ctx, ctx.rawPath.slice(lower.length));
    } else if (ctx.path.toLowerCase().startsWith(lower)) {
      // The matcher saw the normalised path (say `//api/x` as `/api/x`); strip from that form
      // too, or the upstream would receive the prefix the route was meant to remove. It is
      // decoded, so every `%` in it is data: escape it as a value, or `%2e%2e` would become `..`.
      setRawPath(ctx, escapePathValue(ctx.path.slice(lower.length)));
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

/**
 * Runs on the escaped path, as Caddy's regexReplacer (changePath passes URL.EscapedPath()): the
 * result is decoded once by setRawPath. Running it on the decoded path and decoding the result
 * again turned a literal `%2e%2e` segment into `..`.
 */
function regexpStep(find: string, replace: string): Step {
  // Go (RE2) syntax and `${name}` templates, as Caddy reads them; linear-time eligible (regexp.ts).
  const pattern = compileGoRegexp(find, 'g');
  const template = parseReplacement(replace);
  return (ctx) => {
    const escaped = escapedRequestPath(ctx);
    const replaced = replaceAllGo(pattern, escaped, template);
    if (replaced !== escaped) setRawPath(ctx, escapePath(replaced));
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
