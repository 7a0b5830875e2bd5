/**
 * The default error response, used when no `handle_errors` route answers. 4xx messages are
 * meant for the client; 5xx show only the status and the error id that is also in the log,
 * never internals. The body follows the client's Accept header: JSON for APIs, HTML for
 * browsers, plain text otherwise.
 */
import { STATUS_CODES } from 'node:http';
import type { PortcullisError } from '../kernel/errors.ts';
import type { RequestContext } from './context.ts';
import { writeHead } from './response.ts';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);
}

function preferred(accept: string): 'json' | 'html' | 'text' {
  const json = accept.indexOf('application/json');
  const html = accept.indexOf('text/html');
  if (json !== -1 && (html === -1 || json < html)) return 'json';
  if (html !== -1) return 'html';
  return 'text';
}

/** What the client may read about this error. */
export function publicMessage(error: PortcullisError): string {
  const reason = STATUS_CODES[error.status] ?? 'Error';
  return error.status < 500 && error.message !== '' ? error.message : reason;
}

/** Writes the error response; the caller has checked that no head was sent yet. */
export function writeErrorResponse(ctx: RequestContext, error: PortcullisError): void {
  const res = ctx.res;
  const status = error.status;
  const reason = STATUS_CODES[status] ?? 'Error';
  const message = publicMessage(error);
  const kind = preferred(String(ctx.req.headers.accept ?? ''));
  let body: string;
  if (kind === 'json') {
    body = JSON.stringify({ error: { status, code: error.code, message, id: ctx.id } });
    res.setHeader('Content-Type', 'application/json');
  } else if (kind === 'html') {
    body =
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status} ${escapeHtml(reason)}</title></head>` +
      `<body><h1>${status} ${escapeHtml(reason)}</h1><p>${escapeHtml(message)}</p>` +
      `<p><small>Error id: ${ctx.id}</small></p></body></html>`;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
  } else {
    body = `${status} ${message}\nerror id: ${ctx.id}\n`;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  }
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  writeHead(ctx, status);
  res.end(ctx.method === 'HEAD' ? undefined : body);
}
