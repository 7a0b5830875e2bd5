/**
 * A small client of CrowdSec's Local API (LAPI, v1 as served by CrowdSec 1.4 to 1.6): the
 * bouncer's decision stream (`X-Api-Key`) and the watcher's login and alerts (a JWT from
 * machine_id/password). Everything the LAPI answers is treated as hostile: bounded in time and
 * size, parsed element by element as it arrives (a million decisions never become one string
 * or one JSON.parse), and anything unexpected — `null` lists or bodies, unknown fields, values
 * of the wrong type — is skipped with a debug line, never a crash.
 *
 * Errors are PortcullisErrors (ERR_UPSTREAM_UNAVAILABLE when the LAPI cannot be reached,
 * ERR_UPSTREAM_TIMEOUT when it is too slow, ERR_UPSTREAM_FAILED when it answers wrongly) that
 * name the LAPI URL and carry its HTTP status in `lapiStatus`.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { parseDuration } from '../../config/index.ts';
import type { Clock } from '../../kernel/clock.ts';
import { ErrorCodes, PortcullisError, type ErrorCode } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/logger.ts';

/** One decision of the stream, checked; what it means to the guard is the bouncer's business. */
export interface LapiDecision {
  /** The LAPI's id: a positive integer. */
  id: number;
  /** `ban`, `captcha`, `throttle` or anything custom. */
  type: string;
  /** `Ip`, `Range`, `Country`, `AS`, `Username`, ... as the LAPI spells it. */
  scope: string;
  value: string;
  /** What is left of it when the LAPI answered; negative for expired or deleted ones. */
  durationMs: number;
  /** Empty when absent. */
  scenario: string;
  /** `crowdsec`, `cscli`, `CAPI`, `lists`, ...; empty when absent. */
  origin: string;
}

/** Which list of the stream a decision came in. */
export type StreamList = 'new' | 'deleted';

/** What one stream request brought. */
export interface StreamSummary {
  new: number;
  deleted: number;
  /** Elements that were not decisions we could read (logged at debug). */
  skipped: number;
  /** The reply had more than `maxElements` elements; the rest was not read. */
  truncated: boolean;
}

/** An alert as LAPI 1.4's POST /v1/alerts takes it (every field it requires, one decision). */
export interface LapiAlert {
  scenario: string;
  scenario_hash: string;
  scenario_version: string;
  message: string;
  events_count: number;
  start_at: string;
  stop_at: string;
  capacity: number;
  leakspeed: string;
  simulated: boolean;
  events: unknown[];
  remediation: boolean;
  source: { scope: string; value: string; ip?: string; range?: string };
  decisions: { origin: string; type: string; scope: string; value: string; duration: string; scenario: string }[];
}

export interface LapiClientOptions {
  /** `http(s)://host:port[/prefix]`: where `/v1/...` is. */
  url: string;
  /** The bouncer's key (`cscli bouncers add NAME`); needed by streamDecisions. */
  apiKey?: string | null;
  /** The watcher's machine (`cscli machines add NAME --password P`); needed by pushAlerts. */
  machineId?: string | null;
  password?: string | null;
  clock: Clock;
  logger: Logger;
  /** Waiting for response headers, and between two chunks of a body; default 10 s. */
  timeoutMs?: number;
  /** Longest whole decision stream; default 5 min (a first pull of a huge list is slow). */
  streamTimeoutMs?: number;
  /** Largest decision stream read; default 512 MiB (it is parsed as it arrives). */
  maxStreamBytes?: number;
  /** Sent to the LAPI, which shows it in `cscli bouncers list`. */
  userAgent?: string;
}

export interface StreamOptions {
  /** true: every active decision (a first pull); false: what changed since this key's last pull. */
  startup: boolean;
  /** Elements (new and deleted together) read at most; the rest is left unread. */
  maxElements: number;
  /** Called for each readable decision, in the order of the reply. */
  onDecision(list: StreamList, decision: LapiDecision): void;
  /** Aborts the request (the bouncer stopping). */
  signal?: AbortSignal;
}

