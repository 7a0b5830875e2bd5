/**
 * The `servers { }` options that decide the client's address, in Caddy 2.7+'s spelling:
 * `trusted_proxies static <ranges...>`, `trusted_proxies cloudflare [file <path>]`,
 * `client_ip_headers <names...>` and `trusted_proxies_strict` (always on here). The guard
 * module reads the Cloudflare list and resolves addresses; this only checks and records.
 */
import { dirname, resolve } from 'node:path';
import type { Directive } from './ast.ts';
import type { ServerOptions } from './types.ts';
import { argCount, durationArg, eachSubdirective, noBlock, singleArg, type Dispenser } from './dispenser.ts';
import { checkIpRanges } from './matcher-syntax.ts';

const TRUSTED_PROXIES_USAGE = 'trusted_proxies static <ranges...> | trusted_proxies cloudflare [file <path>]';

/** RFC 9110 §5.1 field-name (a token). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why `name` cannot be a `client_ip_headers` entry, or null when it can. */
export function clientIpHeaderProblem(name: string): string | null {
  if (!FIELD_NAME.test(name)) return `${JSON.stringify(name)} is not a header name`;
  // The request's own framing and routing fields never carry a client address.
  if (['host', 'content-length', 'transfer-encoding', 'cookie', 'authorization'].includes(name.toLowerCase())) return `${name} does not carry a client address`;
  return null;
}

/** `trusted_proxies <source> ...`: several lines add up. */
export function parseTrustedProxies(d: Directive, disp: Dispenser, server: ServerOptions): void {
  if (!argCount(disp, d, d.args, 1, Infinity, TRUSTED_PROXIES_USAGE)) return;
  const source = d.args[0]!;
  if (source.text === 'static') {
    noBlock(disp, d);
    if (!argCount(disp, d, d.args, 2, Infinity, 'trusted_proxies static <ranges...>|private_ranges')) return;
    server.trustedProxies.push(...checkIpRanges(disp, 'trusted_proxies', d.args.slice(1)));
    return;
  }
  if (source.text === 'cloudflare') {
    parseCloudflare(d, disp, server);
    return;
  }
  disp.error(source, `trusted_proxies: unknown source ${JSON.stringify(source.text)} (expected static or cloudflare)`);
}

function parseCloudflare(d: Directive, disp: Dispenser, server: ServerOptions): void {
  if (server.trustedProxiesCloudflare !== undefined) {
    disp.error(d, 'trusted_proxies cloudflare is given twice');
    return;
  }
  const [, kind, path, ...rest] = d.args;
  if (kind === undefined) {
    // The caddy-cloudflare-ip plugin's block: it re-downloads the list every `interval`.
    // Accepted so such a Caddyfile loads; the shipped list (or `file`) is used instead.
    eachSubdirective(disp, d, {
      interval: (sub) => {
        const t = singleArg(disp, sub, 'interval <duration>');
        if (t) durationArg(disp, t, 'interval');
      },
      timeout: (sub) => {
        const t = singleArg(disp, sub, 'timeout <duration>');
        if (t) durationArg(disp, t, 'timeout');
      },
    });
    server.trustedProxiesCloudflare = { file: null };
    return;
  }
  noBlock(disp, d);
  if (kind.text === 'url') {
    disp.error(
      kind,
      'trusted_proxies cloudflare url: downloading the list is not supported yet; save https://www.cloudflare.com/ips-v4 and ips-v6 into one file and write `trusted_proxies cloudflare file <path>` (a reload re-reads it)',
    );
    return;
  }
  if (kind.text !== 'file' || path === undefined || rest.length > 0) {
    disp.error(d, `expected trusted_proxies cloudflare [file <path>]`);
    return;
  }
  if (path.text === '') {
    disp.error(path, 'trusted_proxies cloudflare file: the path is empty');
    return;
  }
  // Relative to the config file, as `database sqlite <path>` is.
  server.trustedProxiesCloudflare = { file: resolve(dirname(path.file), path.text) };
}

/** `client_ip_headers <names...>`: appended in order, each once. */
export function parseClientIpHeaders(d: Directive, disp: Dispenser, server: ServerOptions): void {
  noBlock(disp, d);
  if (!argCount(disp, d, d.args, 1, Infinity, 'client_ip_headers <headers...>')) return;
  const names = server.clientIpHeaders ?? [];
  for (const t of d.args) {
    const problem = clientIpHeaderProblem(t.text);
    if (problem !== null) disp.error(t, `client_ip_headers: ${problem}`);
    else if (names.some((n) => n.toLowerCase() === t.text.toLowerCase())) disp.error(t, `client_ip_headers: ${t.text} is listed twice`);
    else names.push(t.text);
  }
  if (names.length > 0) server.clientIpHeaders = names;
}
