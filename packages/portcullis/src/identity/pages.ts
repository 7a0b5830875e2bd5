/** Sends one of our HTML pages with the strict page headers (CSP without inline script, no caching). */
import type { ServerResponse } from 'node:http';
import { setPageSecurityHeaders } from './views/security-headers.ts';

export function sendPage(res: ServerResponse, status: number, html: string): void {
  setPageSecurityHeaders(res);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(html));
  res.writeHead(status);
  res.end(res.req?.method === 'HEAD' ? undefined : html);
}
