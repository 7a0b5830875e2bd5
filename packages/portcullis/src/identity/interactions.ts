/**
 * The login and consent pages oidc-provider sends browsers to (`/interaction/<uid>`). One
 * screen of steps: show the prompt, check the form's CSRF token, check the password, finish
 * the interaction. The interaction is bound to the browser by oidc-provider's cookie, so a
 * uid alone is useless to anyone else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { Logger } from '../kernel/logger.ts';
import type { Accounts } from './accounts.ts';
import type { EdgeSessions } from './edge-sessions.ts';
import type { Csrf } from './forms.ts';
import { readForm } from './forms.ts';
import { FIRST_PARTY } from './oidc-adapter.ts';
import { sendPage } from './pages.ts';
import { throttledMessage, type Strings } from './views/strings.ts';
import type { Views } from './views/views.ts';

export interface InteractionDeps {
  provider: Provider;
  views: Views;
  strings: Strings;
  accounts: Accounts;
  csrf: Csrf;
  logger: Logger;
  /** Sign-ins of gated sites: one sign-in counts for both (single sign-on). */
  edge: EdgeSessions;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Answers `/interaction/<uid>[/login|/consent]`; false when the path is not one of them. */
export function createInteractions(deps: InteractionDeps) {
  const { provider, views, strings, accounts, csrf, edge } = deps;

  async function clientName(details: Details): Promise<{ name: string; firstParty: boolean }> {
    const client = await provider.Client.find(String(details.params.client_id));
    return { name: client?.clientName ?? String(details.params.client_id), firstParty: client?.[FIRST_PARTY] === true };
  }

  async function showLogin(res: ServerResponse, details: Details, status: number, login: string, error: string | null) {
    const client = await clientName(details);
    sendPage(res, status, views.render('login', { action: `/interaction/${details.uid}/login`, csrf: csrf.token(`login:${details.uid}`), login, error, clientName: client.name }));
  }

  async function showPrompt(req: IncomingMessage, res: ServerResponse, details: Details) {
    if (details.prompt.name === 'login') {
      // Signed in to a gated site already: that counts, unless the app asked for a fresh
      // sign-in (prompt=login, max_age) or a particular user (id_token_hint).
      const reasons = details.prompt.reasons;
      const user = reasons.length === 1 && reasons[0] === 'no_session' ? await edge.identify(req.headers.cookie) : null;
      if (user !== null) return provider.interactionFinished(req, res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
      return showLogin(res, details, 200, String(details.params.login_hint ?? ''), null);
    }
    const client = await clientName(details);
    if (client.firstParty) return grantConsent(req, res, details);
    const scopes = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
    sendPage(res, 200, views.render('consent', { action: `/interaction/${details.uid}/consent`, csrf: csrf.token(`consent:${details.uid}`), clientName: client.name, scopes }));
  }

  async function submitLogin(req: IncomingMessage, res: ServerResponse, details: Details, clientIp: string) {
    const form = await readForm(req);
    if (!csrf.verify(`login:${details.uid}`, form.get('csrf'))) return forbidden(res);
    const login = (form.get('login') ?? '').trim();
    const password = form.get('password') ?? '';
    if (login === '' || password === '') return showLogin(res, details, 400, login, strings.errorInvalidCredentials);
    const result = await accounts.signIn(login, password, clientIp);
    if (!result.ok) {
      if (result.reason === 'throttled') {
        res.setHeader('Retry-After', Math.ceil((result.retryAfterMs ?? 60_000) / 1000));
        return showLogin(res, details, 429, login, throttledMessage(strings, Math.ceil((result.retryAfterMs ?? 60_000) / 60_000)));
      }
      return showLogin(res, details, 401, login, strings.errorInvalidCredentials);
    }
    const results: InteractionResults = { login: { accountId: result.user.id, amr: ['pwd'] } };
    // The same sign-in opens the gated sites too; a new session id every time (fixation).
    res.setHeader('Set-Cookie', [await edge.destroy(req.headers.cookie), await edge.create(result.user.id)]);
    await provider.interactionFinished(req, res, results, { mergeWithLastSubmission: false });
  }

  async function submitConsent(req: IncomingMessage, res: ServerResponse, details: Details) {
    const form = await readForm(req);
    if (!csrf.verify(`consent:${details.uid}`, form.get('csrf'))) return forbidden(res);
    if (details.prompt.name !== 'consent') return showPrompt(req, res, details);
    if (form.get('decision') === 'deny') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user denied the request' }, { mergeWithLastSubmission: false });
    }
    await grantConsent(req, res, details);
  }

  /** Grants what the prompt says is missing (oidc-provider's consent recipe) and resumes. */
  async function grantConsent(req: IncomingMessage, res: ServerResponse, details: Details) {
    const accountId = details.session?.accountId;
    if (accountId === undefined) return showLogin(res, details, 200, '', null);
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    if (grant === undefined) return forbidden(res);
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope((missing.missingOIDCScope as string[]).join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims as string[]);
    for (const [resource, scopes] of Object.entries((missing.missingResourceScopes ?? {}) as Record<string, string[]>)) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }

  function forbidden(res: ServerResponse) {
    sendPage(res, 403, views.render('error', { title: strings.errorTitle, message: strings.errorFormExpired, errorId: null }));
  }

  return async function interactions(req: IncomingMessage, res: ServerResponse, path: string, clientIp: string): Promise<boolean> {
    const match = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login|\/consent)?$/.exec(path);
    if (match === null) return false;
    let details: Details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      // No interaction cookie, an expired interaction, or one that belongs to another browser.
      sendPage(res, 400, views.render('error', { title: strings.errorTitle, message: strings.errorSessionExpired, errorId: null }));
      return true;
    }
    if (details.uid !== match[1]) return (forbidden(res), true);
    const step = match[2];
    if (step === undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return (methodNotAllowed(res, 'GET, HEAD'), true);
      await showPrompt(req, res, details);
    } else {
      if (req.method !== 'POST') return (methodNotAllowed(res, 'POST'), true);
      await (step === '/login' ? submitLogin(req, res, details, clientIp) : submitConsent(req, res, details));
    }
    return true;
  };

  function methodNotAllowed(res: ServerResponse, allow: string) {
    res.setHeader('Allow', allow);
    sendPage(res, 405, views.render('error', { title: strings.errorTitle, message: strings.errorMethod, errorId: null }));
  }
}
