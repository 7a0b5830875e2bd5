/**
 * The rfc2136 DNS provider: finds the zone that holds a name by asking the server for its SOA,
 * and adds or deletes one TXT record there with an RFC 2136 UPDATE signed with TSIG (RFC 8945).
 * Messages go over TCP (RFC 7766), one connection per message: updates are small and rare, and
 * TCP needs no retransmission logic and cannot be answered by an off-path spoofer. Errors
 * name the server, the zone, the record and the key, never the key's secret.
 */
import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { ErrorCodes, PortcullisError, type ErrorCode } from '../../kernel/errors.ts';
import { decodeMessage, DnsClass, DnsOpcode, DnsType, encodeMessage, isInZone, normalName, rcodeName, requestFlags, txtData, type DecodedMessage, type DnsRecord } from './dns-wire.ts';
import { responseTsigProblem, signRequest, tsigErrorOf, type TsigKey } from './dns-tsig.ts';

/** The server refused the key or the update; the server could not be reached or did not answer. */
export const DNS_REFUSED: ErrorCode = ErrorCodes.ERR_ACME_DNS_REFUSED;
export const DNS_UNREACHABLE: ErrorCode = ErrorCodes.ERR_ACME_DNS_UNREACHABLE;

/** Most SOA queries when walking up from a name to its zone (one per label; names are short). */
const MAX_ZONE_QUERIES = 16;

export interface Rfc2136Options {
  server: { host: string; port: number };
  key: TsigKey;
  /** Per message: connect, send, answer (default 10 s). */
  timeoutMs?: number;
  /** Aborts messages in flight (shutdown). */
  signal?: AbortSignal;
  /** Wall-clock time for TSIG (the server compares it with its own clock); default Date.now. */
  now?: () => number;
}

export interface Rfc2136Client {
  /** `host:port` for messages. */
  readonly server: string;
  /** The zone apex that holds `name`, as the server knows it. */
  findZone(name: string): Promise<string>;
  /** Adds a TXT record `name` -> `value` with `ttlSeconds` to `zone` (other TXT values stay). */
  addTxt(zone: string, name: string, value: string, ttlSeconds: number): Promise<void>;
  /** Deletes that one TXT record (RFC 2136 section 2.5.4: class NONE), leaving any others at `name`. */
  deleteTxt(zone: string, name: string, value: string): Promise<void>;
}

/** One request and its answer over a fresh TCP connection, bounded by `timeoutMs` and `signal`. */
function exchangeTcp(host: string, port: number, request: Buffer, timeoutMs: number, signal: AbortSignal | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // RFC 1035 section 4.2.2: a 2-byte length, then the message. The length is read first and
    // the answer allocated once at that size (at most 65535 bytes), so a server trickling
    // 1-byte segments costs one copy each, not a concatenation of everything so far.
    const prefix = Buffer.alloc(2);
    let prefixRead = 0;
    let answer: Buffer | null = null;
    let answerRead = 0;
    let settled = false;
    const socket = connect({ host, port });
    const finish = (error: Error | null, wire?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error === null) resolve(wire!);
      else reject(error);
    };
    const onAbort = () => finish(new Error('aborted'));
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(request.length);
      socket.write(Buffer.concat([length, request]));
    });
    socket.on('data', (chunk: Buffer) => {
      let at = 0;
      if (answer === null) {
        at = chunk.copy(prefix, prefixRead);
        prefixRead += at;
        if (prefixRead < 2) return;
        answer = Buffer.alloc(prefix.readUInt16BE(0));
      }
      // Bytes past the announced length are not ours to read; copy() stops at the answer's end.
      answerRead += chunk.copy(answer, answerRead, at);
      if (answerRead === answer.length) finish(null, answer);
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('the server closed the connection without an answer')));
  });
}

/** `host:port`, with brackets for IPv6. */
function serverText(server: { host: string; port: number }): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** Why TSIG was refused, from the TSIG error code (RFC 8945 section 5.2). */
function tsigRefusal(code: number): string {
  switch (code) {
    case 16:
      return 'BADSIG: the signature does not verify; the key secret or algorithm differs from the server\'s';
    case 17:
      return 'BADKEY: the server has no key of that name and algorithm';
    case 18:
      return 'BADTIME: this machine\'s clock and the server\'s differ by more than 5 minutes';
    default:
      return rcodeName(code);
  }
}

