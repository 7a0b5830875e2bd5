/**
 * The login and consent pages in a real browser: Debian's Chromium driven by playwright-core
 * signs in on Portcullis's own pages, with JavaScript off, by keyboard, in light and dark mode,
 * under the pages' real Content-Security-Policy; openid-client redeems the code it brings back.
 * The browser reaches only the identity provider: the relying party's redirect URI
 * (127.0.0.1:9, where nothing listens) is answered inside the browser, anything else is aborted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, BrowserContextOptions, Page, Response } from 'playwright-core';
import { DARK_PALETTE, LIGHT_PALETTE } from '../../src/identity/views/theme-css.ts';
import { en } from '../../src/identity/views/strings.ts';
import { chromiumMissing, launchChromium, loopbackContext } from '../support/chromium.ts';
import { ALICE, relyingParty, startIdentity, THIRD, WEBAPP, type IdentityHarness } from './harness.ts';

const RELYING_PARTY_ORIGIN = 'http://127.0.0.1:9';
/** The theme's default brand (the harness sets none). */
const BRAND = 'Portcullis';

/** A page and what the browser saw while it was open. */
interface Tab {
  page: Page;
  /** Console messages of type error (CSP violations are reported there). */
  consoleErrors: string[];
  /** Requests that failed, as "url: reason" (but the refused redirect to port 9). */
  failedRequests: string[];
  /** Responses the identity provider sent, in order. */
  responses: Response[];
  /** Requests to any origin other than the IdP and the relying party: aborted, and a bug. */
  strayRequests: string[];
}

/** An authorization request of `client` with PKCE S256 and a state, as an app would start it. */
async function authorizationRequest(config: oidc.Configuration, redirectUri: string, scope: string) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  return { url, verifier, state };
}

/**
 * The DOM as the functions run inside the page use it. The test program is compiled without
 * lib.dom (it is Node code), so those functions reach the page's globals through this type.
 */
interface InPage {
  document: {
    activeElement: DomElement | null;
    body: DomElement;
    documentElement: DomElement;
    querySelector(selector: string): DomElement | null;
    addEventListener(type: 'securitypolicyviolation', listener: (event: { violatedDirective: string; blockedURI: string }) => void): void;
  };
  getComputedStyle(element: DomElement): { backgroundColor: string; color: string; colorScheme: string };
  cspViolations: string[];
}
interface DomElement {
  id: string;
  tagName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
}

/** "#rrggbb" as getComputedStyle writes it. */
function rgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

/** The id (or tag name) of the focused element. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = (globalThis as unknown as InPage).document.activeElement;
    if (element === null) return 'none';
    return element.id !== '' ? `#${element.id}` : `${element.tagName.toLowerCase()}${element.getAttribute('value') !== null ? `[value=${element.getAttribute('value')}]` : ''}`;
  });
}

/**
 * Waits until the element with `id` has focus. Chromium applies `autofocus` at a rendering
 * update after the load event, so a key typed the instant the page loads can go nowhere.
 */
async function focusOn(page: Page, id: string): Promise<void> {
  await page.waitForFunction((wanted) => (globalThis as unknown as InPage).document.activeElement?.id === wanted, id, { timeout: 5_000 });
}

const missing = chromiumMissing();

