/**
 * Named security regression tables for `authenticate`: header spoofing on every kind of route,
 * policy bypass by path confusion, open redirects through the sign-in portal's return address,
 * and the sign-in cookie's attributes over HTTPS. Everything runs against real instances on
 * loopback, a real upstream that records what it receives, and raw sockets for requests no
 * well-behaved client would send.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { openIdentityAdmin } from '../../src/main.ts';
import { Browser, formAction, hiddenInput } from '../support/browser.ts';
import { freePort, startPortcullis, type Running } from '../support/instance.ts';
import { rawRequest, type RawResponse } from '../support/raw-http.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

const ALICE = { username: 'alice', password: 'alice-password-long', email: 'alice@example.com', name: 'Alice Liddell' };
const BOB = { username: 'bob', password: 'bob-password-long-enough', email: 'bob@example.com' };

async function addUsers(running: Running): Promise<void> {
  const { admin, close } = await openIdentityAdmin({ configFile: running.configFile });
  try {
    await admin.addUser({ username: ALICE.username, email: ALICE.email, displayName: ALICE.name, password: ALICE.password });
    await admin.addUser({ username: BOB.username, email: BOB.email, password: BOB.password });
    await admin.addGroup('admins');
    await admin.addGroup('staff');
    await admin.addMember('admins', ALICE.username);
    await admin.addMember('staff', ALICE.username);
  } finally {
    await close();
  }
}

/** Signs a browser in through a gated site's redirect; returns the session cookie's value. */
async function signIn(browser: Browser, url: string, user: { username: string; password: string }): Promise<string> {
  const first = await browser.get(url);
  assert.equal(first.status, 302, `anonymous ${url} is sent to sign in`);
  const login = await browser.follow(first);
  const posted = await browser.post(new URL(formAction(login.body), login.url).href, { csrf: hiddenInput(login.body, 'csrf'), login: user.username, password: user.password });
  assert.equal(posted.status, 303, `${user.username} signed in`);
  const sso = browser.cookie('portcullis.sso');
  assert.ok(sso, 'the sign-in cookie was set');
  return sso;
}

/** One raw HTTP/1.1 request; `lines` are the request line and header lines, without CRLFs. */
function raw(port: number, lines: string[], body = ''): Promise<RawResponse> {
  return rawRequest(port, `${lines.join('\r\n')}\r\n\r\n${body}`, 5000);
}

let probes = 0;
/** A unique id per request, carried in X-Probe, to find what the upstream received for it. */
function nextProbe(): string {
  return `p${process.pid}-${++probes}`;
}

/** Header names the way upstreams read them: any case, `_` for `-`. */
function fold(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

// ---------------------------------------------------------------------------------------------
// One instance for tables 1 and 2: the provider, a site with every kind of route (spoofing),
// and the site of the policy-bypass table.
// ---------------------------------------------------------------------------------------------

let main: Running;
let upstream: Upstream;
/** Request trailers the upstream received, by X-Probe. */
const trailersSeen = new Map<string, Record<string, string | undefined>>();
let spoofPort: number;
let issuerUrl: string;
let policyPort: number;
let aliceSso: string;
let bobSso: string;

before(async () => {
  upstream = await startUpstream((req, res) => {
    trailersSeen.set(String(req.headers['x-probe']), { ...req.trailers });
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }).end('ok');
  });
  const [idpPort, sp, pp] = await Promise.all([freePort(), freePort(), freePort()]);
  spoofPort = sp;
  policyPort = pp;
  const issuer = `http://127.0.0.1:${idpPort}`;
  issuerUrl = issuer;
  const up = `127.0.0.1:${upstream.port}`;
  main = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
	database sqlite $DIR/identity.db
	identity {
		issuer ${issuer}
	}
}
${issuer} {
	identity_provider
}
http://127.0.0.1:${spoofPort} {
	handle /public/* {
		reverse_proxy ${up}
	}
	handle /r/* {
		route {
			reverse_proxy ${up}
		}
	}
	handle /admin/* {
		authenticate {
			require group admins
		}
		reverse_proxy ${up}
	}
	handle /oops/* {
		error "boom" 500
	}
	handle /oops-in/* {
		authenticate
		error "boom" 500
	}
	handle_path /app/* {
		authenticate {
			header_names {
				user X-App-User
				email X-App-Email
				name X-App-Name
				groups X-App-Groups
			}
			assertion X-App-Assertion
		}
		reverse_proxy ${up}
	}
	handle {
		authenticate {
			header_aliases authentik oauth2-proxy
			assertion
		}
		reverse_proxy ${up}
	}
	handle_errors {
		handle /oops/* {
			reverse_proxy ${up}
		}
		handle /oops-in/* {
			reverse_proxy ${up}
		}
	}
}
http://127.0.0.1:${policyPort} {
	handle /public/* {
		reverse_proxy ${up}
	}
	handle /admin/* {
		authenticate {
			require group admins
		}
		reverse_proxy ${up}
	}
	handle {
		authenticate
		reverse_proxy ${up}
	}
}
`);
  await addUsers(main);
  aliceSso = await signIn(new Browser(), `http://127.0.0.1:${policyPort}/home`, ALICE);
  bobSso = await signIn(new Browser(), `http://127.0.0.1:${policyPort}/home`, BOB);
});

after(async () => {
  await main?.stop();
  await upstream?.close();
});

function seenFor(probe: string) {
  return upstream.seen.filter((s) => s.headers['x-probe'] === probe);
}

// ---------------------------------------------------------------------------------------------
// Table 1: header spoofing
// ---------------------------------------------------------------------------------------------

/** Every identity header name the spoofing site's `authenticate` handlers use. */
const IDENTITY_NAMES = [
  'Remote-User',
  'Remote-Email',
  'Remote-Name',
  'Remote-Groups',
  'X-Authentik-Username',
  'X-Authentik-Email',
  'X-Authentik-Name',
  'X-Authentik-Groups',
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Preferred-Username',
  'X-Auth-Request-Groups',
  'X-Portcullis-Assertion',
  'X-App-User',
  'X-App-Email',
  'X-App-Name',
  'X-App-Groups',
  'X-App-Assertion',
];
const IDENTITY_KEYS = new Set(IDENTITY_NAMES.map(fold));

/** What one identity header must carry: an exact value, or a JWT about alice. */
type Expected = string | 'jwt';

const REMOTE: Record<string, Expected> = {
  'remote-user': ALICE.username,
  'remote-email': ALICE.email,
  'remote-name': ALICE.name,
  'remote-groups': 'admins,staff',
};
const DEFAULT_ROUTE: Record<string, Expected> = {
  ...REMOTE,
  'x-authentik-username': ALICE.username,
  'x-authentik-email': ALICE.email,
  'x-authentik-name': ALICE.name,
  'x-authentik-groups': 'admins|staff',
  'x-auth-request-user': ALICE.username,
  'x-auth-request-email': ALICE.email,
  'x-auth-request-preferred-username': ALICE.username,
  'x-auth-request-groups': 'admins,staff',
  'x-portcullis-assertion': 'jwt',
};
const APP_ROUTE: Record<string, Expected> = {
  'x-app-user': ALICE.username,
  'x-app-email': ALICE.email,
  'x-app-name': ALICE.name,
  'x-app-groups': 'admins,staff',
  'x-app-assertion': 'jwt',
};

