/**
 * `forward_auth [<matcher>] [<upstreams...>] { uri <to>; copy_headers <fields...>; ... }`:
 * Caddy's shortcut for asking an auth server (Authelia, Authentik outposts, oauth2-proxy,
 * another Portcullis) before a request goes on. `uri` (required) and `copy_headers` are its
 * own; the reverse_proxy subdirectives that make sense for one small GET are read by the
 * reverse_proxy adapter itself, so the two cannot drift apart.
 *
 * `copy_headers Remote-User Remote-Email`, `copy_headers { Remote-User }` and renaming
 * `copy_headers Remote-User>X-User` are accepted, as in Caddy.
 */
import type { Directive, Token } from '../ast.ts';
import type { ForwardAuthHandler, ReverseProxyHandler, RouteConfig } from '../types.ts';
import { didYouMean, noBlock, singleArg, suggest, type Dispenser } from '../dispenser.ts';
import type { DirectiveInput } from './common.ts';
import { adaptReverseProxy } from './reverse-proxy.ts';

const USAGE = 'forward_auth [<matcher>] <upstreams...> { uri <to> }';

/** reverse_proxy subdirectives that mean nothing for the auth request, and why. */
const NOT_FOR_FORWARD_AUTH: Record<string, string> = {
  flush_interval: 'the auth answer is small and relayed as it arrives',
  request_buffers: 'the auth request has no body',
  lb_retry_match: 'the auth request is a GET without a body, always retried within lb_try_duration',
  method: 'forward_auth always sends GET',
  rewrite: 'use uri to set the auth request\'s path and query',
  handle_response: 'not supported yet',
  replace_status: 'not supported yet',
};

const OWN = ['uri', 'copy_headers'];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Fields whose value frames or routes the request (RFC 9110 §7.6.1 hop-by-hop fields, Host,
 * Content-Length): an auth server setting one on the request, or deleting the client's, could
 * desynchronise the request from its body (smuggling) or change where it goes.
 */
const FRAMING = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** Why `name` cannot be a copy_headers field, or null when it can. Also used by the JSON validator. */
export function copyHeaderProblem(name: string): string | null {
  if (!TOKEN.test(name)) return `${JSON.stringify(name)} is not a header field name`;
  if (FRAMING.has(name.toLowerCase())) return `${name} frames or routes the request and cannot be copied`;
  return null;
}

/** Adds the fields of one `copy_headers` token (`Name` or `From>To`); false after reporting. */
function addCopy(disp: Dispenser, token: Token, out: ForwardAuthHandler['copy_headers'], targets: Map<string, Token>): boolean {
  const parts = token.text.split('>');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    disp.error(token, `copy_headers: ${JSON.stringify(token.text)} is not <field> or <from>><to>`);
    return false;
  }
  const from = parts[0]!;
  const to = parts[1] ?? from;
  for (const name of new Set([from, to])) {
    const problem = copyHeaderProblem(name);
    if (problem !== null) {
      disp.error(token, `copy_headers: ${problem}`);
      return false;
    }
  }
  const earlier = targets.get(to.toLowerCase());
  if (earlier !== undefined) {
    disp.error(token, `copy_headers: ${to} is already set from another field (line ${earlier.line})`);
    return false;
  }
  targets.set(to.toLowerCase(), token);
  out.push({ from, to });
  return true;
}

function parseCopyHeaders(disp: Dispenser, sub: Directive, out: ForwardAuthHandler['copy_headers'], targets: Map<string, Token>): void {
  const tokens = [...sub.args];
  for (const line of sub.block ?? []) {
    noBlock(disp, line);
    tokens.push(line.nameToken, ...line.args);
  }
  if (tokens.length === 0) {
    disp.error(sub, 'copy_headers: expected at least one field (usage: copy_headers <fields...>, or a block of fields)');
    return;
  }
  for (const token of tokens) addCopy(disp, token, out, targets);
}

/** `uri <to>`: the path (and query) of the auth request; null after reporting. */
function parseUri(disp: Dispenser, sub: Directive): string | null {
  const t = singleArg(disp, sub, 'uri <to>');
  if (t === null) return null;
  if (!t.text.startsWith('/')) {
    disp.error(t, `uri: ${JSON.stringify(t.text)} must be a path starting with /`);
    return null;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\0-\x1f\x7f#]/.test(t.text)) {
    disp.error(t, `uri: ${JSON.stringify(t.text)} holds a space, control character or #`);
    return null;
  }
  return t.text;
}

export function adaptForwardAuth(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  let uri: string | null = null;
  let uriAt: Directive | null = null;
  let good = true;
  const copies: ForwardAuthHandler['copy_headers'] = [];
  const targets = new Map<string, Token>();
  const passOn: Directive[] = [];
  for (const sub of d.block ?? []) {
    if (sub.name === 'uri') {
      if (uriAt !== null) {
        disp.error(sub, `uri: given twice (first at line ${uriAt.source.line})`);
        good = false;
        continue;
      }
      uriAt = sub;
      uri = parseUri(disp, sub);
    } else if (sub.name === 'copy_headers') {
      const before = disp.errors.errors.length;
      parseCopyHeaders(disp, sub, copies, targets);
      if (disp.errors.errors.length !== before) good = false;
    } else if (Object.hasOwn(NOT_FOR_FORWARD_AUTH, sub.name)) {
      disp.error(sub, `${sub.name}: ${NOT_FOR_FORWARD_AUTH[sub.name]}`);
      good = false;
    } else if (sub.name === 'lb_policy' && sub.args[0]?.text === 'cookie') {
      // Its cookie would go out only on a refusal, so the choice could never stick.
      disp.error(sub, 'lb_policy: the cookie policy is not supported by forward_auth');
      good = false;
    } else if (suggest(sub.name, OWN) !== null) {
      // A typo of one of our own names (`copy_header`, `url`): reverse_proxy would not suggest it.
      disp.error(sub, `unknown subdirective ${JSON.stringify(sub.name)}${didYouMean(sub.name, OWN)}`);
      good = false;
    } else {
      passOn.push(sub);
    }
  }
  if (uriAt === null) {
    disp.error(d, 'the uri subdirective is required: the auth server\'s verification endpoint (e.g. uri /api/authz/forward-auth)');
    good = false;
  }
  // The remaining subdirectives are reverse_proxy's, checked (and reported) by its adapter.
  const route = adaptReverseProxy({ ...input, d: { ...d, block: d.block === null ? null : passOn } }, USAGE);
  if (route === null || uri === null || !good) return null;
  const { handler: _handler, flush_interval_ms: _flush, request_buffers: _buffers, ...settings } = route.handle[0] as ReverseProxyHandler;
  const h: ForwardAuthHandler = { handler: 'forward_auth', uri, copy_headers: copies, ...settings };
  return { ...route, handle: [h] };
}
