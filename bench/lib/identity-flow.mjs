// What a relying party and a browser do against the provider, written against undici's Pool so
// that the load generator spends as little CPU per request as possible: the complete password
// login through the authorization code flow, a refresh grant, a client_credentials grant.
// Every step checks what it got; anything unexpected throws a flowError naming the step.
import { createHash, randomBytes } from 'node:crypto';

/**
 * An error naming the step of the flow that went wrong; the load generator counts failures by it.
 * @param {string} step @param {string} message
 * @returns {Error & { step: string }}
 */
export function flowError(step, message) {
  return Object.assign(new Error(`${step}: ${message}`), { step });
}

const FORM = 'application/x-www-form-urlencoded';

/**
 * @typedef {import('undici').Pool} Pool
 * @typedef {{ status: number, location: string | null, setCookie: string[], body: string }} Reply
 * @typedef {{ origin: string, client: { id: string, secret: string, redirectUri: string }, scope: string }} LoginTarget
 * @typedef {{ idToken: string, accessToken: string, refreshToken: string | null }} Tokens
 */

/**
 * One request on the pool; the body is always read to the end so the connection is reused.
 * @param {Pool} pool @param {string} method @param {string} path
 * @param {Record<string, string>} headers @param {string | undefined} [body]
 * @returns {Promise<Reply>}
 */
async function send(pool, method, path, headers, body) {
  const res = await pool.request({ method, path, headers, body, headersTimeout: 15_000, bodyTimeout: 15_000 });
  const text = await res.body.text();
  const location = res.headers.location;
  const cookies = res.headers['set-cookie'];
  return {
    status: res.statusCode,
    location: typeof location === 'string' ? location : null,
    setCookie: cookies === undefined ? [] : Array.isArray(cookies) ? cookies : [cookies],
    body: text,
  };
}

/**
 * A browser's cookies for the one origin the bench talks to: name, value and Path, expired
 * ones dropped, as oidc-provider relies on (its interaction and resume cookies are scoped to
 * /interaction/<uid> and /auth/<uid>).
 */