interface PathKind {
  label: string;
  path: string;
  sso: () => string | null;
  accept: string;
  /** null: nothing may reach the upstream, and the client gets `status`. */
  identity: Record<string, Expected> | null;
  status?: number;
}

const PATH_KINDS: PathKind[] = [
  { label: 'open route (handle /public/*), anonymous', path: '/public/x', sso: () => null, accept: '*/*', identity: {} },
  // authenticate does not run here, so even a signed-in user's identity is not sent.
  { label: 'open route (handle /public/*), signed in', path: '/public/x', sso: () => aliceSso, accept: '*/*', identity: {} },
  { label: 'gated route, signed in as alice', path: '/gated/x', sso: () => aliceSso, accept: '*/*', identity: DEFAULT_ROUTE },
  { label: 'gated route, anonymous API client (401)', path: '/gated/x', sso: () => null, accept: 'application/json', identity: null, status: 401 },
  { label: 'gated route, bob denied by require group admins (403)', path: '/admin/x', sso: () => bobSso, accept: '*/*', identity: null, status: 403 },
  { label: 'error path (handle_errors proxies to the upstream), anonymous', path: '/oops/x', sso: () => null, accept: '*/*', identity: {} },
  { label: 'error path after authenticate (handle_errors proxies), signed in', path: '/oops-in/x', sso: () => aliceSso, accept: '*/*', identity: REMOTE },
  { label: 'handle_path /app/* with renamed header_names, signed in', path: '/app/x', sso: () => aliceSso, accept: '*/*', identity: APP_ROUTE },
  { label: 'route { } block under handle /r/*, anonymous', path: '/r/x', sso: () => null, accept: '*/*', identity: {} },
];

interface Variant {
  label: string;
  /** Header lines spoofing `name` with a value carrying `marker`. */
  lines: (name: string, marker: string) => string[];
  /** Sent as a chunked request's trailer section instead of header lines. */
  trailer?: boolean;
  /**
   * The line is malformed HTTP/1.1: the server must refuse the request (400) before any
   * handler runs, or strip it like any other copy.
   */
  malformed?: boolean;
}

const mixed = (name: string) => name[0] + name.slice(1).toLowerCase().replaceAll('-', '_');

const VARIANTS: Variant[] = [
  { label: 'exact case (Remote-User)', lines: (n, m) => [`${n}: ${m}`] },
  { label: 'lower case (remote-user)', lines: (n, m) => [`${n.toLowerCase()}: ${m}`] },
  { label: 'upper case (REMOTE-USER)', lines: (n, m) => [`${n.toUpperCase()}: ${m}`] },
  // CGI, PHP, WSGI and others fold `_` and `-` to the same variable (HTTP_REMOTE_USER).
  { label: 'underscores (Remote_User)', lines: (n, m) => [`${n.replaceAll('-', '_')}: ${m}`] },
  { label: 'mixed (Remote_user)', lines: (n, m) => [`${mixed(n)}: ${m}`] },
  // Node joins repeated fields with ", "; an upstream may read the first or the last.
  { label: 'duplicated header lines', lines: (n, m) => [`${n}: ${m}-a`, `${n}: ${m}-b`] },
  { label: 'duplicated in two spellings (Remote-User and remote_user)', lines: (n, m) => [`${n}: ${m}-a`, `${n.toLowerCase().replaceAll('-', '_')}: ${m}-b`] },
  { label: 'leading and trailing whitespace in the value', lines: (n, m) => [`${n}: \t  ${m}  \t`] },
  // RFC 9112 §5.1: no whitespace between field name and colon; a server must reject it (400).
  { label: 'whitespace before the colon (Remote-User : x)', lines: (n, m) => [`${n} : ${m}`], malformed: true },
  // RFC 9112 §5.2: obsolete line folding; a server must reject it or replace it with spaces.
  { label: 'obsolete line folding', lines: (n, m) => [`${n}: x`, ` ${m}`], malformed: true },
  // A request trailer must never become a header upstream (RFC 9110 §6.5.1).
  { label: 'in a chunked request trailer', lines: (n, m) => [`${n}: ${m}`], trailer: true },
];

function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const parts = jwt.split('.');
  assert.equal(parts.length, 3, `a JWT: ${jwt}`);
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function spoofOnce(kind: PathKind, variant: Variant, names: string[]): Promise<void> {
  const probe = nextProbe();
  const marker = `spoofed-${probe}`;
  const sso = kind.sso();
  const spoofed = names.flatMap((n) => variant.lines(n, marker));
  const head = [
    `${variant.trailer ? 'POST' : 'GET'} ${kind.path} HTTP/1.1`,
    `Host: 127.0.0.1:${spoofPort}`,
    `X-Probe: ${probe}`,
    `Accept: ${kind.accept}`,
    ...(sso !== null ? [`Cookie: portcullis.sso=${sso}`] : []),
    ...(variant.trailer ? ['Transfer-Encoding: chunked', `Trailer: ${names.join(', ')}`] : spoofed),
    'Connection: close',
  ];
  const body = variant.trailer ? `5\r\nhello\r\n0\r\n${spoofed.join('\r\n')}\r\n\r\n` : '';
  const res = await raw(spoofPort, head, body);
  const seen = seenFor(probe);
  const what = `${kind.label} / ${variant.label} / ${names.length === 1 ? names[0] : 'all names'}`;
  if (variant.malformed && res.status === 400) {
    assert.equal(seen.length, 0, `${what}: refused, and nothing reached the upstream`);
    return;
  }
  if (kind.identity === null) {
    assert.equal(res.status, kind.status, `${what}: status\n${res.text.slice(0, 300)}`);
    assert.equal(seen.length, 0, `${what}: nothing reaches the upstream`);
    return;
  }
  assert.equal(seen.length, 1, `${what}: the upstream got the request (status ${res.status})\n${res.text.slice(0, 300)}`);
  const received = seen[0]!;
  for (const [name, value] of Object.entries(received.headers)) {
    assert.ok(!String(value).includes('spoofed-'), `${what}: the upstream saw a client-sent value in ${name}: ${String(value)}`);
    const key = fold(name);
    if (!IDENTITY_KEYS.has(key)) continue;
    const expected = kind.identity[key];
    assert.ok(expected !== undefined, `${what}: the upstream got ${name} (${String(value)}) although no authenticate on this route sets it`);
    assert.equal(name, key, `${what}: only the canonical spelling ${key} reaches the upstream, not ${name}`);
  }
  for (const [key, expected] of Object.entries(kind.identity)) {
    const value = received.headers[key];
    assert.equal(typeof value, 'string', `${what}: ${key} is set exactly once`);
    if (expected === 'jwt') {
      const payload = decodeJwtPayload(value as string);
      assert.equal(payload.preferred_username, ALICE.username, `${what}: ${key} is the real assertion`);
      assert.equal(payload.aud, `http://127.0.0.1:${spoofPort}`);
    } else {
      assert.equal(value, expected, `${what}: ${key} carries only the real identity`);
    }
  }
  const trailers = trailersSeen.get(probe) ?? {};
  for (const [name, value] of Object.entries(trailers)) {
    assert.ok(!String(value).includes('spoofed-'), `${what}: the upstream saw a client-sent trailer ${name}: ${String(value)}`);
  }
}

