/**
 * The identity provider's server-rendered pages: a theme in, a synchronous `render` out.
 *
 * Everything that depends on configuration (strings for the locale, template overrides, the
 * stylesheet and its ETag, parsed templates) is prepared once in `createViews`; `render` only
 * builds the view object and runs the pre-parsed template.
 *
 * Template overrides. When `theme.templates` names a directory, `<page>.html` (login,
 * consent, logout, logged-out, error, setup) and `layout.html` in it replace the built-in ones
 * (see templates.ts for those). The layout must include the page with `{{> content}}`; pages
 * may not include partials. Every template sees `t` (the strings table, e.g. `{{t.loginTitle}}`),
 * `brand`, `logo`, `stylesheet`, `lang` and `title`, plus the page's own data (PageData) and the
 * ready-made sentences `intro` / `message` where the built-in page has them. Forms must post the
 * fields named in FORM_FIELDS, including the anti-CSRF token from the `csrf` value.
 *
 * Escaping: `{{x}}` is HTML-escaped (including quotes, so it is safe in a double-quoted
 * attribute). `{{{x}}}` and `{{& x}}` are not escaped; the built-in templates never use them,
 * and a user template that does takes responsibility for what it outputs — login, error and
 * clientName can contain anything a visitor or a client registration puts there.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import Mustache from 'mustache';
import type { TemplateSpans } from 'mustache';
import type { IdentityTheme } from '../../config/types.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { formatString, resolveStrings, type Strings } from './strings.ts';
import { builtinTemplates } from './templates.ts';
import { buildStylesheet } from './theme-css.ts';

export type PageName = 'login' | 'consent' | 'logout' | 'logged-out' | 'error' | 'setup';

/** The pages, in the order they are loaded and documented. */
export const PAGE_NAMES: readonly PageName[] = Object.freeze([
  'login',
  'consent',
  'logout',
  'logged-out',
  'error',
  'setup',
]);

/** Names of the form fields each page posts; handlers read these, user templates must post them. */
export const FORM_FIELDS = Object.freeze({
  login: Object.freeze({ csrf: 'csrf', login: 'login', password: 'password' }),
  /** `decision` is `allow` or `deny`. */
  consent: Object.freeze({ csrf: 'csrf', decision: 'decision' }),
  /** Posted to oidc-provider's end_session_confirm, which reads `xsrf`; `logout` is `yes`. */
  logout: Object.freeze({ csrf: 'xsrf', logout: 'logout' }),
  setup: Object.freeze({
    csrf: 'csrf',
    username: 'username',
    email: 'email',
    displayName: 'displayName',
    password: 'password',
    passwordConfirm: 'passwordConfirm',
  }),
});

/** Data for each page. URLs (`action`) are produced by the caller; all other values may be hostile. */
export interface PageData {
  login: {
    /** URL the form posts to. */
    action: string;
    csrf: string;
    /** Login name to prefill after a failed attempt ("" for none). */
    login: string;
    /** A generic error text (strings.errorInvalidCredentials, throttledMessage, ...). */
    error: string | null;
    /** Display name of the relying party the user signs in for. */
    clientName: string | null;
  };
  consent: {
    action: string;
    csrf: string;
    clientName: string;
    /** Requested scopes; known ones are described in words, unknown ones shown by name. */
    scopes: string[];
    error?: null;
  };
  /** `csrf` is oidc-provider's xsrf secret; the form posts it as `xsrf` (FORM_FIELDS.logout). */
  logout: { action: string; csrf: string; clientName: string | null };
  'logged-out': { clientName: string | null };
  error: {
    /** Heading and <title>; "" for the generic strings.errorTitle. */
    title: string;
    /** Explanation; "" for the generic strings.errorMessage. Never internals. */
    message: string;
    /** The id also written to the log, for support. */
    errorId: string | null;
  };
  setup: {
    action: string;
    csrf: string;
    username: string;
    email: string;
    displayName: string;
    error: string | null;
  };
}

export interface Views {
  /** Full HTML document for a page. Data values are auto-escaped. */
  render<P extends PageName>(page: P, data: PageData[P]): string;
  /** The stylesheet (served by the caller at options.stylesheetPath) and its strong ETag. */
  stylesheet: { body: string; etag: string };
}

export interface ViewsOptions {
  /** Path the stylesheet is served at; linked from every page. */
  stylesheetPath: string;
}

type TemplateName = PageName | 'layout';
const TEMPLATE_NAMES: readonly TemplateName[] = ['layout', ...PAGE_NAMES];

/** Fields every page's view object has. */
interface BaseView {
  t: Strings;
  brand: string;
  logo: string | null;
  stylesheet: string;
  lang: string;
}

