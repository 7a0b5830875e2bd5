// What the gate bench needs before it measures: a browser's sign-in session (the SSO cookie,
// through the real login page: GET the form, keep the nonce cookie, POST the form with its
// csrf token) and a service's access token (client_credentials at the token endpoint). Also
// the probes that prove each route answers what it should, with and without its credential.
import { request } from 'node:http';
import { basicAuth } from './identity-flow.mjs';

const TIMEOUT_MS = 10_000;

/**
 * @typedef {{ status: number, location: string | null, setCookie: string[], body: Buffer }} Reply
 */

/**
 * One HTTP/1.1 request on a new connection, body read to the end; never follows redirects.
 * @param {string} url @param {{ method?: string, headers?: Record<string, string>, body?: string }} [opts]
 * @returns {Promise<Reply>}
 */
export function send(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, timeout: TIMEOUT_MS }, (res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const cookies = res.headers['set-cookie'] ?? [];
        resolve({
          status: res.statusCode ?? 0,
          location: typeof res.headers.location === 'string' ? res.headers.location : null,
          setCookie: cookies,
          body: Buffer.concat(chunks),
        });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The name=value pairs a list of Set-Cookie lines sets (a Max-Age=0 line removes its cookie).
 * One origin's cookies, Path=/ for all of Portcullis's: no path scoping needed here.
 * @param {Map<string, string>} jar @param {string[]} lines
 */
function store(jar, lines) {
  for (const line of lines) {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
    if (expired) jar.delete(name);
    else jar.set(name, pair.slice(eq + 1).trim());
  }
}

/** @param {Map<string, string>} jar */
function cookieHeader(jar) {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** @param {string} html @param {string} name */
function hiddenInput(html, name) {
  const tag = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(html)?.[0];
  const value = tag ? /value="([^"]*)"/.exec(tag)?.[1] : undefined;
  return value === undefined ? null : decodeEntities(value);
}

/** @param {string} s */
function decodeEntities(s) {
  return s.replaceAll('&#x3D;', '=').replaceAll('&#x2F;', '/').replaceAll('&#x27;', "'").replaceAll('&quot;', '"').replaceAll('&amp;', '&');
}

/**
 * Signs in at `<issuer>/login?rd=<returnTo>` as a browser would and returns the session
 * cookie (`name=value`), after checking that the provider sends the browser back to `returnTo`
 * and that `returnTo` then answers 200 with the cookie.
 * @param {{ issuer: string, returnTo: string, login: string, password: string }} opts
 * @returns {Promise<{ cookie: string, name: string }>}
 */
export async function signIn({ issuer, returnTo, login, password }) {
  const jar = new Map();
  const loginUrl = `${issuer}/login?rd=${encodeURIComponent(returnTo)}`;
  const form = await send(loginUrl, { headers: { accept: 'text/html' } });
  if (form.status !== 200) throw new Error(`sign-in: GET /login answered ${form.status}`);
  store(jar, form.setCookie);
  const html = form.body.toString('utf8');
  const csrf = hiddenInput(html, 'csrf');
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
  if (csrf === null || action === undefined) throw new Error('sign-in: no csrf input or form action on the login page');
  const nonceName = [...jar.keys()].find((k) => k.endsWith('.login'));
  if (nonceName === undefined) throw new Error('sign-in: the login page set no nonce cookie');

  const posted = await send(new URL(decodeEntities(action), loginUrl).href, {
    method: 'POST',
    headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(jar) },
    body: new URLSearchParams({ csrf, login, password }).toString(),
  });
  store(jar, posted.setCookie);
  if (posted.status !== 303) throw new Error(`sign-in: POST /login answered ${posted.status}, not 303 (wrong password, or throttled?)`);
  if (posted.location !== returnTo) throw new Error(`sign-in: sent back to ${posted.location}, not ${returnTo}`);
  const name = [...jar.keys()].find((k) => k.endsWith('.sso'));
  if (name === undefined) throw new Error('sign-in: no session cookie after a successful POST');
  const cookie = `${name}=${jar.get(name)}`;
  const back = await send(returnTo, { headers: { cookie } });
  if (back.status !== 200) throw new Error(`sign-in: ${returnTo} answered ${back.status} with the session cookie`);
  return { cookie, name };
}

/**
 * A client_credentials access token from `<issuer>/token` (client_secret_basic).
 * @param {{ issuer: string, client: { id: string, secret: string }, scope: string }} opts
 * @returns {Promise<string>}
 */
export async function clientCredentialsToken({ issuer, client, scope }) {
  const reply = await send(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.id, client.secret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  if (reply.status !== 200) throw new Error(`token endpoint answered ${reply.status}: ${reply.body.toString('utf8').slice(0, 200)}`);
  const token = JSON.parse(reply.body.toString('utf8')).access_token;
  if (typeof token !== 'string' || token.split('.').length !== 3) throw new Error('token endpoint: the access token is not a JWT');
  return token;
}

/**
 * The decoded header and payload of a JWS (no verification: only to copy its shape).
 * @param {string} token @returns {{ header: Record<string, unknown>, payload: Record<string, unknown> }}
 */
export function decodeJwt(token) {
  const [h = '', p = ''] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')), payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) };
}