export interface LapiClient {
  /** The base URL, for messages. */
  readonly url: string;
  /** GET /v1/decisions/stream. Rejects with a LapiError. */
  streamDecisions(options: StreamOptions): Promise<StreamSummary>;
  /**
   * POST /v1/alerts as the watcher, logging in first and again when the token expires or is
   * refused. Resolves with how many alerts the LAPI created. Rejects with a LapiError.
   */
  pushAlerts(alerts: readonly LapiAlert[]): Promise<number>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/** A PortcullisError about the LAPI, with the HTTP status it answered (null: no answer). */
export type LapiError = PortcullisError & { readonly lapiStatus: number | null; readonly lapiUrl: string };

/** Whether `error` came from the LAPI client. */
export function isLapiError(error: unknown): error is LapiError {
  return error instanceof PortcullisError && 'lapiStatus' in error;
}

/** Longest one decision may be in the stream; longer ones are skipped (a real one is ~200 bytes). */
const MAX_ELEMENT_BYTES = 16 * 1024;
/** Largest reply of login, alerts and error bodies. */
const MAX_SMALL_BODY = 64 * 1024;
/** Longest text field kept from a decision. */
const MAX_FIELD = 1024;
/** Skipped elements logged per request; the rest are counted. */
const MAX_SKIP_LOGS = 5;
/** Elements handled between two yields to the event loop while a stream is read. */
const ELEMENTS_PER_TURN = 2000;
/** A token is renewed this long before the LAPI says it expires. */
const TOKEN_MARGIN_MS = 60_000;
/** When the LAPI's `expire` cannot be read, the token is renewed after this. */
const TOKEN_FALLBACK_MS = 10 * 60_000;

/** A client of the LAPI at `options.url`; connections are opened lazily. */
export function createLapiClient(options: LapiClientOptions): LapiClient {
  const { clock, logger } = options;
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const streamTimeoutMs = options.streamTimeoutMs ?? 300_000;
  const maxStreamBytes = options.maxStreamBytes ?? 512 * 1024 * 1024;
  const userAgent = options.userAgent ?? 'portcullis-crowdsec/1';
  // Our own pool: close() ends its connections, and its timeouts are ours whatever the global dispatcher says.
  const dispatcher = new Agent({ connections: 4, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs });
  let token: { value: string; renewAt: number } | null = null;
  let loggingIn: Promise<string> | null = null;

  const fail = (code: ErrorCode, message: string, lapiStatus: number | null, cause?: unknown): LapiError =>
    Object.assign(new PortcullisError(code, `CrowdSec LAPI ${base}: ${message}`, cause === undefined ? {} : { cause }), { lapiStatus, lapiUrl: base });

  /** A failure to reach the LAPI or to read its answer in time, as a LapiError. */
  const transportError = (error: unknown, what: string): LapiError => {
    if (isLapiError(error)) return error;
    const e = error as { code?: string; name?: string; message?: string };
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(e.code ?? '');
    if (timedOut) return fail(ErrorCodes.ERR_UPSTREAM_TIMEOUT, `${what} timed out`, null, error);
    return fail(ErrorCodes.ERR_UPSTREAM_UNAVAILABLE, `${what} failed: ${e.code ?? e.message ?? String(error)}`, null, error);
  };

  type Response = Awaited<ReturnType<typeof request>>;

  /** Reads at most MAX_SMALL_BODY bytes of `body` as text; more is an error. */
  const smallBody = async (response: Response, what: string): Promise<string> => {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_SMALL_BODY) throw fail(ErrorCodes.ERR_UPSTREAM_FAILED, `${what}: the reply is larger than ${MAX_SMALL_BODY} bytes`, response.statusCode);
      parts.push(chunk as Buffer);
    }
    return Buffer.concat(parts).toString('utf8');
  };

  /** The error for a reply with an unexpected status, with the LAPI's own `message` when it gave one. */
  const statusError = async (response: Response, what: string, hint: string): Promise<LapiError> => {
    let detail = '';
    try {
      const parsed: unknown = JSON.parse(await smallBody(response, what));
      const message = (parsed as { message?: unknown } | null)?.message;
      if (typeof message === 'string') detail = `: ${printable(message, 200)}`;
    } catch {
      // No readable message: the status says enough.
    }
    return fail(ErrorCodes.ERR_UPSTREAM_FAILED, `${what} answered ${response.statusCode}${detail}${hint}`, response.statusCode);
  };

  const streamDecisions = async (stream: StreamOptions): Promise<StreamSummary> => {
    const what = 'the decision stream';
    if (!options.apiKey) throw fail(ErrorCodes.ERR_CONFIG_INVALID, 'no bouncer api_key is configured', null);
    const summary: StreamSummary = { new: 0, deleted: 0, skipped: 0, truncated: false };
    let response: Response;
    const timeout = AbortSignal.timeout(streamTimeoutMs);
    const signal = stream.signal === undefined ? timeout : AbortSignal.any([timeout, stream.signal]);
    const failed = (error: unknown): LapiError =>
      stream.signal?.aborted === true && !timeout.aborted ? fail(ErrorCodes.ERR_UPSTREAM_UNAVAILABLE, `${what} was aborted`, null, error) : transportError(error, what);
    try {
      response = await request(`${base}/v1/decisions/stream?startup=${stream.startup}`, {
        method: 'GET',
        headers: { 'x-api-key': options.apiKey, 'user-agent': userAgent, accept: 'application/json' },
        dispatcher,
        signal,
      });
    } catch (error) {
      throw failed(error);
    }
    if (response.statusCode !== 200) {
      const hint = response.statusCode === 403 || response.statusCode === 401 ? ' (the bouncer API key is not accepted: revoked, or mistyped; `cscli bouncers list` shows the valid ones)' : '';
      throw await statusError(response, what, hint);
    }
    let skipLogs = 0;
    const skip = (list: StreamList | null, why: string, element: string): void => {
      summary.skipped++;
      if (skipLogs++ < MAX_SKIP_LOGS) logger.debug({ lapi: base, list, why, element: printable(element, 200) }, 'CrowdSec: skipped an element of the decision stream');
    };
    const scanner = createStreamScanner({
      element(list, text) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          skip(list, 'not JSON', text);
          return;
        }
        const decision = readDecision(parsed);
        if (typeof decision === 'string') {
          skip(list, decision, text);
          return;
        }
        summary[list]++;
        stream.onDecision(list, decision);
      },
      other(list, what) {
        skip(list, what, '');
      },
    });
    let bytes = 0;
    let sinceYield = 0;
    try {
      for await (const chunk of response.body) {
        bytes += (chunk as Buffer).length;
        if (bytes > maxStreamBytes) throw fail(ErrorCodes.ERR_UPSTREAM_FAILED, `${what} is larger than ${maxStreamBytes} bytes`, 200);
        const before = summary.new + summary.deleted + summary.skipped;
        scanner.feed(chunk as Buffer);
        const elements = summary.new + summary.deleted + summary.skipped;
        if (elements >= stream.maxElements) {
          // Leaving the loop destroys the body: the rest is never read.
          summary.truncated = true;
          break;
        }
        sinceYield += elements - before;
        if (sinceYield >= ELEMENTS_PER_TURN) {
          // A body that arrives faster than we apply it would otherwise be read in one long
          // run of microtasks: let requests and timers in.
          sinceYield = 0;
          await yieldToLoop();
        }
      }
      if (!summary.truncated) scanner.end();
    } catch (error) {
      if (error instanceof StreamSyntaxError) throw fail(ErrorCodes.ERR_UPSTREAM_FAILED, `${what} is not the JSON a LAPI sends: ${error.message}`, 200);
      throw failed(error);
    }
    return summary;
  };

  /** POST /v1/watchers/login; the token, kept until shortly before it expires. */
  const login = async (): Promise<string> => {
    const what = 'the watcher login';
    if (!options.machineId || !options.password) throw fail(ErrorCodes.ERR_CONFIG_INVALID, 'no watcher machine_id and password are configured', null);
    let response: Response;
    try {
      response = await request(`${base}/v1/watchers/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent },
        body: JSON.stringify({ machine_id: options.machineId, password: options.password, scenarios: [] }),
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw transportError(error, what);
    }
    if (response.statusCode !== 200) {
      const hint = response.statusCode === 401 || response.statusCode === 403 ? ` (machine ${JSON.stringify(options.machineId)} or its password is not accepted; \`cscli machines list\` shows the machines, which must be validated)` : '';
      throw await statusError(response, what, hint);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(await smallBody(response, what));
    } catch (error) {
      throw isLapiError(error) ? error : fail(ErrorCodes.ERR_UPSTREAM_FAILED, `${what} answered something that is not JSON`, 200);
    }
    const reply = parsed as { token?: unknown; expire?: unknown } | null;
    // A JWT is three base64url parts; anything else must not end up in a header.
    if (typeof reply?.token !== 'string' || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(reply.token) || reply.token.length > 8192) {
      throw fail(ErrorCodes.ERR_UPSTREAM_FAILED, `${what} answered without a usable token`, 200);
    }
    const now = clock.now();
    const expires = typeof reply.expire === 'string' ? Date.parse(reply.expire) : NaN;
    const renewAt = Number.isFinite(expires) && expires - TOKEN_MARGIN_MS > now ? expires - TOKEN_MARGIN_MS : now + TOKEN_FALLBACK_MS;
    token = { value: reply.token, renewAt };
    return reply.token;
  };

  /** The current token, logging in when there is none or it is about to expire (one login at a time). */
  const currentToken = async (): Promise<string> => {
    if (token !== null && clock.now() < token.renewAt) return token.value;
    loggingIn ??= login().finally(() => {
      loggingIn = null;
    });
    return loggingIn;
  };

  const postAlerts = async (alerts: readonly LapiAlert[], bearer: string): Promise<Response> => {
    try {
      return await request(`${base}/v1/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent, authorization: `Bearer ${bearer}` },
        body: JSON.stringify(alerts),
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw transportError(error, 'sending alerts');
    }
  };

  const pushAlerts = async (alerts: readonly LapiAlert[]): Promise<number> => {
    if (alerts.length === 0) return 0;
    let response = await postAlerts(alerts, await currentToken());
    if (response.statusCode === 401) {
      // The LAPI restarted with a new secret, or the token expired early: once more, freshly logged in.
      await response.body.dump();
      token = null;
      response = await postAlerts(alerts, await currentToken());
    }
    if (response.statusCode !== 201 && response.statusCode !== 200) throw await statusError(response, 'sending alerts', '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(await smallBody(response, 'sending alerts'));
    } catch (error) {
      if (isLapiError(error)) throw error;
      parsed = null;
    }
    // LAPI answers the ids it created; a reply we cannot read still means it took them.
    return Array.isArray(parsed) ? parsed.length : alerts.length;
  };

  return {
    url: base,
    streamDecisions,
    pushAlerts,
    async close() {
      await dispatcher.close().catch(() => undefined);
    },
  };
}

/** A decision read from one element of the stream, or why it could not be read. */
function readDecision(value: unknown): LapiDecision | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const o = value as Record<string, unknown>;
  const id = o.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return 'no positive integer id';
  const type = field(o.type);
  const scope = field(o.scope);
  const decisionValue = field(o.value);
  if (type === null || type === '' || scope === null || scope === '' || decisionValue === null || decisionValue === '') return 'type, scope or value missing';
  const duration = typeof o.duration === 'string' ? parseGoDuration(o.duration) : null;
  if (duration === null) return 'no readable duration';
  return { id, type, scope, value: decisionValue, durationMs: duration, scenario: field(o.scenario) ?? '', origin: field(o.origin) ?? '' };
}

/** A string field, or null when it is not a string or absurdly long. */
function field(value: unknown): string | null {
  return typeof value === 'string' && value.length <= MAX_FIELD ? value : null;
}

/**
 * A Go duration (`3h59m58.123456789s`, `-1.5s`, `1h0m0s`, `300ms`) in milliseconds; null when
 * it is not one. Go's `time.Duration.String()` is what the LAPI sends.
 */
export function parseGoDuration(text: string): number | null {
  const parsed = parseDuration(text);
  return parsed.ok && Number.isFinite(parsed.value) ? parsed.value : null;
}

/**
 * A Go duration for `ms` milliseconds, rounded up to whole seconds (`3h59m58s`); what
 * `time.ParseDuration` on the LAPI reads back.
 */
export function formatGoDuration(ms: number): string {
  let seconds = Math.max(1, Math.ceil(ms / 1000));
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}s`;
}

/** Control characters out, length capped: LAPI text may end up in our logs. */
function printable(text: string, max: number): string {
  const clean = text.replace(/[\p{Cc}]/gu, ' ');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

/** The stream's body is not the JSON object of lists it should be. */
class StreamSyntaxError extends Error {}

interface ScannerEvents {
  /** The JSON text of one object element of `new` or `deleted`. */
  element(list: StreamList, text: string): void;
  /** An element that is not an object, or too long to read: skipped. */
  other(list: StreamList, why: string): void;
}

interface StreamScanner {
  feed(chunk: Buffer): void;
  /** Throws StreamSyntaxError when the body ended before the JSON did. */
  end(): void;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Reads `{"deleted": [...], "new": [...]}` (or the literal `null`, or either list `null`) as it
 * arrives, handing each element of the two lists over on its own; other keys are skipped. It
 * finds where values end (strings, nesting) without parsing them: each element is then parsed
 * by JSON.parse, small. UTF-8 is safe to scan bytewise: no multi-byte sequence contains a
 * quote, a backslash or a bracket.
 */
function createStreamScanner(events: ScannerEvents): StreamScanner {
  type Mode = 'top' | 'key-or-end' | 'key-start' | 'key' | 'colon' | 'value' | 'item-or-end' | 'item' | 'item-sep' | 'after-value' | 'skip' | 'literal' | 'done';
  let mode: Mode = 'top';
  let key: number[] = [];
  let keyTooLong = false;
  let list: StreamList | null = null;
  /** Where a skipped value or a literal returns to. */
  let resume: Mode = 'after-value';
  let literal = '';
  let literalAt = 0;
  // The value being skipped or captured.
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false;
  let capture = false;
  let isObject = false;
  let parts: Buffer[] = [];
  let captured = 0;

  const startValue = (byte: number, returnTo: Mode, capturing: boolean): void => {
    resume = returnTo;
    capture = capturing;
    isObject = byte === OPEN_BRACE;
    parts = [];
    captured = 0;
    depth = 0;
    inString = false;
    escaped = false;
    scalar = false;
    if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth = 1;
    else scalar = true;
    mode = 'skip';
  };

  const startLiteral = (text: string, returnTo: Mode): void => {
    literal = text;
    literalAt = 1;
    resume = returnTo;
    mode = 'literal';
  };

  const bad = (byte: number, expected: string): never => {
    throw new StreamSyntaxError(`expected ${expected}, got ${JSON.stringify(String.fromCharCode(byte))}`);
  };

  return {
    feed(chunk) {
      let valueStart = mode === 'skip' ? 0 : -1;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        switch (mode) {
          case 'top':
            if (isSpace(byte)) break;
            if (byte === OPEN_BRACE) mode = 'key-or-end';
            // The whole reply `null`: nothing new, nothing deleted (LAPI 1.4 answers it).
            else if (byte === 0x6e) startLiteral('null', 'done');
            else bad(byte, 'an object');
            break;
          case 'key-or-end':
          case 'key-start':
            if (isSpace(byte)) break;
            if (byte === QUOTE) {
              key = [];
              keyTooLong = false;
              escaped = false;
              mode = 'key';
            } else if (byte === CLOSE_BRACE && mode === 'key-or-end') mode = 'done';
            else bad(byte, 'a key');
            break;
          case 'key':
            if (escaped) escaped = false;
            else if (byte === BACKSLASH) {
              escaped = true;
              // An escaped key is never one of ours.
              keyTooLong = true;
            } else if (byte === QUOTE) mode = 'colon';
            else if (key.length < 16) key.push(byte);
            else keyTooLong = true;
            break;
          case 'colon':
            if (isSpace(byte)) break;
            if (byte !== COLON) bad(byte, '":"');
            {
              const name = keyTooLong ? '' : String.fromCharCode(...key);
              list = name === 'new' || name === 'deleted' ? name : null;
            }
            mode = 'value';
            break;
          case 'value':
            if (isSpace(byte)) break;
            if (list !== null && byte === OPEN_BRACKET) mode = 'item-or-end';
            else if (list !== null && byte === 0x6e) startLiteral('null', 'after-value');
            else {
              if (list !== null) events.other(list, 'the list is not a list');
              startValue(byte, 'after-value', false);
              valueStart = i;
              if (scalar) i--; // a scalar's first byte is looked at again by 'skip'
            }
            break;
          case 'item-or-end':
          case 'item':
            if (isSpace(byte)) break;
            if (byte === CLOSE_BRACKET && mode === 'item-or-end') {
              mode = 'after-value';
              break;
            }
            startValue(byte, 'item-sep', byte === OPEN_BRACE);
            valueStart = i;
            if (scalar) i--;
            break;
          case 'skip': {
            if (inString) {
              if (escaped) escaped = false;
              else if (byte === BACKSLASH) escaped = true;
              else if (byte === QUOTE) {
                inString = false;
                if (depth === 0) finish(chunk, valueStart, i + 1);
              }
            } else if (scalar) {
              if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || isSpace(byte)) {
                finish(chunk, valueStart, i);
                i--; // the delimiter belongs to what comes next
              }
            } else if (byte === QUOTE) inString = true;
            else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
            else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
              depth--;
              if (depth === 0) finish(chunk, valueStart, i + 1);
            }
            break;
          }
          case 'literal':
            if (byte !== literal.charCodeAt(literalAt)) bad(byte, JSON.stringify(literal));
            if (++literalAt === literal.length) mode = resume;
            break;
          case 'item-sep':
            if (isSpace(byte)) break;
            if (byte === COMMA) mode = 'item';
            else if (byte === CLOSE_BRACKET) mode = 'after-value';
            else bad(byte, '"," or "]"');
            break;
          case 'after-value':
            if (isSpace(byte)) break;
            if (byte === COMMA) mode = 'key-start';
            else if (byte === CLOSE_BRACE) mode = 'done';
            else bad(byte, '"," or "}"');
            break;
          case 'done':
            if (!isSpace(byte)) bad(byte, 'the end of the reply');
            break;
        }
      }
      if (mode === 'skip' && capture) keep(chunk.subarray(Math.max(0, valueStart)));
    },
    end() {
      if (mode === 'skip' && scalar) {
        // A bare scalar at the very end cannot be a complete reply (it is inside an object).
        throw new StreamSyntaxError('the reply ended inside a value');
      }
      if (mode !== 'done') throw new StreamSyntaxError('the reply ended early');
    },
  };

  /** Keeps captured bytes; an element longer than MAX_ELEMENT_BYTES is skipped instead. */
  function keep(bytes: Buffer): void {
    captured += bytes.length;
    if (captured > MAX_ELEMENT_BYTES) {
      capture = false;
      parts = [];
      if (list !== null) events.other(list, `an element longer than ${MAX_ELEMENT_BYTES} bytes`);
      return;
    }
    parts.push(bytes);
  }

  /** The value that started at `start` (in this chunk, or 0 when it began in an earlier one) ends before `end`. */
  function finish(chunk: Buffer, start: number, end: number): void {
    if (capture) keep(chunk.subarray(Math.max(0, start), end));
    mode = resume;
    if (resume === 'item-sep' && list !== null) {
      // An object too long to keep was reported by keep().
      if (!isObject) events.other(list, 'not an object');
      else if (capture) events.element(list, Buffer.concat(parts).toString('utf8'));
    }
    parts = [];
  }
}
