/**
 * The one error root of Portcullis. Every error that crosses a module boundary is a
 * PortcullisError with a stable code: codes are never renamed or reused, so logs, tests and
 * users can match on them (the way jose and fastify do).
 */

/** Every code Portcullis emits. Add new ones at the end of their group; never reuse one. */
export const ErrorCodes = {
  // config
  ERR_CONFIG_SYNTAX: 'ERR_CONFIG_SYNTAX',
  ERR_CONFIG_INVALID: 'ERR_CONFIG_INVALID',
  ERR_CONFIG_IMPORT: 'ERR_CONFIG_IMPORT',
  ERR_CONFIG_NOT_FOUND: 'ERR_CONFIG_NOT_FOUND',
  // http, shown to clients with their status
  ERR_HTTP_BAD_REQUEST: 'ERR_HTTP_BAD_REQUEST',
  ERR_HTTP_NOT_FOUND: 'ERR_HTTP_NOT_FOUND',
  ERR_HTTP_FORBIDDEN: 'ERR_HTTP_FORBIDDEN',
  ERR_HTTP_BODY_TOO_LARGE: 'ERR_HTTP_BODY_TOO_LARGE',
  ERR_HTTP_STATUS: 'ERR_HTTP_STATUS',
  ERR_HTTP_RANGE: 'ERR_HTTP_RANGE',
  ERR_HTTP_METHOD_NOT_ALLOWED: 'ERR_HTTP_METHOD_NOT_ALLOWED',
  ERR_HTTP_PRECONDITION_FAILED: 'ERR_HTTP_PRECONDITION_FAILED',
  ERR_HTTP_UNAVAILABLE: 'ERR_HTTP_UNAVAILABLE',
  ERR_HTTP_UNAUTHORIZED: 'ERR_HTTP_UNAUTHORIZED',
  ERR_HTTP_TOO_MANY_REQUESTS: 'ERR_HTTP_TOO_MANY_REQUESTS',
  // upstreams
  ERR_UPSTREAM_UNAVAILABLE: 'ERR_UPSTREAM_UNAVAILABLE',
  ERR_UPSTREAM_FAILED: 'ERR_UPSTREAM_FAILED',
  ERR_UPSTREAM_TIMEOUT: 'ERR_UPSTREAM_TIMEOUT',
  // store
  ERR_STORE: 'ERR_STORE',
  ERR_STORE_CONFLICT: 'ERR_STORE_CONFLICT',
  ERR_STORE_NOT_FOUND: 'ERR_STORE_NOT_FOUND',
  ERR_STORE_MIGRATION: 'ERR_STORE_MIGRATION',
  // identity
  ERR_AUTH_INVALID_CREDENTIALS: 'ERR_AUTH_INVALID_CREDENTIALS',
  ERR_AUTH_THROTTLED: 'ERR_AUTH_THROTTLED',
  ERR_AUTH_CSRF: 'ERR_AUTH_CSRF',
  ERR_IDENTITY_CONFIG: 'ERR_IDENTITY_CONFIG',
  ERR_IDENTITY_KEYS: 'ERR_IDENTITY_KEYS',
  // ACME DNS challenge (RFC 2136 updates, propagation)
  ERR_ACME_DNS_REFUSED: 'ERR_ACME_DNS_REFUSED',
  ERR_ACME_DNS_UNREACHABLE: 'ERR_ACME_DNS_UNREACHABLE',
  ERR_ACME_DNS_PROPAGATION: 'ERR_ACME_DNS_PROPAGATION',
  // process
  ERR_LISTEN: 'ERR_LISTEN',
  ERR_ADMIN: 'ERR_ADMIN',
  ERR_INTERNAL: 'ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Where in a config file something came from. */
export interface SourceLocation {
  file: string;
  line: number;
}

export interface PortcullisErrorOptions {
  /** HTTP status when the error reaches a client; 500 when absent. */
  status?: number;
  /** Config location the error is about. */
  source?: SourceLocation;
  /** Directive the error is about, for config errors. */
  directive?: string;
  /** Headers the error response must carry (Allow on 405, Content-Range on 416, Retry-After). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class PortcullisError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly source: SourceLocation | undefined;
  readonly directive: string | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, options: PortcullisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PortcullisError';
    this.code = code;
    this.status = options.status ?? 500;
    this.source = options.source;
    this.directive = options.directive;
    this.headers = options.headers;
  }

  /** `file:line: directive: message`, the form every config error is shown in. */
  describe(): string {
    const where = this.source ? `${this.source.file}:${this.source.line}: ` : '';
    const what = this.directive ? `${this.directive}: ` : '';
    return `${where}${what}${this.message}`;
  }
}

/** Several config errors reported at once (Caddy's dispenser and Authelia's validator do the same). */
export class ConfigErrors extends PortcullisError {
  readonly errors: PortcullisError[];

  constructor(errors: PortcullisError[]) {
    super(ErrorCodes.ERR_CONFIG_INVALID, errors.map((e) => e.describe()).join('\n'));
    this.name = 'ConfigErrors';
    this.errors = errors;
  }
}

/** Collects config errors so a whole file is checked before anything is reported. */
export class ErrorList {
  readonly errors: PortcullisError[] = [];

  add(code: ErrorCode, message: string, source?: SourceLocation, directive?: string): void {
    const options: PortcullisErrorOptions = {};
    if (source) options.source = source;
    if (directive) options.directive = directive;
    this.errors.push(new PortcullisError(code, message, options));
  }

  get empty(): boolean {
    return this.errors.length === 0;
  }

  /** Throws every collected error as one ConfigErrors; does nothing when there are none. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw new ConfigErrors(this.errors);
  }
}

export function isPortcullisError(value: unknown): value is PortcullisError {
  return value instanceof PortcullisError;
}

/** An HTTP error meant for the client (4xx) or logged with an id (5xx). */
export function httpError(
  status: number,
  message: string,
  code: ErrorCode = ErrorCodes.ERR_HTTP_STATUS,
  headers?: Record<string, string>,
): PortcullisError {
  return new PortcullisError(code, message, headers ? { status, headers } : { status });
}