describe('login pages in Chromium', { skip: missing ?? false, timeout: 120_000 }, () => {
  let idp: IdentityHarness;
  let browser: Browser;
  let webapp: oidc.Configuration;
  let third: oidc.Configuration;
  const contexts: BrowserContext[] = [];

  before(async () => {
    idp = await startIdentity();
    browser = await launchChromium();
    webapp = await relyingParty(idp.issuer, WEBAPP.id, WEBAPP.secret);
    third = await relyingParty(idp.issuer, THIRD.id, THIRD.secret);
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await idp?.stop();
  });

  async function openTab(options: BrowserContextOptions = {}): Promise<Tab> {
    const strayRequests: string[] = [];
    const context = await loopbackContext(
      browser,
      idp.issuer,
      async (route) => {
        const url = route.request().url();
        if (url.startsWith(`${RELYING_PARTY_ORIGIN}/`)) return route.fulfill({ status: 200, contentType: 'text/plain', body: 'ok' });
        strayRequests.push(url);
        return route.abort('blockedbyclient');
      },
      options,
    );
    contexts.push(context);
    const page = await context.newPage();
    const tab: Tab = { page, consoleErrors: [], failedRequests: [], responses: [], strayRequests };
    page.on('console', (message) => {
      if (message.type() === 'error') tab.consoleErrors.push(message.text());
    });
    page.on('requestfailed', (request) => {
      const reason = request.failure()?.errorText ?? '?';
      // The redirect back to the relying party on port 9 (see loopbackContext).
      if (request.url().startsWith(`${RELYING_PARTY_ORIGIN}/`) && reason === 'net::ERR_UNSAFE_PORT') return;
      tab.failedRequests.push(`${request.url()}: ${reason}`);
    });
    page.on('response', (response) => {
      if (response.url().startsWith(`${idp.issuer}/`)) tab.responses.push(response);
    });
    return tab;
  }

  /** Goes to the authorization URL and expects to land on the login form. */
  async function openLogin(tab: Tab, url: URL): Promise<void> {
    const response = await tab.page.goto(url.href, { waitUntil: 'load' });
    assert.equal(response?.status(), 200);
    assert.match(new URL(tab.page.url()).pathname, /^\/interaction\/[A-Za-z0-9_-]+$/);
  }

  /**
   * Runs `act` and returns the URL of the navigation it causes to the relying party's
   * redirect URI: the authorization response with code, state and iss.
   */
  async function redirectedTo(page: Page, redirectUri: string, act: () => Promise<void>): Promise<URL> {
    const request = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(`${redirectUri}?`), { timeout: 10_000 });
    await act();
    const seen = await request;
    assert.equal(seen.method(), 'GET');
    return new URL(seen.url());
  }

  test('signs in with JavaScript off: labelled fields, Enter submits, the code is redeemed for alice', async () => {
    const tab = await openTab({ javaScriptEnabled: false });
    const { page } = tab;
    const request = await authorizationRequest(webapp, WEBAPP.redirect, 'openid profile');
    await openLogin(tab, request.url);

    assert.equal(await page.title(), `${en.loginTitle} – ${BRAND}`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), en.loginTitle);
    const login = page.getByLabel(en.loginUsername, { exact: true });
    const password = page.getByLabel(en.loginPassword, { exact: true });
    // getByLabel found them through <label for>: each resolves to exactly one input.
    assert.equal(await login.count(), 1);
    assert.equal(await password.count(), 1);
    assert.equal(await login.getAttribute('autocomplete'), 'username');
    assert.equal(await password.getAttribute('type'), 'password');
    assert.equal(await password.getAttribute('autocomplete'), 'current-password');

    await login.fill(ALICE.username);
    await password.fill(ALICE.password);
    // Enter in a field is the browser's implicit submission (HTML, "implicit submission"); with
    // scripting off, only the form itself can have sent it.
    const callback = await redirectedTo(page, WEBAPP.redirect, () => password.press('Enter'));
    assert.equal(callback.searchParams.get('iss'), idp.issuer);

    const tokens = await oidc.authorizationCodeGrant(webapp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.equal(tokens.claims()?.preferred_username, ALICE.username);
    assert.deepEqual(tab.strayRequests, []);
    assert.deepEqual(tab.failedRequests, []);
    assert.deepEqual(tab.consoleErrors, []);
  });

  test('the stylesheet loads under the CSP, and the page carries no script, inline style or handler', async () => {
    const tab = await openTab();
    const { page } = tab;
    // Runs before any page script, from outside the page, so the CSP does not apply to it.
    await page.addInitScript(() => {
      const seen: string[] = [];
      const window = globalThis as unknown as InPage;
      window.cspViolations = seen;
      window.document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
    });
    const request = await authorizationRequest(webapp, WEBAPP.redirect, 'openid');
    await openLogin(tab, request.url);

    const html = tab.responses.find((r) => r.request().resourceType() === 'document' && r.status() === 200);
    assert.ok(html, 'the login page response');
    assert.match((await html.allHeaders())['content-security-policy'] ?? '', /default-src 'none'/);
    const stylesheets = tab.responses.filter((r) => r.request().resourceType() === 'stylesheet');
    assert.equal(stylesheets.length, 1, 'one stylesheet');
    assert.equal(stylesheets[0]!.status(), 200);
    assert.match((await stylesheets[0]!.allHeaders())['content-type'] ?? '', /^text\/css\b/);
    // And it applied: the card has the theme's surface colour, not the UA default (transparent).
    assert.equal(await page.locator('main').evaluate((main) => (globalThis as unknown as InPage).getComputedStyle(main).backgroundColor), rgb(LIGHT_PALETTE.surface));

    assert.equal(await page.$$eval('script', (scripts) => scripts.length), 0);
    assert.equal(await page.locator('[style]').count(), 0);
    const handlers = await page.$$eval('*', (elements) => elements.flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name)));
    assert.deepEqual(handlers, []);

    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    // The accessibility tree Chromium builds: landmarks, one h1, fields named by their labels.
    assert.equal(
      await page.locator('body').ariaSnapshot({ timeout: 5_000 }),
      [
        '- banner:',
        `  - paragraph: ${BRAND}`,
        '- main:',
        `  - heading "${en.loginTitle}" [level=1]`,
        `  - paragraph: ${en.loginIntroClient.replace('{client}', 'Web App')}`,
        `  - text: ${en.loginUsername}`,
        `  - textbox "${en.loginUsername}"`,
        `  - text: ${en.loginPassword}`,
        `  - textbox "${en.loginPassword}"`,
        `  - button "${en.loginSubmit}"`,
      ].join('\n'),
    );

    assert.deepEqual(await page.evaluate(() => (globalThis as unknown as InPage).cspViolations), []);
    assert.deepEqual(tab.consoleErrors.filter((text) => /Content Security Policy/i.test(text)), []);
    assert.deepEqual(tab.consoleErrors, [], 'no console errors at all');
    assert.deepEqual(tab.strayRequests, []);
    assert.deepEqual(tab.failedRequests, []);
  });

  test('a wrong password shows the generic error in the alert region; Tab goes login, password, submit', async () => {
    const tab = await openTab();
    const { page } = tab;
    const request = await authorizationRequest(webapp, WEBAPP.redirect, 'openid');
    await openLogin(tab, request.url);
    await focusOn(page, 'login'); // the empty username field is autofocused

    await page.keyboard.type(ALICE.username);
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), '#password');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').waitFor({ state: 'visible' });

    assert.equal((await page.getByRole('alert').textContent())?.trim(), en.errorInvalidCredentials);
    assert.equal(await page.getByRole('alert').getAttribute('id'), 'form-error');
    const login = page.getByLabel(en.loginUsername, { exact: true });
    const password = page.getByLabel(en.loginPassword, { exact: true });
    // Screen readers announce the error with each field (WCAG 3.3.1).
    assert.equal(await login.getAttribute('aria-describedby'), 'form-error');
    assert.equal(await password.getAttribute('aria-describedby'), 'form-error');
    assert.equal(await login.inputValue(), ALICE.username, 'the username is kept');
    assert.equal(await password.inputValue(), '', 'the password is not echoed back');
    await focusOn(page, 'password'); // autofocused: that is where the user has to type again

    await login.focus();
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), '#password');
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'button');
    const button = await page.evaluate(() => {
      const element = (globalThis as unknown as InPage).document.activeElement;
      return { text: element?.textContent?.trim(), type: element?.getAttribute('type') };
    });
    assert.deepEqual(button, { text: en.loginSubmit, type: 'submit' });
    const posted = tab.responses.filter((r) => r.request().method() === 'POST');
    assert.deepEqual(posted.map((r) => r.status()), [401]);
    // Chromium logs the 401 itself as a console error; nothing else may appear.
    assert.deepEqual(tab.consoleErrors.filter((text) => !/status of 401\b/.test(text)), []);
    assert.deepEqual(tab.strayRequests, []);
    assert.deepEqual(tab.failedRequests, []);
  });

  test('keyboard only: sign in and allow the third-party client; Allow comes before Deny', async () => {
    const tab = await openTab();
    const { page } = tab;
    const request = await authorizationRequest(third, THIRD.redirect, 'openid email');
    await openLogin(tab, request.url);

    await focusOn(page, 'login');
    await page.keyboard.type(ALICE.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ALICE.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: en.consentTitle }).waitFor();

    assert.equal(await page.title(), `${en.consentTitle} – ${BRAND}`);
    assert.match((await page.locator('main').textContent()) ?? '', /Third Party/);
    const scopes = await page.getByRole('list').getByRole('listitem').allTextContents();
    assert.deepEqual(scopes, [en.scopeOpenid, en.scopeEmail]);
    assert.equal(await focused(page), 'body', 'no button has focus until the user moves it (no stray-Enter grant)');

    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'button[value=allow]', 'the first Tab reaches Allow');
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'button[value=deny]');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(page), 'button[value=allow]');
    const callback = await redirectedTo(page, THIRD.redirect, () => page.keyboard.press('Enter'));
    assert.ok(callback.searchParams.get('code'), 'the redirect carries a code');
    const tokens = await oidc.authorizationCodeGrant(third, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.equal(tokens.claims()?.email, ALICE.email);
    assert.deepEqual(tab.strayRequests, []);
    assert.deepEqual(tab.failedRequests, []);
    assert.deepEqual(tab.consoleErrors, []);
  });

  test('the theme follows the colour scheme (mode auto): dark palette under prefers-color-scheme dark', async () => {
    const colours: Record<string, { canvas: string; card: string; text: string; scheme: string }> = {};
    for (const colorScheme of ['light', 'dark'] as const) {
      const tab = await openTab({ colorScheme });
      const request = await authorizationRequest(webapp, WEBAPP.redirect, 'openid');
      await openLogin(tab, request.url);
      // The theme paints the page background on <html> (it propagates to the canvas); <body>
      // itself stays transparent in both schemes.
      colours[colorScheme] = await tab.page.evaluate(() => {
        const { document, getComputedStyle } = globalThis as unknown as InPage;
        const root = getComputedStyle(document.documentElement);
        return {
          canvas: root.backgroundColor,
          card: getComputedStyle(document.querySelector('main')!).backgroundColor,
          text: getComputedStyle(document.body).color,
          scheme: root.colorScheme,
        };
      });
    }
    assert.deepEqual(colours.light, { canvas: rgb(LIGHT_PALETTE.background), card: rgb(LIGHT_PALETTE.surface), text: rgb(LIGHT_PALETTE.text), scheme: 'light' });
    assert.deepEqual(colours.dark, { canvas: rgb(DARK_PALETTE.background), card: rgb(DARK_PALETTE.surface), text: rgb(DARK_PALETTE.text), scheme: 'dark' });
    assert.notEqual(colours.light!.canvas, colours.dark!.canvas);
  });

  test('screenshots of the login page render (kept in $PORTCULLIS_SCREENSHOTS when set)', async (t) => {
    const keep = process.env.PORTCULLIS_SCREENSHOTS;
    const dir = keep ?? mkdtempSync(join(tmpdir(), 'portcullis-screens-'));
    try {
      for (const colorScheme of ['light', 'dark'] as const) {
        const tab = await openTab({ colorScheme, viewport: { width: 800, height: 700 } });
        const request = await authorizationRequest(webapp, WEBAPP.redirect, 'openid');
        await openLogin(tab, request.url);
        const file = join(dir, `login-${colorScheme}.png`);
        await tab.page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
        const png = readFileSync(file);
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG file');
        assert.equal(png.readUInt32BE(16), 800, 'as wide as the viewport');
        t.diagnostic(`screenshot: ${file}`);
      }
    } finally {
      if (keep === undefined) rmSync(dir, { recursive: true, force: true });
    }
  });
});