/** A client for one server and key; nothing is sent until a method is called. */
export function createRfc2136Client(options: Rfc2136Options): Rfc2136Client {
  const { key } = options;
  const server = serverText(options.server);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;

  const fail = (code: ErrorCode, message: string, cause?: unknown): PortcullisError => new PortcullisError(code, message, cause === undefined ? {} : { cause });

  /** Sends `request`, checks the answer belongs to it, and returns it decoded. */
  const exchange = async (request: Buffer, what: string): Promise<{ wire: Buffer; answer: DecodedMessage }> => {
    let wire: Buffer;
    try {
      wire = await exchangeTcp(options.server.host, options.server.port, request, timeoutMs, options.signal);
    } catch (error) {
      throw fail(DNS_UNREACHABLE, `the DNS server ${server} could not be reached to ${what}: ${(error as Error).message}`, error);
    }
    let answer: DecodedMessage;
    try {
      answer = decodeMessage(wire);
    } catch (error) {
      throw fail(DNS_REFUSED, `the DNS server ${server} sent a malformed answer to ${what}: ${(error as Error).message}`, error);
    }
    // A stray or mixed-up answer must never count as the one to our request.
    if (!answer.isResponse || answer.id !== request.readUInt16BE(0) || answer.opcode !== ((request.readUInt16BE(2) >> 11) & 0xf)) {
      throw fail(DNS_REFUSED, `the DNS server ${server} answered another message when asked to ${what}`);
    }
    return { wire, answer };
  };

  const soaQuery = async (name: string): Promise<DecodedMessage> => {
    const request = encodeMessage({
      id: randomInt(0, 0x10000),
      flags: requestFlags(DnsOpcode.QUERY),
      questions: [{ name, type: DnsType.SOA, class: DnsClass.IN }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    return (await exchange(request, `look up the zone of ${name}`)).answer;
  };

  /** Sends one signed UPDATE of `zone` with `records` in its update section. */
  const update = async (zone: string, records: DnsRecord[], what: string): Promise<void> => {
    const message = encodeMessage({
      id: randomInt(0, 0x10000),
      flags: requestFlags(DnsOpcode.UPDATE),
      // RFC 2136 section 2.3: the zone section names the zone, type SOA.
      questions: [{ name: zone, type: DnsType.SOA, class: DnsClass.IN }],
      answers: [],
      authorities: records,
      additionals: [],
    });
    const signed = signRequest(message, key, now());
    const { wire, answer } = await exchange(signed.wire, what);
    const where = `the DNS server ${server} (zone ${zone || '.'}, key ${JSON.stringify(key.name)})`;
    const tsigError = tsigErrorOf(wire, answer);
    if (answer.rcode === 9 && tsigError !== 0) throw fail(DNS_REFUSED, `${where} refused the TSIG signature when asked to ${what}: ${tsigRefusal(tsigError)}`);
    if (answer.rcode === 5) {
      throw fail(DNS_REFUSED, `${where} refused to ${what} (REFUSED: the zone's allow-update or update-policy does not let this key change that record)`);
    }
    if (answer.rcode === 9) throw fail(DNS_REFUSED, `${where} is not authoritative for the zone (NOTAUTH) when asked to ${what}`);
    if (answer.rcode === 10) throw fail(DNS_REFUSED, `${where} says the record is not in the zone (NOTZONE) when asked to ${what}`);
    if (answer.rcode !== 0) throw fail(DNS_REFUSED, `${where} failed to ${what}: ${rcodeName(answer.rcode)}`);
    // Success is believed only with the server's signature over it (RFC 8945 section 5.3.2).
    const problem = responseTsigProblem(wire, answer, key, signed.mac, now());
    if (problem !== null) throw fail(DNS_REFUSED, `${where} answered the request to ${what}, but ${problem}`);
  };

  const txt = (name: string, cls: number, ttl: number, value: string): DnsRecord => ({ name, type: DnsType.TXT, class: cls, ttl, data: txtData(value) });

  return {
    server,
    async findZone(name) {
      const target = normalName(name);
      let candidate = target;
      let last = '';
      for (let i = 0; i < MAX_ZONE_QUERIES; i++) {
        const answer = await soaQuery(candidate);
        last = rcodeName(answer.rcode);
        // NOERROR at the apex (SOA in the answer), NXDOMAIN or NODATA below it (SOA in the
        // authority section, RFC 2308 section 3): either way the SOA's owner is the zone.
        if (answer.authoritative && (answer.rcode === 0 || answer.rcode === 3)) {
          const soa = [...answer.answers, ...answer.authorities].find((r) => r.type === DnsType.SOA && isInZone(target, r.name));
          if (soa !== undefined) return soa.name;
        }
        const dot = candidate.indexOf('.');
        if (dot < 0) break;
        candidate = candidate.slice(dot + 1);
      }
      throw fail(DNS_REFUSED, `the DNS server ${server} is not authoritative for any zone that holds ${target} (its last answer: ${last}); point server at the primary of that zone`);
    },
    addTxt(zone, name, value, ttlSeconds) {
      return update(zone, [txt(name, DnsClass.IN, ttlSeconds, value)], `add TXT ${name}`);
    },
    deleteTxt(zone, name, value) {
      return update(zone, [txt(name, DnsClass.NONE, 0, value)], `delete TXT ${name}`);
    },
  };
}
