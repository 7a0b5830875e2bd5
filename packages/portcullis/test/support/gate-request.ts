/**
 * A request as the guard's gate sees it (proxy/ports.ts GateRequest), for unit tests that
 * call the gate, the rules or the challenge without a server: `headers` as Node parses them,
 * the flat `rawHeaders` list Node keeps beside them (the header rules read that one), and the
 * request target as sent made of `rawPath` and `query`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { GateRequest } from '../../src/proxy/index.ts';

export function gateRequest(fields: Omit<GateRequest, 'req' | 'originalUri'>, headers: IncomingHttpHeaders = {}): GateRequest {
  const rawHeaders: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) rawHeaders.push(name, v);
  }
  return { ...fields, originalUri: fields.query === '' ? fields.rawPath : `${fields.rawPath}?${fields.query}`, req: { headers, rawHeaders } };
}
