/**
 * A client for the guard's challenge page in tests: requests from a chosen loopback address,
 * the page's hidden fields, the proof of work solved with node:crypto (the page's algorithm),
 * and the answer as a form body.
 */
import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request from `from` (default 127.0.0.1: clearances are tied to the client's IP); at most 5 s. */
export function send(url: string, options: { method?: string; from?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', localAddress: options.from ?? '127.0.0.1', headers: options.headers ?? {}, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The hidden fields of a challenge page. */
export function fields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)) out[m[1]!] = m[2]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  return out;
}

function zeroBits(text: string): number {
  let bits = 0;
  for (const b of createHash('sha256').update(text).digest()) {
    if (b !== 0) return bits + Math.clz32(b) - 24;
    bits += 8;
  }
  return bits;
}

/**
 * The first nonce the page's script would accept: SHA-256(challenge + nonce) with at least
 * `bits` leading zero bits, and fewer than `below` (to make an answer too weak for a higher
 * difficulty). Bounded: throws after 20 million tries.
 */
export function solve(challenge: string, bits: number, below = 257): string {
  for (let n = 0; n < 20_000_000; n++) {
    const zeros = zeroBits(challenge + n);
    if (zeros >= bits && zeros < below) return String(n);
  }
  throw new Error('no nonce found');
}

/** `values` as the page's form posts them: the body and its headers. */
export function form(values: Record<string, string>): { headers: Record<string, string>; body: string } {
  const body = new URLSearchParams(values).toString();
  return { headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) }, body };
}