describe('header spoofing: client-sent identity headers never reach the upstream', () => {
  for (const kind of PATH_KINDS) {
    for (const variant of VARIANTS) {
      test(`${kind.label}: ${variant.label} copies of every identity header are removed`, async () => {
        for (const name of IDENTITY_NAMES) await spoofOnce(kind, variant, [name]);
        await spoofOnce(kind, variant, IDENTITY_NAMES);
      });
    }
  }
});

describe('Portcullis cookies never reach the upstream; the app\'s cookies do', () => {
  // Every cookie name the provider and the portal use, plain-http and https spellings, and
  // oidc-provider's signature cookies (`.sig`).
  const own = () => [
    `portcullis.sso=${aliceSso}`,
    'portcullis=s1',
    'portcullis.sig=s2',
    'portcullis.interaction=s3',
    'portcullis.interaction.sig=s4',
    'portcullis.resume=s5',
    'portcullis.login=s6',
    '__Host-portcullis=s7',
    '__Host-portcullis.sig=s8',
    `__Secure-portcullis.sso=${aliceSso}`,
    '__Secure-portcullis.interaction=s9',
    '__Host-portcullis.login=s10',
  ];
  const kinds = PATH_KINDS.filter((k) => k.identity !== null);
  const shapes: { label: string; cookieLines: (mine: string[]) => string[]; expected: string | undefined }[] = [
    { label: 'one Cookie header', cookieLines: (mine) => [`Cookie: theme=dark; ${mine.join('; ')}; lang=en`], expected: 'theme=dark; lang=en' },
    { label: 'no spaces after the semicolons', cookieLines: (mine) => [`Cookie: ${mine.join(';')};theme=dark`], expected: 'theme=dark' },
    { label: 'two Cookie header lines', cookieLines: (mine) => [`Cookie: ${mine.slice(0, 6).join('; ')}; theme=dark`, `Cookie: ${mine.slice(6).join('; ')}`], expected: 'theme=dark' },
    { label: 'only Portcullis cookies (the Cookie header goes entirely)', cookieLines: (mine) => [`Cookie: ${mine.join('; ')}`], expected: undefined },
  ];
  for (const kind of kinds) {
    for (const shape of shapes) {
      test(`${kind.label}: ${shape.label}: session and provider cookies are removed, theme=dark passes`, async () => {
        const probe = nextProbe();
        const lines = [
          `GET ${kind.path} HTTP/1.1`,
          `Host: 127.0.0.1:${spoofPort}`,
          `X-Probe: ${probe}`,
          `Accept: ${kind.accept}`,
          // The signed-in kinds sign in with the session cookie among the ones removed.
          ...shape.cookieLines(kind.sso() === null ? own().slice(1).filter((c) => !c.startsWith('__Secure-portcullis.sso')) : own()),
          'Connection: close',
        ];
        const res = await raw(spoofPort, lines);
        const seen = seenFor(probe);
        assert.equal(seen.length, 1, `the upstream got the request (status ${res.status})`);
        const cookie = seen[0]!.headers.cookie;
        assert.equal(cookie, shape.expected, `cookies upstream: ${cookie}`);
        const userHeader = Object.keys(kind.identity ?? {})[0];
        if (userHeader !== undefined) assert.equal(seen[0]!.headers[userHeader], ALICE.username, 'still signed in');
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Table 2: policy bypass by path confusion
// ---------------------------------------------------------------------------------------------

/**
 * How upstreams commonly read a request path; the property defended is that if ANY of them
 * reads what the upstream received as `/admin` or below, the `admins` policy must have run.
 * Lower-cased because Portcullis's path matcher (like Caddy's) ignores case, so `/ADMIN` is
 * gated too and an upstream on a case-insensitive file system agrees.
 *
 * Not modelled: IIS/Windows file-system readings (trailing dots and spaces dropped from a
 * segment, `\` or `%5c` as a separator) and upstreams that percent-decode twice.
 */
const UPSTREAM_READINGS: Record<string, (raw: string) => string | null> = {
  // RFC 3986 §5.2.4 after one percent-decoding, slashes merged: nginx, Go, most routers.
  'RFC 3986': (raw) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return null;
    }
    return removeDotSegments(decoded);
  },
  // The WHATWG URL parser (Node's `new URL(req.url, base)`, Deno, Bun, fetch-style frameworks):
  // `\` is a `/` in special schemes and `%2e` is a dot; the result is then decoded once.
  WHATWG: (raw) => {
    try {
      const pathname = new URL(raw, 'http://upstream.invalid').pathname;
      return removeDotSegments(decodeURIComponent(pathname));
    } catch {
      return null;
    }
  },
  // Servlet containers (Tomcat, Jetty; Spring, Shiro on top): `;params` are removed from each
  // segment before dot segments are resolved, so `..;` is `..` and `admin;x=1` is `admin`.
  Servlet: (raw) => {
    const stripped = raw
      .split('/')
      .map((segment) => segment.split(';', 1)[0])
      .join('/');
    try {
      return removeDotSegments(decodeURIComponent(stripped));
    } catch {
      return null;
    }
  },
};

function removeDotSegments(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return ('/' + out.join('/')).toLowerCase();
}

function underAdmin(path: string | null): boolean {
  return path !== null && (path === '/admin' || path.startsWith('/admin/'));
}

/**
 * Which route the path must reach, from the normalisation rules (normalize-path.ts: decode
 * once, resolve dot segments, merge slashes; the path matcher ignores case):
 * - `admin`: it is /admin after normalisation, so the admins policy judges it (anonymous: 302
 *   to sign in, bob: 403); nothing reaches the upstream.
 * - `bad`: refused with 400 before any route (malformed target, NUL, bad UTF-8, whitespace).
 * - `public`: it is not /admin for Portcullis nor for any upstream reading; the open route
 *   forwards it, and the upstream receives exactly the bytes the client sent.
 * - `default`: likewise, through the default `authenticate` route (anonymous: 302; bob passes).
 * - `gated`: a shape that a common upstream reads as /admin (UPSTREAM_READINGS) while
 *   Portcullis does not: it must be judged as /admin or refused (either `admin` or `bad`).
 */
type Outcome = 'admin' | 'bad' | 'public' | 'default' | 'gated';

interface BypassCase {
  label: string;
  /** The request line; `PORT` is replaced with the site's port. */
  line: string;
  expect: Outcome;
  /** For `public` and `default`: what the upstream receives (origin form, as sent). */
  upstreamUrl?: string;
}

const target = (t: string, expect: Outcome): BypassCase => ({ label: t, line: `GET ${t} HTTP/1.1`, expect, upstreamUrl: t });
const line = (label: string, requestLine: string, expect: Outcome, upstreamUrl?: string): BypassCase => ({ label, line: requestLine, expect, ...(upstreamUrl ? { upstreamUrl } : {}) });

const BYPASS_CASES: BypassCase[] = [
  target('/admin/x', 'admin'),
  // Dot segments, plain and percent-encoded: decoded once, then resolved (RFC 3986 §5.2.4).
  target('/public/../admin/x', 'admin'),
  target('/public/%2e%2e/admin/x', 'admin'),
  target('/public/%2E%2E/admin/x', 'admin'),
  target('/public/.%2e/admin/x', 'admin'),
  target('/public/x/../../admin/x', 'admin'),
  // An encoded slash is decoded before dot segments are resolved (stricter than keeping it as
  // data): `/public/..%2fadmin/x` is judged as /admin/x, so nothing reaches the open route.
  target('/public/..%2fadmin/x', 'admin'),
  target('/public/%2e%2e%2fadmin/x', 'admin'),
  target('/public/x%2f..%2f..%2fadmin/x', 'admin'),
  target('/admin%2fx', 'admin'),
  target('/admin%2Fx', 'admin'),
  // The path matcher ignores case (as Caddy's does), so every spelling is gated.
  target('/ADMIN/x', 'admin'),
  target('/Admin/x', 'admin'),
  target('/%61dmin/x', 'admin'),
  // Runs of slashes are merged; `.` segments dropped.
  target('//admin/x', 'admin'),
  target('///admin/x', 'admin'),
  target('/./admin/x', 'admin'),
  target('/%20/../admin/x', 'admin'),
  // The query and a (never legitimately sent) fragment are not the path.
  target('/admin/x?public=1', 'admin'),
  line('/public/x?/../../admin/x', 'GET /public/x?/../../admin/x HTTP/1.1', 'public', '/public/x?/../../admin/x'),
  target('/admin/x#frag', 'admin'),
  // Node keeps `#...` in the target; Portcullis reads `x#` as a segment, so this is /admin/x
  // for it (gated), while a WHATWG upstream would read /public/x: safe either way.
  target('/public/x#/../../admin/x', 'admin'),
  // `;` path parameters: a prefix match on /admin/ covers `/admin/x;.css`. But servlet
  // containers drop `;params` per segment: `/admin;x=1/x` is their /admin/x, and `..;` is
  // their `..` (the nginx+Tomcat `..;/` bypass). Portcullis reads them as other paths.
  target('/admin/x;.css', 'admin'),
  target('/admin;x=1/x', 'gated'),
  target('/public/..;/admin/x', 'gated'),
  target('/public/..;x=1/admin/x', 'gated'),
  // A raw backslash is data for Portcullis but a `/` for the WHATWG URL parser, so a Node,
  // Deno or Bun upstream using `new URL(req.url, base)` reads `/public/..\admin/x` as /admin/x.
  target('/public/..\\admin/x', 'gated'),
  // Encoded backslash beside a dot segment: data after one decoding for the modelled readers,
  // but IIS-style upstreams read it as a separator, so it is refused (400).
  target('/public/..%5cadmin/x', 'bad'),
  // Decoded once only: `%2561` is `%61` for a single-decoding upstream too, not `a`.
  target('/%2561dmin/x', 'default'),
  // A space or tab at the end of a segment makes another name (IIS would trim it).
  target('/admin%20/x', 'default'),
  target('/admin%09/x', 'default'),
  // NUL bytes and malformed UTF-8 (the overlong `/` of old IIS) are refused outright.
  target('/admin/%00', 'bad'),
  target('/public/%00/../../admin/x', 'bad'),
  target('/public/..%c0%afadmin/x', 'bad'),
  // Whitespace in the request line (RFC 9112 §3: single SP separators, no whitespace in the target).
  line('tab inside the target', 'GET /admin\t/x HTTP/1.1', 'bad'),
  line('space inside the target', 'GET /public/x /../../admin/x HTTP/1.1', 'bad'),
  line('tab as the separator', 'GET\t/admin/x HTTP/1.1', 'bad'),
  // Node's parser tolerates a second space before the target; the target is then /admin/x.
  line('two spaces before the target', 'GET  /admin/x HTTP/1.1', 'admin'),
  line('tab before the version', 'GET /admin/x\tHTTP/1.1', 'bad'),
  // Absolute form (RFC 9112 §3.2.2): accepted for this host only, then judged by its path.
  line('absolute form to this host', 'GET http://127.0.0.1:PORT/admin/x HTTP/1.1', 'admin'),
  line('absolute form, upper-case scheme', 'GET HTTP://127.0.0.1:PORT/admin/x HTTP/1.1', 'admin'),
  line('absolute form with https scheme on the http listener', 'GET https://127.0.0.1:PORT/admin/x HTTP/1.1', 'admin'),
  line('absolute form with a traversal', 'GET http://127.0.0.1:PORT/public/../admin/x HTTP/1.1', 'admin'),
  line('absolute form with a double slash', 'GET http://127.0.0.1:PORT//admin/x HTTP/1.1', 'admin'),
  line('absolute form to another host', 'GET http://evil.example/admin/x HTTP/1.1', 'bad'),
  line('absolute form with userinfo', 'GET http://127.0.0.1:PORT@evil.example/admin/x HTTP/1.1', 'bad'),
  line('absolute form, query right after the authority', 'GET http://127.0.0.1:PORT?/../admin/x HTTP/1.1', 'default', '/?/../admin/x'),
];

async function attempt(c: BypassCase, sso: string | null): Promise<{ res: RawResponse; seen: Upstream['seen'] }> {
  const probe = nextProbe();
  const res = await raw(policyPort, [
    c.line.replaceAll('PORT', String(policyPort)),
    `Host: 127.0.0.1:${policyPort}`,
    `X-Probe: ${probe}`,
    'Accept: text/html',
    ...(sso !== null ? [`Cookie: portcullis.sso=${sso}`] : []),
    'Connection: close',
  ]);
  return { res, seen: seenFor(probe) };
}

describe('policy bypass: nothing under /admin reaches the upstream unless the admins policy ran', () => {
  const users: { label: string; name: string | undefined; sso: () => string | null }[] = [
    { label: 'anonymous', name: undefined, sso: () => null },
    { label: 'bob (not in admins)', name: BOB.username, sso: () => bobSso },
  ];
  for (const c of BYPASS_CASES) {
    for (const user of users) {
      const defended = c.expect === 'bad' ? 'refused with 400' : c.expect === 'public' || c.expect === 'default' ? 'never /admin upstream' : 'judged as /admin';
      test(`${user.label}: ${JSON.stringify(c.label)} is ${defended}`, async () => {
        const { res, seen } = await attempt(c, user.sso());
        const signedIn = user.name !== undefined;
        // The property that matters, first: whatever reached the upstream, no common reading
        // of its path is under /admin (the admins policy would have stopped this user).
        for (const request of seen) {
          const path = request.url.split('?', 1)[0]!;
          for (const [reader, read] of Object.entries(UPSTREAM_READINGS)) {
            assert.ok(
              !underAdmin(read(path)),
              `${user.label} reached the upstream with ${JSON.stringify(request.url)} (status ${res.status}), which a ${reader} upstream reads as ${read(path)}: the admins policy did not run`,
            );
          }
          // Whatever identity it carries is this user's own, never more.
          const remoteUser = request.headers['remote-user'];
          assert.ok(remoteUser === undefined || remoteUser === user.name, `Remote-User upstream: ${String(remoteUser)}`);
        }
        const detail = `status ${res.status}, upstream saw ${JSON.stringify(seen.map((s) => s.url))}\n${res.text.slice(0, 200)}`;
        const judgedAsAdmin = seen.length === 0 && res.status === (signedIn ? 403 : 302);
        const refused = seen.length === 0 && res.status === 400;
        switch (c.expect) {
          case 'admin':
            assert.ok(judgedAsAdmin, `judged by the admins policy: ${detail}`);
            break;
          case 'bad':
            assert.ok(refused, `refused with 400: ${detail}`);
            break;
          case 'gated':
            assert.ok(judgedAsAdmin || refused, `judged as /admin or refused: ${detail}`);
            break;
          case 'public':
            assert.equal(seen.length, 1, detail);
            assert.equal(seen[0]!.url, c.upstreamUrl, 'the upstream receives exactly what was sent');
            assert.equal(seen[0]!.headers['remote-user'], undefined, 'the open route, not a gated one');
            break;
          case 'default':
            if (!signedIn) {
              assert.ok(seen.length === 0 && res.status === 302, `anonymous is sent to sign in: ${detail}`);
              break;
            }
            assert.equal(seen.length, 1, detail);
            assert.equal(seen[0]!.url, c.upstreamUrl, 'the upstream receives exactly what was sent');
            assert.equal(seen[0]!.headers['remote-user'], user.name, 'through the default authenticate');
            break;
        }
      });
    }
  }

  // Controls: the cases that are /admin after normalisation do reach the upstream for alice,
  // with her identity: the gate judges them as /admin, it does not just refuse odd paths.
  const forAlice = ['/admin/x', '/public/../admin/x', '/public/%2e%2e/admin/x', '/public/..%2fadmin/x', '/ADMIN/x', '//admin/x', '/%61dmin/x', '/admin%2fx'];
  for (const t of forAlice) {
    test(`control: alice (admins) reaches the upstream with ${JSON.stringify(t)} and her identity`, async () => {
      const { res, seen } = await attempt(target(t, 'admin'), aliceSso);
      assert.equal(res.status, 200, res.text.slice(0, 300));
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers['remote-user'], ALICE.username);
      // As sent, unless it had dot segments: those go on resolved, as the gate judged them.
      const resolved = /(^|\/)(\.|%2e)(\.|%2e)(\/|%2f)/i.test(t) ? '/admin/x' : t;
      assert.equal(seen[0]!.url, resolved);
    });
  }
});

describe('a password change ends the sessions of gated sites', () => {
  test('security: a sign-in cookie from before the change no longer passes authenticate', async () => {
    const dave = { username: 'dave', password: 'dave-password-long-enough' };
    const first = await openIdentityAdmin({ configFile: main.configFile });
    try {
      await first.admin.addUser({ username: dave.username, email: 'dave@example.com', password: dave.password });
    } finally {
      await first.close();
    }
    const gated = (sso: string) => {
      const probe = nextProbe();
      return raw(policyPort, ['GET /home HTTP/1.1', `Host: 127.0.0.1:${policyPort}`, `X-Probe: ${probe}`, 'Accept: text/html', `Cookie: portcullis.sso=${sso}`, 'Connection: close']).then((res) => ({ res, seen: seenFor(probe) }));
    };
    const used = await signIn(new Browser(), `http://127.0.0.1:${policyPort}/home`, dave);
    // Not used before the change: nothing of it is cached (lookups are cached for 10 s).
    const stolen = await signIn(new Browser(), `http://127.0.0.1:${policyPort}/home`, dave);
    const control = await gated(used);
    assert.equal(control.res.status, 200, 'the premise: a session passes');
    assert.equal(control.seen[0]!.headers['remote-user'], 'dave');
    const second = await openIdentityAdmin({ configFile: main.configFile });
    try {
      await second.admin.setPassword('dave', 'dave-new-password-long-enough');
    } finally {
      await second.close();
    }
    const after = await gated(stolen);
    assert.equal(after.res.status, 302, after.res.text.slice(0, 200));
    assert.equal(after.seen.length, 0, 'nothing reached the upstream');
  });
});

describe('logout CSRF: another site cannot sign a browser out', () => {
  test('security: a POST to /logout without the session cookie (a cross-site form: SameSite=Lax sends none) clears no cookie, even with the anonymous token', async () => {
    const anonymous = new Browser();
    const form = await anonymous.get(`${issuerUrl}/logout`);
    const posted = await anonymous.post(`${issuerUrl}/logout`, { xsrf: hiddenInput(form.body, 'xsrf') });
    assert.equal(posted.status, 200);
    assert.equal(posted.headers['set-cookie'], undefined, 'no Set-Cookie for a browser to apply to its real session');
  });

  test('security: /session/end/confirm without the provider\'s xsrf token leaves the gated sites\' session alone', async () => {
    const frank = { username: 'frank', password: 'frank-password-long-enough' };
    const { admin, close } = await openIdentityAdmin({ configFile: main.configFile });
    try {
      await admin.addUser({ username: frank.username, email: 'frank@example.com', password: frank.password });
    } finally {
      await close();
    }
    const browser = new Browser();
    const sso = await signIn(browser, `http://127.0.0.1:${policyPort}/home`, frank);
    const forged = await browser.post(`${issuerUrl}/session/end/confirm`, { logout: 'yes' });
    assert.ok(forged.status >= 400, `refused: ${forged.status}`);
    assert.doesNotMatch(String(forged.headers['set-cookie'] ?? ''), /portcullis\.sso=;/, 'the sign-in cookie is not cleared');
    const probe = nextProbe();
    const res = await raw(policyPort, ['GET /home HTTP/1.1', `Host: 127.0.0.1:${policyPort}`, `X-Probe: ${probe}`, 'Accept: text/html', `Cookie: portcullis.sso=${sso}`, 'Connection: close']);
    assert.equal(res.status, 200, 'the session still passes authenticate');
    assert.equal(seenFor(probe)[0]!.headers['remote-user'], 'frank');
    // The real sign-out, through the provider's own confirmation form, ends it.
    const confirm = await browser.get(`${issuerUrl}/session/end`);
    const out = await browser.post(new URL(formAction(confirm.body), confirm.url).href, { xsrf: hiddenInput(confirm.body, 'xsrf'), logout: 'yes' });
    assert.ok(out.status < 400, `signed out: ${out.status}`);
    assert.match(String(out.headers['set-cookie'] ?? ''), /portcullis\.sso=;/, 'the sign-in cookie is cleared');
    const ended = await raw(policyPort, ['GET /home HTTP/1.1', `Host: 127.0.0.1:${policyPort}`, 'Accept: text/html', `Cookie: portcullis.sso=${sso}`, 'Connection: close']);
    assert.equal(ended.status, 302, 'the old cookie no longer signs anyone in');
  });
});

describe('hop-by-hop abuse: a client cannot make the proxy drop the identity authenticate set', () => {
  test('security: Connection naming Remote-User, Remote-Groups and the assertion leaves them all on the signed-in request', async () => {
    const probe = nextProbe();
    const res = await raw(spoofPort, [
      'GET /x HTTP/1.1',
      `Host: 127.0.0.1:${spoofPort}`,
      `X-Probe: ${probe}`,
      `Cookie: portcullis.sso=${aliceSso}`,
      // Folded spellings too: the proxy compares Connection's tokens case-insensitively.
      'Connection: close, Remote-User, remote-groups, X-PORTCULLIS-ASSERTION, X_Authentik_Username, X-Probe',
    ]);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const seen = seenFor(probe);
    // X-Probe itself was named too: the client may drop its own fields, so the lookup by probe
    // finds nothing; find the request by its identity instead.
    assert.equal(seen.length, 0, 'a field the client named in Connection, and sent itself, is still hop-by-hop');
    const last = upstream.seen.at(-1)!;
    assert.equal(last.headers['remote-user'], ALICE.username);
    assert.equal(last.headers['remote-groups'], 'admins,staff');
    assert.equal(last.headers['x-authentik-username'], ALICE.username);
    assert.match(String(last.headers['x-portcullis-assertion']), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Table 3: return addresses (open redirects) on /login and /logout
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A cookie jar for one host family; Set-Cookie lines are applied in order, as browsers do. */
class Jar {
  readonly values = new Map<string, string>();
  header(): string | undefined {
    return this.values.size === 0 ? undefined : [...this.values].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  apply(reply: Reply): void {
    for (const line of setCookies(reply)) {
      const pair = line.split(';', 1)[0]!;
      const name = pair.slice(0, pair.indexOf('=')).trim();
      if (/;\s*max-age=0(;|$)/i.test(line)) this.values.delete(name);
      else this.values.set(name, pair.slice(pair.indexOf('=') + 1).trim());
    }
  }
}

function setCookies(reply: Reply): string[] {
  const lines = reply.headers['set-cookie'];
  return Array.isArray(lines) ? lines : lines ? [lines] : [];
}

/** A name-based HTTPS site reached on 127.0.0.1: SNI and Host carry the name, the internal CA is trusted. */
interface Site {
  port: number;
  host: string;
  ca: string;
}

function siteRequest(site: Site, method: string, path: string, jar: Jar | null, form?: Record<string, string>, extra: Record<string, string> = {}): Promise<Reply> {
  const body = form === undefined ? null : new URLSearchParams(form).toString();
  const cookie = jar?.header();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: site.port,
        servername: site.host,
        ca: site.ca,
        method,
        path,
        agent: false,
        timeout: 10_000,
        headers: {
          host: `${site.host}:${site.port}`,
          accept: 'text/html',
          ...(cookie ? { cookie } : {}),
          ...(body !== null ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}),
          ...extra,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const reply = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
          jar?.apply(reply);
          resolve(reply);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

interface ExampleCom {
  running: Running;
  auth: Site;
  app: Site;
  /** A site without authenticate that the browser sends the session cookie to. */
  plain: Site;
  /** `https://auth.example.com:PORT` */
  issuer: string;
  /** `https://app.example.com:PORT` */
  appOrigin: string;
}

/**
 * The provider on auth.example.com and a gated app.example.com, both HTTPS from the internal
 * CA on one port; `cookie { domain example.com }` when `domain` is true. The gated site
 * (and a site without authenticate the cookie also reaches) proxy to the file's recording
 * upstream.
 */
async function startExampleCom(domain: boolean): Promise<ExampleCom> {
  const [httpPort, port, otherPort, plainPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const issuer = `https://auth.example.com:${port}`;
  // Without a cookie domain a gated site must be on the issuer's own host: another port.
  const app: Omit<Site, 'ca'> = domain ? { port, host: 'app.example.com' } : { port: otherPort, host: 'auth.example.com' };
  const appOrigin = `https://${app.host}:${app.port}`;
  // A site the session cookie reaches (under the cookie domain, or on the issuer's host) that
  // does not use authenticate.
  const plain: Omit<Site, 'ca'> = domain ? { port, host: 'plain.example.com' } : { port: plainPort, host: 'auth.example.com' };
  const running = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${port}
	database sqlite $DIR/identity.db
	identity {
		issuer ${issuer}
		${domain ? 'cookie {\n\t\t\tdomain example.com\n\t\t}' : ''}
	}
}
${issuer} {
	tls internal
	identity_provider
}
${appOrigin} {
	tls internal
	authenticate
	reverse_proxy 127.0.0.1:${upstream.port}
}
https://${plain.host}:${plain.port} {
	tls internal
	reverse_proxy 127.0.0.1:${upstream.port}
}
`);
  await addUsers(running);
  const ca = readFileSync((await running.instance.certificateAuthority())!, 'utf8');
  return { running, auth: { port, host: 'auth.example.com', ca }, app: { ...app, ca }, plain: { ...plain, ca }, issuer, appOrigin };
}

interface ReturnCase {
  label: string;
  /** The query text after `rd=`, as sent. */
  query: string;
  /** null: refused, the safe default. Else the exact Location expected. */
  expect: string | null;
}

describe('return addresses: rd on /login and /logout never leads off the cookie domain', () => {
  let ex: ExampleCom;
  let port: number;
  let auth: string;
  let app: string;

  before(async () => {
    ex = await startExampleCom(true);
    port = ex.auth.port;
    auth = ex.issuer;
    app = ex.appOrigin;
  });
  after(() => ex?.running.stop());

  const enc = encodeURIComponent;
  const refused = (label: string, rd: string): ReturnCase => ({ label, query: enc(rd), expect: null });
  const refusedRaw = (label: string, query: string): ReturnCase => ({ label, query, expect: null });
  const cases = (): ReturnCase[] => [
    refused('protocol-relative //evil', '//evil.example/'),
    refused('/\\evil (a browser reads //evil)', '/\\evil.example/'),
    refused('\\\\evil', '\\\\evil.example'),
    refusedRaw('raw query /%09/evil (a tab, which browsers drop)', '/%09/evil.example/'),
    refusedRaw('raw query /%0a/evil (a newline)', '/%0a/evil.example/'),
    refusedRaw('raw query %09//evil (leading tab)', '%09//evil.example'),
    refused('https:evil (no slashes)', 'https:evil.example'),
    refused('https:/evil (one slash)', 'https:/evil.example'),
    refused('https:///evil (three slashes)', 'https:///evil.example'),
    refused('http:\\\\evil', 'http:\\\\evil.example'),
    refused('javascript:', 'javascript:alert(1)'),
    refused('JaVaScRiPt:', 'JaVaScRiPt:alert(1)'),
    refused('javascript: dressed as a served host', 'javascript://app.example.com/%0aalert(1)'),
    refused('data:', 'data:text/html,<script>alert(1)</script>'),
    refused('userinfo http://127.0.0.1:1@evil', 'http://127.0.0.1:1@evil.example/'),
    refused('userinfo naming a served host', 'http://app.example.com@evil.example/'),
    refused('userinfo with a port-like password', `http://app.example.com:${port}@evil.example/`),
    refused('userinfo before a served host (still refused)', 'http://evil.example@app.example.com/'),
    refused('backslash before @', 'https://app.example.com\\@evil.example/'),
    refused('leading space', ' https://evil.example/'),
    refusedRaw('raw query %20//evil (leading encoded space)', '%20//evil.example'),
    refusedRaw('raw query /%20/evil (encoded space)', '/%20/evil.example'),
    refusedRaw('raw query with %0d%0a and a Location header', '/%0d%0aLocation:%20https://evil.example/'),
    refusedRaw('a served host with %0d%0a and a Set-Cookie header', `${enc(app)}/%0d%0aSet-Cookie:%20x=1`),
    refused('suffix look-alike evilexample.com', 'https://evilexample.com/'),
    refused('suffix look-alike notexample.com', 'http://notexample.com/'),
    refused('example.com.evil.net', 'https://example.com.evil.net/'),
    refused('app.example.com.evil.net', 'https://app.example.com.evil.net/'),
    refused('trailing-dot host', 'https://app.example.com./'),
    refused('the cookie domain after a path', 'https://evil.example/.example.com'),
    refused('the cookie domain after ?', 'https://evil.example?.example.com'),
    refused('the cookie domain after #', 'https://evil.example#.example.com'),
    refused('the cookie domain after an encoded slash', 'https://evil.example%2f.example.com/'),
    refused('IDN look-alike (Cyrillic a in example)', 'https://ex\u0430mple.com/'),
    refused('IDN look-alike under a served name', 'https://app.ex\u0430mple.com/'),
    refused('punycode look-alike', 'https://xn--exmple-4nf.com/'),
    refused('ideographic full stop joining an evil suffix', 'https://app.example.com\u3002evil.net/'),
    refused('IPv4 as an integer (127.0.0.1 is not served here)', 'http://2130706433/'),
    refused('IPv6 loopback', 'http://[::1]:1/'),
    refusedRaw('rd twice, the evil one first', `${enc('https://evil.example/')}&rd=${enc(`${app}/`)}`),
    refusedRaw('a 5000-character relative path', enc('/' + 'a'.repeat(4999))),
    refusedRaw('a 5000-character address on a served host', enc(`${app}/${'a'.repeat(5000)}`)),
  ];
  const controls = (): ReturnCase[] => [
    { label: 'control: a served host', query: enc(`${app}/after?x=1`), expect: `${app}/after?x=1` },
    { label: 'control: a relative path resolves against the issuer', query: enc('/after'), expect: `${auth}/after` },
    { label: 'control: a host under the cookie domain', query: enc('https://sub.example.com/x'), expect: 'https://sub.example.com/x' },
    // Fullwidth letters and dots are mapped by IDNA to the served name: the check and the
    // Location both use the normalised form, so the browser goes where the check looked.
    { label: 'control: fullwidth spelling of a served host is normalised before the check', query: enc(`https://\uff41\uff50\uff50\uff0eexample\uff0ecom:${port}/x`), expect: `${app}/x` },
  ];

  /** A Location must be absolute, already normalised (browsers read it as checked) and under example.com. */
  function assertRedirect(reply: Reply, c: ReturnCase, step: string): void {
    const location = reply.headers.location;
    if (c.expect === null) {
      assert.equal(location, undefined, `${step}: rd=${c.label} must not redirect, got ${String(location)}`);
      assert.equal(reply.status, 200, `${step}: the safe default page`);
      return;
    }
    assert.equal(reply.status, 303, `${step}: ${c.label} redirects`);
    assert.equal(typeof location, 'string');
    const url = new URL(location as string);
    assert.equal(url.href, location, 'the Location is in normalised form');
    assert.ok(url.hostname === 'example.com' || url.hostname.endsWith('.example.com'), `${step}: Location ${String(location)}`);
    assert.equal(url.username + url.password, '');
    assert.equal(location, c.expect, step);
  }

  /** The rd a form carries on to its POST must be the validated one (or none). */
  function assertFormRd(html: string, c: ReturnCase, step: string): void {
    const action = new URL(formAction(html), auth);
    const carried = action.searchParams.get('rd');
    assert.equal(carried, c.expect, `${step}: form action ${action.pathname}${action.search}`);
  }

  const run = async (c: ReturnCase) => {
    const jar = new Jar();
    const form = await siteRequest(ex.auth, 'GET', `/login?rd=${c.query}`, jar);
    assert.equal(form.status, 200, `GET /login?rd=${c.label}`);
    assertFormRd(form.body, c, 'login form');
    // The attacker controls the URL the form is posted to, not only the link: post to the raw rd.
    const posted = await siteRequest(ex.auth, 'POST', `/login?rd=${c.query}`, jar, {
      csrf: hiddenInput(form.body, 'csrf'),
      login: ALICE.username,
      password: ALICE.password,
    });
    assertRedirect(posted, c, 'POST /login (after sign-in)');
    assert.ok(jar.values.has('__Secure-portcullis.sso'), 'signed in');
    const again = await siteRequest(ex.auth, 'GET', `/login?rd=${c.query}`, jar);
    assertRedirect(again, c, 'GET /login (already signed in)');
    const confirm = await siteRequest(ex.auth, 'GET', `/logout?rd=${c.query}`, jar);
    assert.equal(confirm.status, 200, 'the sign-out confirmation');
    assert.equal(confirm.headers.location, undefined);
    assertFormRd(confirm.body, c, 'logout form');
    const out = await siteRequest(ex.auth, 'POST', `/logout?rd=${c.query}`, jar, { xsrf: hiddenInput(confirm.body, 'xsrf'), logout: 'yes' });
    assertRedirect(out, c, 'POST /logout (after sign-out)');
    assert.ok(!jar.values.has('__Secure-portcullis.sso'), 'signed out');
  };

  // The cases name the port, known only once before() ran: tests are registered from the
  // labels and build their case when they run.
  for (const [i, c] of cases().entries()) test(`open redirect refused: ${c.label}`, () => run(cases()[i]!));
  for (const [i, c] of controls().entries()) test(c.label, () => run(controls()[i]!));
});

// ---------------------------------------------------------------------------------------------
// Table 4: the sign-in cookie over HTTPS
// ---------------------------------------------------------------------------------------------

const SSO = '__Secure-portcullis.sso';

/** A Set-Cookie line split into its name, value and attributes (keys lower-cased). */
function parseSetCookie(line: string): { name: string; value: string; attributes: Map<string, string> } {
  const [pair, ...rest] = line.split(';');
  const eq = pair!.indexOf('=');
  const attributes = new Map<string, string>();
  for (const attribute of rest) {
    const [key, value = ''] = attribute.trim().split('=');
    attributes.set(key!.toLowerCase(), value);
  }
  return { name: pair!.slice(0, eq).trim(), value: pair!.slice(eq + 1).trim(), attributes };
}

/** Opens the login form and posts alice's (or `user`'s) credentials; returns both replies. */
async function signInOver(ex: ExampleCom, jar: Jar, user: { username: string; password: string } = ALICE, beforePost?: () => void) {
  const form = await siteRequest(ex.auth, 'GET', '/login', jar);
  assert.equal(form.status, 200);
  beforePost?.();
  const posted = await siteRequest(ex.auth, 'POST', '/login', jar, { csrf: hiddenInput(form.body, 'csrf'), login: user.username, password: user.password });
  assert.equal(posted.status, 200, `${user.username} signed in (the signed-in page)`);
  return { form, posted };
}

/** Who the gated site's upstream is told the holder of session `id` is (null: refused with 401). */
async function whoIs(ex: ExampleCom, id: string): Promise<string | null> {
  const probe = nextProbe();
  const reply = await siteRequest(ex.app, 'GET', '/whoami', null, undefined, { cookie: `${SSO}=${id}`, accept: 'application/json', 'x-probe': probe });
  const seen = seenFor(probe);
  if (reply.status === 401) {
    assert.equal(seen.length, 0);
    return null;
  }
  assert.equal(reply.status, 200, reply.body.slice(0, 300));
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.headers.cookie, undefined, 'the session cookie never reaches the upstream');
  return String(seen[0]!.headers['remote-user']);
}

for (const domain of [false, true]) {
  describe(`sign-in cookie over https ${domain ? 'with cookie { domain example.com }' : 'without a cookie domain'}`, () => {
    let ex: ExampleCom;
    before(async () => {
      ex = await startExampleCom(domain);
    });
    after(() => ex?.running.stop());

    test(`the session cookie is ${SSO}; Secure; HttpOnly; SameSite=Lax; Path=/; ${domain ? 'Domain=example.com' : 'no Domain (host-only)'}`, async () => {
      const jar = new Jar();
      const { form, posted } = await signInOver(ex, jar);
      const all = [...setCookies(form), ...setCookies(posted)].map(parseSetCookie);
      for (const cookie of all) assert.ok(cookie.attributes.has('secure'), `every cookie set over https is Secure: ${cookie.name}`);
      assert.ok(!all.some((c) => c.name === 'portcullis.sso'), 'no unprefixed session cookie over https');
      const sessions = all.filter((c) => c.name === SSO);
      assert.ok(sessions.length >= 1, `Set-Cookie: ${JSON.stringify(setCookies(posted))}`);
      const issued = sessions.at(-1)!;
      assert.match(issued.value, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit random id, the last Set-Cookie for the name wins');
      for (const cookie of sessions) {
        // The clearing line (if any) must name exactly the same cookie (Domain, Path) or it
        // would leave an older one behind.
        assert.equal(cookie.attributes.get('path'), '/');
        assert.equal(cookie.attributes.get('domain'), domain ? 'example.com' : undefined);
        assert.ok(cookie.attributes.has('httponly'), 'HttpOnly');
        assert.equal(cookie.attributes.get('samesite')?.toLowerCase(), 'lax');
        assert.ok(cookie.attributes.has('secure'), 'Secure');
      }
      assert.ok(Number(issued.attributes.get('max-age')) > 0);
      // The login form's nonce: __Host- means Secure, Path=/ and no Domain, so no sibling
      // subdomain can plant one (login CSRF).
      const nonce = all.find((c) => c.name === '__Host-portcullis.login' && c.value !== '');
      assert.ok(nonce, `the login nonce cookie: ${JSON.stringify(setCookies(form))}`);
      assert.equal(nonce.attributes.get('path'), '/');
      assert.equal(nonce.attributes.get('domain'), undefined);
      assert.equal(await whoIs(ex, jar.values.get(SSO)!), ALICE.username, 'the cookie signs alice in at the gated site');
    });

    test('sign-out clears the same cookie (same name, Domain and Path) and ends the session', async () => {
      const jar = new Jar();
      await signInOver(ex, jar);
      const id = jar.values.get(SSO)!;
      const confirm = await siteRequest(ex.auth, 'GET', '/logout', jar);
      const out = await siteRequest(ex.auth, 'POST', '/logout', jar, { xsrf: hiddenInput(confirm.body, 'xsrf'), logout: 'yes' });
      assert.equal(out.status, 200);
      const cleared = setCookies(out).map(parseSetCookie).find((c) => c.name === SSO);
      assert.ok(cleared, 'a clearing Set-Cookie');
      assert.equal(cleared.value, '');
      assert.equal(cleared.attributes.get('max-age'), '0');
      assert.equal(cleared.attributes.get('path'), '/');
      assert.equal(cleared.attributes.get('domain'), domain ? 'example.com' : undefined);
      assert.ok(cleared.attributes.has('secure'));
      assert.equal(await whoIs(ex, id), null, 'the old id no longer signs anyone in');
    });

    test('session fixation: a random session id planted before sign-in is replaced, and stays worthless', async () => {
      const planted = 'A'.repeat(43);
      const jar = new Jar();
      await signInOver(ex, jar, ALICE, () => jar.values.set(SSO, planted));
      const issued = jar.values.get(SSO);
      assert.ok(issued !== undefined && issued !== planted, `replaced: ${issued}`);
      assert.equal(await whoIs(ex, planted), null);
      assert.equal(await whoIs(ex, issued), ALICE.username);
    });

    test('a site without authenticate that the browser sends the session cookie to never forwards it upstream', async () => {
      const jar = new Jar();
      await signInOver(ex, jar);
      const id = jar.values.get(SSO)!;
      const probe = nextProbe();
      const reply = await siteRequest(ex.plain, 'GET', '/page', null, undefined, { cookie: `theme=dark; ${SSO}=${id}`, 'x-probe': probe });
      assert.equal(reply.status, 200);
      const seen = seenFor(probe);
      assert.equal(seen.length, 1);
      // The upstream of any site the cookie reaches could replay it against every gated site
      // and first-party OpenID app (one sign-in covers them all).
      assert.equal(seen[0]!.headers.cookie, 'theme=dark', `cookies upstream of ${ex.plain.host}:${ex.plain.port}: ${seen[0]!.headers.cookie}`);
    });

    test("session fixation: bob's real session planted in alice's browser is ended at her sign-in, never upgraded to alice", async () => {
      const bobJar = new Jar();
      await signInOver(ex, bobJar, BOB);
      const bobId = bobJar.values.get(SSO)!;
      assert.equal(await whoIs(ex, bobId), BOB.username);
      const jar = new Jar();
      await signInOver(ex, jar, ALICE, () => jar.values.set(SSO, bobId));
      const issued = jar.values.get(SSO)!;
      assert.notEqual(issued, bobId);
      assert.equal(await whoIs(ex, bobId), null, "the planted id is destroyed: whoever planted it holds nothing");
      assert.equal(await whoIs(ex, issued), ALICE.username);
    });
  });
}
