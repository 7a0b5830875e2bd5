/**
 * Every range `trusted_proxies` names, its sources expanded: the static ranges as written, and
 * Cloudflare's published ranges from the list shipped in the package (data/cloudflare-ips.txt)
 * or a file the operator keeps fresh. Read once per config load, so a reload picks up a
 * changed file; a bad file fails the load and the running config keeps serving.
 */
import { readFileSync } from 'node:fs';
import type { ServerOptions } from '../config/types.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import { packageFile } from '../kernel/package-files.ts';

/** The list shipped with the package (package.json `files` ships data/). */
export const SHIPPED_CLOUDFLARE_LIST: string = packageFile('data/cloudflare-ips.txt');

/** A range list larger than this is not a list of proxies. */
const MAX_LIST_BYTES = 1024 * 1024;

/** Reads a file. Injected by tests. */
export type ReadText = (path: string) => string;

const readText: ReadText = (path) => readFileSync(path, 'utf8');

/**
 * The static ranges plus every source's ranges. Throws PortcullisError ERR_CONFIG_INVALID when
 * a list cannot be read, is empty, or has a line that is not a range (named by file:line).
 */
export function loadTrustedProxies(server: ServerOptions, read: ReadText = readText): string[] {
  const ranges = [...server.trustedProxies];
  const cloudflare = server.trustedProxiesCloudflare;
  if (cloudflare !== undefined) ranges.push(...readRangeList(cloudflare.file ?? SHIPPED_CLOUDFLARE_LIST, 'trusted_proxies cloudflare', read));
  return ranges;
}

/** A file of ranges, one a line; `#` starts a comment; blank lines are skipped. */
export function readRangeList(path: string, label: string, read: ReadText = readText): string[] {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `${label}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  if (text.length > MAX_LIST_BYTES) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `${label}: ${path} is larger than 1MiB`);
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const line = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (line === '') return;
    // One range a line, never `private_ranges`: a list that can quietly trust the LAN is a trap.
    let valid = line !== 'private_ranges' && !/\s/.test(line);
    if (valid) {
      try {
        compileIpRanges([line]);
      } catch {
        valid = false;
      }
    }
    if (!valid) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `${label}: ${path}:${i + 1}: ${JSON.stringify(line.slice(0, 80))} is not an IP address or CIDR range`);
    out.push(line);
  });
  // An empty file is a download that failed, not a wish to trust no one.
  if (out.length === 0) throw new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `${label}: ${path} lists no ranges`);
  return out;
}