function createJar() {
  /** @type {{ name: string, value: string, path: string }[]} */
  const cookies = [];
  return {
    /** @param {string} path */
    header(path) {
      return cookies.filter((c) => path.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
    },
    /** @param {string[]} lines */
    store(lines) {
      for (const line of lines) {
        const [pair = '', ...attributes] = line.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        let path = '/';
        let expired = false;
        for (const attribute of attributes) {
          const [key = '', val = ''] = attribute.trim().split('=');
          const k = key.toLowerCase();
          if (k === 'path') path = val;
          else if (k === 'expires' && Date.parse(val) < Date.now()) expired = true;
          else if (k === 'max-age' && Number(val) <= 0) expired = true;
        }
        const index = cookies.findIndex((c) => c.name === name && c.path === path);
        if (index !== -1) cookies.splice(index, 1);
        if (!expired) cookies.push({ name, value, path });
      }
    },
  };
}

/** @param {string} id @param {string} secret RFC 6749 section 2.3.1: form-encode, then Basic. */
export function basicAuth(id, secret) {
  const enc = (/** @type {string} */ s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** @param {string} html @param {RegExp} re */
function attribute(html, re) {
  const match = re.exec(html);
  return match ? match[1].replaceAll('&amp;', '&').replaceAll('&#x3D;', '=').replaceAll('&#x2F;', '/').replaceAll('&#x27;', "'") : null;
}

/**
 * One complete password sign-in, as a new browser and the app behind it would do it: GET
 * /auth (PKCE S256, state, nonce) -> the login page (cookies, csrf) -> POST the form -> follow
 * the provider's redirects (resume, the first-party consent it grants itself, resume) -> the
 * redirect_uri with code, state and iss (RFC 9207) -> POST /token with client_secret_basic and
 * the code_verifier -> 200 with an ID token.
 * @param {Pool} pool @param {LoginTarget} target @param {{ login: string, password: string }} user
 * @returns {Promise<Tokens>}
 */
export async function passwordLogin(pool, target, user) {
  const { origin, client, scope } = target;
  const jar = createJar();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const query = new URLSearchParams({
    client_id: client.id,
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope,
    state,
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  /** @param {string} method @param {string} path @param {string} [body] */
  const browse = async (method, path, body) => {
    const cookie = jar.header(path);
    /** @type {Record<string, string>} */
    const headers = {};
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = FORM;
    const reply = await send(pool, method, path, headers, body);
    jar.store(reply.setCookie);
    return reply;
  };

  let path = `/auth?${query}`;
  let reply = await browse('GET', path);
  let posted = false;
  /** @type {URL | null} */
  let callback = null;
  for (let hops = 0; hops < 12 && callback === null; hops++) {
    if (reply.status >= 300 && reply.status < 400 && reply.location !== null) {
      const next = new URL(reply.location, origin + path);
      if (next.href.startsWith(`${client.redirectUri}?`)) {
        callback = next;
        break;
      }
      if (next.origin !== origin) throw flowError('redirect', `left the provider for ${next.origin}`);
      path = next.pathname + next.search;
      reply = await browse('GET', path);
    } else if (reply.status === 200 && !posted && reply.body.includes('name="password"')) {
      const action = attribute(reply.body, /<form[^>]*action="([^"]*)"/);
      const csrf = attribute(reply.body, /<input[^>]*name="csrf"[^>]*value="([^"]*)"/) ?? attribute(reply.body, /<input[^>]*value="([^"]*)"[^>]*name="csrf"/);
      if (action === null || csrf === null) throw flowError('login page', 'no form action or csrf input');
      path = new URL(action, origin + path).pathname;
      reply = await browse('POST', path, new URLSearchParams({ csrf, login: user.login, password: user.password }).toString());
      posted = true;
    } else {
      throw flowError(posted ? 'after login' : 'before login', `${reply.status} at ${path.split('?')[0]}`);
    }
  }
  if (callback === null) throw flowError('redirect', 'too many hops');
  if (callback.searchParams.get('state') !== state) throw flowError('callback', 'state mismatch');
  if (callback.searchParams.get('iss') !== origin) throw flowError('callback', 'iss missing or wrong');
  const code = callback.searchParams.get('code');
  if (!code) throw flowError('callback', `no code (${callback.searchParams.get('error') ?? 'no error'})`);

  const tokens = await tokenRequest(pool, 'code grant', client, new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier,
  }));
  if (typeof tokens.id_token !== 'string') throw flowError('code grant', 'no id_token');
  return toTokens(tokens);
}

/**
 * A refresh grant; with rotation, the returned refresh token replaces the one sent.
 * @param {Pool} pool @param {{ id: string, secret: string }} client @param {string} refreshToken
 * @returns {Promise<Tokens>}
 */
export async function refreshGrant(pool, client, refreshToken) {
  const tokens = await tokenRequest(pool, 'refresh grant', client, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }));
  if (typeof tokens.refresh_token !== 'string') throw flowError('refresh grant', 'no rotated refresh_token');
  return toTokens(tokens);
}

/**
 * A client_credentials grant.
 * @param {Pool} pool @param {{ id: string, secret: string }} client @param {string} scope
 * @returns {Promise<string>} the access token
 */
export async function clientCredentialsGrant(pool, client, scope) {
  const tokens = await tokenRequest(pool, 'client_credentials grant', client, new URLSearchParams({ grant_type: 'client_credentials', scope }));
  return String(tokens.access_token);
}

/**
 * @param {Pool} pool @param {string} step @param {{ id: string, secret: string }} client
 * @param {URLSearchParams} form @returns {Promise<Record<string, unknown>>}
 */
async function tokenRequest(pool, step, client, form) {
  const reply = await send(pool, 'POST', '/token', { 'content-type': FORM, authorization: basicAuth(client.id, client.secret) }, form.toString());
  if (reply.status !== 200) throw flowError(step, `${reply.status} ${reply.body.slice(0, 200)}`);
  /** @type {Record<string, unknown>} */
  const tokens = JSON.parse(reply.body);
  if (typeof tokens.access_token !== 'string') throw flowError(step, 'no access_token');
  return tokens;
}

/** @param {Record<string, unknown>} t @returns {Tokens} */
function toTokens(t) {
  return {
    idToken: String(t.id_token ?? ''),
    accessToken: String(t.access_token),
    refreshToken: typeof t.refresh_token === 'string' ? t.refresh_token : null,
  };
}
