/**
 * Directory listings for `file_server browse`, as HTML or (when Accept mentions application/json,
 * as Caddy decides) as Caddy's JSON array. Hostile file names are the threat here: every name is
 * HTML-escaped in text and percent-encoded in links, the JSON escapes `<`, `>` and `&` as Go's
 * encoder does, and the page carries no script at all, so it works under `default-src 'none'`.
 * Symlinks that lead outside the root and hidden names are left out of the listing.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { HidePredicate } from './hide.ts';
import type { DirTarget } from './resolve.ts';
import { relativeTo } from './resolve.ts';
import { isInside } from './safe-path.ts';

/** One entry, in Caddy's JSON shape. */
export interface ListingItem {
  /** Directories end with `/`. */
  name: string;
  size: number;
  /** Relative link: `./name` (percent-encoded), `./dir/` for directories. */
  url: string;
  /** RFC 3339 in UTC. */
  mod_time: string;
  /** Go's os.FileMode bits (permission bits, ModeDir, ModeSymlink), as Caddy emits them. */
  mode: number;
  is_dir: boolean;
  is_symlink: boolean;
}

export type SortKey = 'name' | 'namedirfirst' | 'size' | 'time';
export type SortOrder = 'asc' | 'desc';

const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;
/** lstat calls in flight at once, so a huge directory cannot flood libuv's thread pool. */
const STAT_CONCURRENCY = 32;

/**
 * Reads the directory `dir` (already checked inside the root). `rel` is the request path relative
 * to the root, for the hide rules. Entries that vanish or fail to stat are skipped.
 */
export async function readListing(dir: DirTarget, rel: string, hidden: HidePredicate): Promise<ListingItem[]> {
  const names = await readdir(dir.realPath);
  const items: ListingItem[] = [];
  for (let i = 0; i < names.length; i += STAT_CONCURRENCY) {
    const batch = names.slice(i, i + STAT_CONCURRENCY).map((name) => listingItem(dir, rel, name, hidden));
    for (const item of await Promise.all(batch)) if (item !== null) items.push(item);
  }
  return items;
}

async function listingItem(dir: DirTarget, rel: string, name: string, hidden: HidePredicate): Promise<ListingItem | null> {
  if (hidden({ abs: path.join(dir.lexicalPath, name), rel: rel === '' ? name : rel + '/' + name })) return null;
  const child = path.join(dir.realPath, name);
  try {
    const own = await lstat(child);
    let target: Stats = own;
    let real = child;
    if (own.isSymbolicLink()) {
      real = await realpath(child);
      if (!isInside(dir.root, real)) return null; // would 404 anyway; do not reveal its size
      target = await stat(real);
    }
    if (hidden({ abs: real, rel: relativeTo(dir.root, real) })) return null;
    const isDir = target.isDirectory();
    const perm = own.mode & 0o777;
    return {
      name: isDir ? name + '/' : name,
      size: target.size,
      url: './' + encodeURIComponent(name) + (isDir ? '/' : ''),
      mod_time: own.mtime.toISOString(),
      mode: perm + (own.isDirectory() ? GO_MODE_DIR : 0) + (own.isSymbolicLink() ? GO_MODE_SYMLINK : 0),
      is_dir: isDir,
      is_symlink: own.isSymbolicLink(),
    };
  } catch {
    return null;
  }
}

/** Sort and order from the query, with Caddy's defaults (directories first, by name, ascending). */
export function listingParams(query: string): { sort: SortKey; order: SortOrder; limit: number; offset: number } {
  const params = new URLSearchParams(query);
  const s = params.get('sort');
  const sort: SortKey = s === 'name' || s === 'size' || s === 'time' || s === 'namedirfirst' ? s : 'namedirfirst';
  const order: SortOrder = params.get('order') === 'desc' ? 'desc' : 'asc';
  const limit = Number.parseInt(params.get('limit') ?? '', 10);
  const offset = Number.parseInt(params.get('offset') ?? '', 10);
  return { sort, order, limit: limit > 0 ? limit : 0, offset: offset > 0 ? offset : 0 };
}

