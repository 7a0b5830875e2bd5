/**
 * An identity provider on loopback for tests: a Portcullis instance serving `identity_provider`
 * with a few clients, a user `alice` in group `admins`, and a browser that signs in.
 */
import * as oidc from 'openid-client';
import { openIdentityAdmin } from '../../src/main.ts';
import { Browser, formAction, hiddenInput, type Page } from '../support/browser.ts';
import { freePort, startPortcullis, type Running } from '../support/instance.ts';

export const WEBAPP = { id: 'webapp', secret: 'webapp-secret-0123456789abcdef', redirect: 'http://127.0.0.1:9/callback', logout: 'http://127.0.0.1:9/bye' };
export const SPA = { id: 'spa', redirect: 'http://127.0.0.1:9/spa' };
export const THIRD = { id: 'third', secret: 'third-party-secret-0123456789ab', redirect: 'http://127.0.0.1:9/third' };
export const SERVICE = { id: 'service', secret: 'service-secret-0123456789abcdef' };
export const ALICE = { username: 'alice', password: 'correct horse battery staple', email: 'alice@example.com' };

export interface IdentityHarness {
  running: Running;
  issuer: string;
  stop(): Promise<void>;
}

export async function startIdentity(extraIdentity = '', extraGlobal = ''): Promise<IdentityHarness> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const running = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
	database sqlite $DIR/identity.db
	${extraGlobal}
	identity {
		issuer ${issuer}
		claim tenant
		client ${WEBAPP.id} {
			name "Web App"
			secret ${WEBAPP.secret}
			redirect_uri ${WEBAPP.redirect}
			post_logout_redirect_uri ${WEBAPP.logout}
			first_party
		}
		client ${SPA.id} {
			public
			redirect_uri ${SPA.redirect}
			first_party
		}
		client ${THIRD.id} {
			name "Third Party"
			secret ${THIRD.secret}
			redirect_uri ${THIRD.redirect}
		}
		client ${SERVICE.id} {
			secret ${SERVICE.secret}
			grant_types client_credentials
			scopes reports
		}
		${extraIdentity}
	}
}
http://127.0.0.1:${port} {
	identity_provider
}
`);
  const { admin, close } = await openIdentityAdmin({ configFile: running.configFile });
  try {
    await admin.addUser({ username: ALICE.username, email: ALICE.email, displayName: 'Alice Liddell', password: ALICE.password });
    await admin.addGroup('admins');
    await admin.addMember('admins', ALICE.username);
  } finally {
    await close();
  }
  return { running, issuer, stop: () => running.stop() };
}

/** openid-client's view of a client of ours (plain http is fine on loopback in tests). */
export async function relyingParty(issuer: string, clientId: string, secret?: string): Promise<oidc.Configuration> {
  const auth = secret === undefined ? oidc.None() : oidc.ClientSecretBasic(secret);
  return oidc.discovery(new URL(issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
}

/**
 * Drives the browser from an authorization URL through the login form to the redirect back
 * to the client; returns that redirect URL (with code, state, iss).
 */
export async function signIn(browser: Browser, authorizationUrl: URL, user = ALICE): Promise<URL> {
  const loginPage = await browser.follow(await browser.get(authorizationUrl.href));
  if (!/name="password"/.test(loginPage.body)) throw new Error(`expected the login page, got ${loginPage.status}:\n${loginPage.body.slice(0, 1000)}`);
  const posted = await submitLogin(browser, loginPage, user.username, user.password);
  const back = await browser.follow(posted, (url) => !url.startsWith(new URL(authorizationUrl).origin));
  if (back.location === null) throw new Error(`expected a redirect back to the client, got ${back.status}:\n${back.body.slice(0, 1000)}`);
  return new URL(back.location, back.url);
}

export async function submitLogin(browser: Browser, loginPage: Page, login: string, password: string): Promise<Page> {
  const action = new URL(formAction(loginPage.body), loginPage.url).href;
  return browser.post(action, { csrf: hiddenInput(loginPage.body, 'csrf'), login, password });
}
