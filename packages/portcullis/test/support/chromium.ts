/**
 * Debian's Chromium driven by playwright-core, for tests of the pages in a real browser.
 * Never `npx playwright install`: that downloads a browser from the internet (PEERS.md).
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Route } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can (for `{ skip }` options). */
export function chromiumMissing(): string | null {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return null;
  } catch {
    return `${CHROMIUM_PATH} is not installed (apt-get install chromium; CI installs it)`;
  }
}

/**
 * Starts headless Chromium with nothing that talks to the network on its own (no updates,
 * sync, QUIC or first-run fetches). playwright-core adds `--headless` and `--no-sandbox` itself
 * and gives every launch a fresh temporary `--user-data-dir`, removed on close (passing that
 * flag to `launch` is refused; it belongs to `launchPersistentContext`).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    chromiumSandbox: false,
    timeout: 15_000,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A context in which requests to any origin but `allowedOrigin` are answered by `offOrigin`
 * (fulfil or abort) and do not leave the browser. Waits in it time out after 10 s.
 *
 * One gap: Playwright never routes the hops of a redirect (microsoft/playwright#2617), so a
 * redirect from `allowedOrigin` to elsewhere goes to the network. The identity harness's
 * redirect URIs are on 127.0.0.1:9, a port Chromium refuses to connect to (ERR_UNSAFE_PORT,
 * its restricted-port list), so those hops fail inside the browser without a socket; tests
 * read the code from the request the browser tried to make (`page.waitForRequest`).
 */
export async function loopbackContext(
  browser: Browser,
  allowedOrigin: string,
  offOrigin: (route: Route) => Promise<void>,
  options: BrowserContextOptions = {},
): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(10_000);
  await context.route(
    (url) => url.origin !== allowedOrigin,
    (route) => offOrigin(route),
  );
  return context;
}