function byName(a: ListingItem, b: ListingItem): number {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

const COMPARATORS: Record<SortKey, (a: ListingItem, b: ListingItem) => number> = {
  name: byName,
  namedirfirst: (a, b) => (a.is_dir === b.is_dir ? byName(a, b) : a.is_dir ? -1 : 1),
  // Directory sizes mean little and differ between file systems; Caddy puts them first, by name.
  size: (a, b) => {
    if (a.is_dir && b.is_dir) return byName(a, b);
    if (a.is_dir !== b.is_dir) return a.is_dir ? -1 : 1;
    return a.size - b.size;
  },
  time: (a, b) => (a.mod_time < b.mod_time ? -1 : a.mod_time > b.mod_time ? 1 : 0),
};

/** Sorts, then applies offset and limit, as Caddy's browse does. */
export function sortListing(items: ListingItem[], sort: SortKey, order: SortOrder, limit: number, offset: number): ListingItem[] {
  const compare = COMPARATORS[sort];
  items.sort(order === 'desc' ? (a, b) => compare(b, a) : compare);
  let out = items;
  if (offset > 0 && offset <= out.length) out = out.slice(offset);
  if (limit > 0 && limit <= out.length) out = out.slice(0, limit);
  return out;
}

const JSON_UNSAFE = /[<>&\u2028\u2029]/g;

/** The JSON body, with `<`, `>`, `&` escaped as Go's encoder does, so no sniffer sees markup. */
export function renderListingJson(items: ListingItem[]): string {
  return JSON.stringify(items).replace(JSON_UNSAFE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Human size in IEC units, like Caddy's (go-humanize IBytes). */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

function breadcrumbs(urlPath: string): string {
  const parts = urlPath.split('/').filter((p) => p !== '');
  let html = `<a href="${'../'.repeat(parts.length) || './'}">/</a>`;
  parts.forEach((part, i) => {
    const up = '../'.repeat(parts.length - i - 1) || './';
    html += `<a href="${up}">${escapeHtml(part)}</a>/`;
  });
  return html;
}

function sortLink(label: string, key: SortKey, sort: SortKey, order: SortOrder): string {
  const next: SortOrder = sort === key && order === 'asc' ? 'desc' : 'asc';
  const mark = sort === key ? (order === 'asc' ? ' ▲' : ' ▼') : '';
  return `<a href="?sort=${key}&amp;order=${next}">${label}${mark}</a>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.3rem;font-weight:normal}
h1 a{text-decoration:none}table{border-collapse:collapse;min-width:50%}th,td{text-align:left;padding:.3rem 1rem .3rem 0}
td.size,th.size{text-align:right}tr:hover td{background:#f3f3f3}a{color:#0550ae}`;

/** The HTML page for a listing of `urlPath` (the decoded request path, ending with `/`). */
export function renderListingHtml(urlPath: string, items: ListingItem[], sort: SortKey, order: SortOrder): string {
  let dirs = 0;
  let files = 0;
  const rows: string[] = [];
  if (urlPath !== '/') rows.push('<tr><td><a href="../">../</a></td><td class="size">—</td><td></td></tr>');
  for (const item of items) {
    if (item.is_dir) dirs++;
    else files++;
    rows.push(
      `<tr><td><a href="${escapeHtml(item.url)}">${escapeHtml(item.name)}</a>${item.is_symlink ? ' →' : ''}</td>` +
        `<td class="size" title="${item.size} bytes">${item.is_dir ? '—' : humanSize(item.size)}</td>` +
        `<td><time datetime="${item.mod_time}">${item.mod_time.slice(0, 19).replace('T', ' ')}</time></td></tr>`,
    );
  }
  const title = escapeHtml(urlPath);
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>` +
    `<style>${STYLE}</style></head><body>\n<h1>${breadcrumbs(urlPath)}</h1>\n` +
    `<p>${dirs} ${dirs === 1 ? 'directory' : 'directories'}, ${files} ${files === 1 ? 'file' : 'files'}</p>\n` +
    `<table><thead><tr><th>${sortLink('Name', 'name', sort, order)}</th>` +
    `<th class="size">${sortLink('Size', 'size', sort, order)}</th><th>${sortLink('Modified', 'time', sort, order)}</th></tr></thead>\n` +
    `<tbody>\n${rows.join('\n')}\n</tbody></table>\n</body></html>\n`
  );
}
