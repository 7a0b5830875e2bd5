/**
 * A browser without a screen, for login-flow tests: keeps cookies the way a browser does (per
 * host name, not port; a Domain attribute widens them to subdomains; Path), follows no
 * redirects by itself so tests see every hop, and submits forms found in pages. Page loads
 * send a browser's Accept header.
 */
import { request as httpRequest } from 'node:http';

export interface Page {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  location: string | null;
  body: string;
  url: string;
}

interface Cookie {
  name: string;
  value: string;
  /** Host name the cookie came from (host-only) or its Domain attribute. */
  host: string;
  hostOnly: boolean;
  path: string;
}

export class Browser {
  readonly cookies: Cookie[] = [];

  async get(url: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.send('GET', url, null, headers);
  }

  async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.send('POST', url, new URLSearchParams(form).toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });
  }

  /** Follows redirects until a page that is not one, or until `stopAt` says so; at most 10 hops. */
  async follow(page: Page, stopAt: (url: string) => boolean = () => false): Promise<Page> {
    let current = page;
    for (let hops = 0; hops < 10 && current.location !== null; hops++) {
      const next = new URL(current.location, current.url).href;
      if (stopAt(next)) return { ...current, url: current.url };
      current = await this.get(next);
    }
    return current;
  }

  cookieHeader(url: URL): string {
    const host = url.hostname;
    return this.cookies
      .filter((c) => (c.hostOnly ? c.host === host : host === c.host || host.endsWith(`.${c.host}`)) && url.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  cookie(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  private send(method: string, url: string, body: string | null, headers: Record<string, string>): Promise<Page> {
    const target = new URL(url);
    if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost') throw new Error(`test browser only talks to loopback, not ${url}`);
    const cookie = this.cookieHeader(target);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        target,
        { method, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', ...(cookie ? { cookie } : {}), ...(body !== null ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers }, timeout: 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            this.store(target, res.headers['set-cookie'] ?? []);
            const location = res.headers.location ?? null;
            resolve({ status: res.statusCode ?? 0, headers: res.headers, location, body: Buffer.concat(chunks).toString('utf8'), url });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  }

  private store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      let domain: string | null = null;
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.trim().split('=');
        if (key!.toLowerCase() === 'path') path = val;
        if (key!.toLowerCase() === 'domain') domain = val.replace(/^\./, '').toLowerCase();
        if (key!.toLowerCase() === 'expires' && Date.parse(val) < Date.now()) expired = true;
        if (key!.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
      }
      const host = domain ?? url.hostname;
      const index = this.cookies.findIndex((c) => c.name === name && c.host === host && c.path === path);
      if (index !== -1) this.cookies.splice(index, 1);
      if (!expired) this.cookies.push({ name, value, host, hostOnly: domain === null, path });
    }
  }
}

/** The value of a hidden input in a page (`name="csrf" value="..."`). */
export function hiddenInput(html: string, name: string): string {
  const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html) ?? new RegExp(`<input[^>]*value="([^"]*)"[^>]*name="${name}"`).exec(html);
  if (match === null) throw new Error(`no hidden input ${name} in page:\n${html.slice(0, 2000)}`);
  return match[1]!.replaceAll('&amp;', '&').replaceAll('&#x3D;', '=').replaceAll('&#x2F;', '/');
}

/** The action attribute of the first form in a page. */
export function formAction(html: string): string {
  const match = /<form[^>]*action="([^"]*)"/.exec(html);
  if (match === null) throw new Error(`no form in page:\n${html.slice(0, 2000)}`);
  return match[1]!.replaceAll('&amp;', '&').replaceAll('&#x3D;', '=').replaceAll('&#x2F;', '/');
}
