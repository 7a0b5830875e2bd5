/**
 * The first administrator. While the store has no users, start-up prints a one-time link
 * (`<issuer>/setup?token=...`); the page it opens creates the first account, puts it in the
 * `admins` group, and the link dies. Without the token nobody can claim a fresh install.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../kernel/logger.ts';
import type { Accounts } from './accounts.ts';
import { readForm, type Csrf } from './forms.ts';
import { sendPage } from './pages.ts';
import type { Strings } from './views/strings.ts';
import type { Views } from './views/views.ts';

export interface FirstAdminDeps {
  issuer: string;
  views: Views;
  strings: Strings;
  accounts: Accounts;
  csrf: Csrf;
  logger: Logger;
  /** Whether the store has no users yet. */
  noUsers(): Promise<boolean>;
}

export interface FirstAdmin {
  /** The one-time link while no user exists, else null. */
  link(): string | null;
  /** Answers `/setup`; false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export async function createFirstAdmin(deps: FirstAdminDeps): Promise<FirstAdmin> {
  const { views, strings, csrf } = deps;
  let token: string | null = (await deps.noUsers()) ? randomBytes(24).toString('base64url') : null;
  const link = () => (token === null ? null : `${deps.issuer}/setup?token=${token}`);
  if (token !== null) deps.logger.warn({ url: link() }, 'no users yet: open this one-time link to create the first administrator');

  const tokenMatches = (given: string | null) =>
    token !== null && given !== null && given.length === token.length && timingSafeEqual(Buffer.from(given), Buffer.from(token));

  const show = (res: ServerResponse, status: number, values: { username: string; email: string; displayName: string }, error: string | null) =>
    sendPage(res, status, views.render('setup', { action: `/setup?token=${token}`, csrf: csrf.token(`setup:${token}`), ...values, error }));

  return {
    link,
    async handle(req, res, url) {
      if (url.pathname !== '/setup') return false;
      if (!tokenMatches(url.searchParams.get('token'))) {
        sendPage(res, 404, views.render('error', { title: strings.errorTitle, message: strings.errorSetupLink, errorId: null }));
        return true;
      }
      if (req.method === 'GET' || req.method === 'HEAD') return (show(res, 200, { username: '', email: '', displayName: '' }, null), true);
      const form = await readForm(req);
      const values = { username: (form.get('username') ?? '').trim(), email: (form.get('email') ?? '').trim(), displayName: (form.get('displayName') ?? '').trim() };
      if (!csrf.verify(`setup:${token}`, form.get('csrf'))) return (show(res, 403, values, strings.errorFormExpired), true);
      const password = form.get('password') ?? '';
      if (values.username === '' || password.length < 8) return (show(res, 400, values, strings.errorSetupInvalid), true);
      if (password !== form.get('passwordConfirm')) return (show(res, 400, values, strings.errorPasswordMismatch), true);
      try {
        await deps.accounts.createFirstAdmin({ username: values.username, email: values.email || null, displayName: values.displayName || null, password });
      } catch (error) {
        deps.logger.warn({ err: error }, 'first administrator not created');
        return (show(res, 400, values, (error as Error).message), true);
      }
      token = null;
      sendPage(res, 200, views.render('error', { title: strings.setupDoneTitle, message: strings.setupDone, errorId: null }));
      return true;
    },
  };
}