/** Builds the view object of each page from its data; the template decides what to show. */
const viewBuilders: {
  [P in PageName]: (base: BaseView, data: PageData[P]) => Record<string, unknown>;
} = {
  login: (base, d) => ({
    ...base,
    title: base.t.loginTitle,
    intro: withClient(base.t.loginIntro, base.t.loginIntroClient, d.clientName),
    action: d.action,
    csrf: d.csrf,
    login: d.login,
    error: d.error,
    clientName: d.clientName,
  }),
  consent: (base, d) => {
    const scopes = describeScopes(base.t, d.scopes);
    return {
      ...base,
      title: base.t.consentTitle,
      intro: formatString(base.t.consentIntro, { client: d.clientName }),
      action: d.action,
      csrf: d.csrf,
      clientName: d.clientName,
      scopes,
      hasScopes: scopes.length > 0,
      error: d.error ?? null,
    };
  },
  logout: (base, d) => ({
    ...base,
    title: base.t.logoutTitle,
    intro: withClient(base.t.logoutIntro, base.t.logoutIntroClient, d.clientName),
    action: d.action,
    csrf: d.csrf,
    clientName: d.clientName,
  }),
  'logged-out': (base, d) => ({
    ...base,
    title: base.t.loggedOutTitle,
    message: withClient(base.t.loggedOutMessage, base.t.loggedOutMessageClient, d.clientName),
    clientName: d.clientName,
  }),
  error: (base, d) => ({
    ...base,
    title: d.title === '' ? base.t.errorTitle : d.title,
    message: d.message === '' ? base.t.errorMessage : d.message,
    errorId: d.errorId,
  }),
  setup: (base, d) => ({
    ...base,
    title: base.t.setupTitle,
    action: d.action,
    csrf: d.csrf,
    username: d.username,
    email: d.email,
    displayName: d.displayName,
    error: d.error,
  }),
};

function withClient(plain: string, withName: string, clientName: string | null): string {
  return clientName === null || clientName === '' ? plain : formatString(withName, { client: clientName });
}

/** Scope descriptions for the consent page, duplicates removed, in request order. */
function describeScopes(t: Strings, scopes: readonly string[]): { name: string; description: string; known: boolean }[] {
  const known: Readonly<Record<string, string>> = {
    openid: t.scopeOpenid,
    profile: t.scopeProfile,
    email: t.scopeEmail,
    groups: t.scopeGroups,
    offline_access: t.scopeOfflineAccess,
  };
  return [...new Set(scopes)].map((name) => {
    const description = Object.hasOwn(known, name) ? known[name] : undefined;
    return { name, description: description ?? name, known: description !== undefined };
  });
}

// The same characters Mustache's default escaper handles. Passed explicitly so that no other
// code assigning the global `Mustache.escape` can weaken our pages.
const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '/': '&#x2F;',
  '`': '&#x60;',
  '=': '&#x3D;',
};

function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`=/]/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * Prepares the pages for a theme: resolves the locale, loads template overrides from
 * `theme.templates` (once), checks every template parses, and builds the stylesheet.
 * Throws PortcullisError ERR_IDENTITY_CONFIG naming the directory or file that is missing,
 * unreadable or not a valid template.
 */
export async function createViews(theme: IdentityTheme, options: ViewsOptions): Promise<Views> {
  const templates = await loadTemplates(theme.templates);
  // A Writer of our own: its parse cache holds exactly these templates and dies with this
  // Views object on reload, instead of Mustache's process-wide cache.
  const writer = new Mustache.Writer();
  for (const name of TEMPLATE_NAMES) checkTemplate(writer, name, templates[name], theme.templates);

  const { lang, t } = resolveStrings(theme.locale);
  const base: BaseView = Object.freeze({
    t,
    brand: theme.brand,
    logo: theme.logo,
    stylesheet: options.stylesheetPath,
    lang,
  });
  const layout = templates.layout;
  const partials = new Map<PageName, Record<string, string>>(
    PAGE_NAMES.map((page) => [page, Object.freeze({ content: templates[page] })]),
  );
  const config = { escape: escapeHtml };

  const body = buildStylesheet(theme);
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;

  return {
    render<P extends PageName>(page: P, data: PageData[P]): string {
      const view = viewBuilders[page](base, data);
      return writer.render(layout, view, partials.get(page), config);
    },
    stylesheet: Object.freeze({ body, etag }),
  };
}

async function loadTemplates(dir: string | null): Promise<Record<TemplateName, string>> {
  const templates: Record<TemplateName, string> = { ...builtinTemplates };
  if (dir === null) return templates;
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    throw configError(`templates directory ${dir} cannot be read: ${reason(err)}`, err);
  }
  if (!info.isDirectory()) throw configError(`templates path ${dir} is not a directory`);
  for (const name of TEMPLATE_NAMES) {
    const file = join(dir, `${name}.html`);
    try {
      templates[name] = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // not overridden
      throw configError(`template ${file} cannot be read: ${reason(err)}`, err);
    }
  }
  return templates;
}

/**
 * Parses a template (filling the writer's cache) and enforces the partial rules: the layout
 * must include `{{> content}}`, and pages include no partials (a page including `content`
 * would include itself until the stack overflows, on every request).
 */
function checkTemplate(writer: InstanceType<typeof Mustache.Writer>, name: TemplateName, template: string, dir: string | null): void {
  const where = dir === null ? `built-in template ${name}` : `template ${join(dir, `${name}.html`)}`;
  let tokens: TemplateSpans;
  try {
    tokens = writer.parse(template);
  } catch (err) {
    throw configError(`${where} is not a valid Mustache template: ${reason(err)}`, err);
  }
  const included = partialNames(tokens);
  if (name === 'layout' && !included.includes('content')) {
    throw configError(`${where} must include the page with {{> content}}`);
  }
  if (name !== 'layout' && included.length > 0) {
    throw configError(`${where} may not include partials ({{> ${included[0]}}})`);
  }
}

function partialNames(tokens: TemplateSpans): string[] {
  const names: string[] = [];
  for (const token of tokens) {
    if (token[0] === '>') names.push(token[1]);
    const children = token[4];
    if (Array.isArray(children)) names.push(...partialNames(children as TemplateSpans));
  }
  return names;
}

function configError(message: string, cause?: unknown): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_IDENTITY_CONFIG, message, cause === undefined ? {} : { cause });
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message : String(err);
}
