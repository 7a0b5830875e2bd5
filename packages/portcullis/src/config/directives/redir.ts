/**
 * `redir [<matcher>] <to> [<code>]`: a static response with a Location header. The code is 302
 * by default, `permanent` (301), `temporary` (302), a 3xx number or 401 (for XHR clients, as in
 * Caddy), a placeholder, or `html`: a 200 page that redirects browsers by script and meta refresh.
 */
import type { Token } from '../ast.ts';
import type { RouteConfig, StaticResponseHandler } from '../types.ts';
import { argCount, noBlock } from '../dispenser.ts';
import { isMatcherToken, resolveMatcherToken } from '../matcher-syntax.ts';
import { routeOf, type DirectiveInput } from './common.ts';

function isCode(text: string): boolean {
  return text === 'permanent' || text === 'temporary' || text === 'html' || /^\d+$/.test(text) || /^\{.+\}$/.test(text);
}

/** Go's html.EscapeString, which Caddy uses for the html redirect page. */
function escapeHtml(s: string): string {
  return s.replace(/[&'<>"]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;' })[c]!);
}

function htmlPage(to: string): string {
  const safe = escapeHtml(to);
  return `<!DOCTYPE html>
<html>
	<head>
		<title>Redirecting...</title>
		<script>window.location.replace("${safe}");</script>
		<meta http-equiv="refresh" content="0; URL='${safe}'">
	</head>
	<body>Redirecting to <a href="${safe}">${safe}</a>...</body>
</html>
`;
}

export function adaptRedir(input: DirectiveInput): RouteConfig | null {
  const { d, disp, scope } = input;
  noBlock(disp, d);
  let args = [...d.args];
  let match;
  let ok = true;
  const first = args[0];
  // `/x` is a matcher only when a target follows it: `redir /old /new` and `redir /old /new 301`,
  // but `redir /new 301` redirects everything to /new.
  const pathMatcher = first !== undefined && first.text.startsWith('/');
  if (isMatcherToken(first) && (!pathMatcher || args.length === 3 || (args.length === 2 && !isCode(args[1]!.text)))) {
    const resolved = resolveMatcherToken(first, scope, disp);
    ok = resolved.ok;
    if (resolved.ok) match = resolved.match;
    args = args.slice(1);
  }
  if (!argCount(disp, d, args, 1, 2, 'redir [<matcher>] <to> [<code>]')) return null;
  const to = args[0]!.text;
  const codeToken: Token | undefined = args[1];
  const code = codeToken?.text ?? 'temporary';
  const handler: StaticResponseHandler = { handler: 'static_response' };
  if (code === 'html') {
    // A placeholder's value would land in the page unescaped (a reflected XSS with {uri});
    // Caddy allows it, Portcullis does not.
    if (/\{[^}]*\}/.test(to)) {
      disp.error(args[0]!, 'an html redirect target cannot contain placeholders: their request values would be inserted into the page unescaped');
      return null;
    }
    handler.status_code = 200;
    handler.body = htmlPage(to);
    handler.headers = { 'Content-Type': ['text/html; charset=utf-8'] };
  } else {
    if (code === 'permanent') handler.status_code = 301;
    else if (code === 'temporary') handler.status_code = 302;
    else if (/^\{.+\}$/.test(code)) handler.status_code = code;
    else {
      const n = /^\d{3}$/.test(code) ? Number(code) : NaN;
      if (!((n >= 300 && n <= 399) || n === 401)) {
        disp.error(codeToken!, `${JSON.stringify(code)} is not a redirect code (use permanent, temporary, html, a 3xx code or 401)`);
        return null;
      }
      handler.status_code = n;
    }
    handler.headers = { Location: [to] };
  }
  return ok ? routeOf(match, handler, d) : null;
}
