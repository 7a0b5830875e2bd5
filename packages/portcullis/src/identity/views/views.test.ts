import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IdentityTheme } from '../../config/types.ts';
import { PortcullisError } from '../../kernel/errors.ts';
import { de, en } from './strings.ts';
import { createViews, FORM_FIELDS, PAGE_NAMES, type PageData, type PageName, type Views } from './views.ts';

const theme = (overrides: Partial<IdentityTheme> = {}): IdentityTheme => ({
  brand: 'Acme Login',
  logo: null,
  color: null,
  mode: 'auto',
  templates: null,
  locale: 'en',
  ...overrides,
});
const options = { stylesheetPath: '/_portcullis/style.css' };

const XSS = `"><script>alert(1)</script><img src=x onerror=alert(1)>'`;

const sample: { [P in PageName]: PageData[P] } = {
  login: { action: '/interaction/abc/login', csrf: 'tok-login', login: '', error: null, clientName: 'Wiki' },
  consent: {
    action: '/interaction/abc/consent',
    csrf: 'tok-consent',
    clientName: 'Wiki',
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access', 'custom:read'],
  },
  logout: { action: '/session/end/confirm', csrf: 'tok-logout', clientName: 'Wiki' },
  'logged-out': { clientName: null },
  error: { title: 'Request rejected', message: 'The link has expired.', errorId: 'e-123' },
  setup: { action: '/setup?token=t', csrf: 'tok-setup', username: '', email: '', displayName: '', error: null },
};

function renderAny(views: Views, page: PageName): string {
  return (views.render as (p: PageName, d: unknown) => string)(page, sample[page]);
}

/** All start tags named `tag`, as raw strings. */
const tags = (html: string, tag: string): string[] => html.match(new RegExp(`<${tag}\\b[^>]*>`, 'g')) ?? [];
const attr = (tagText: string, name: string): string | undefined =>
  new RegExp(`\\s${name}="([^"]*)"`).exec(tagText)?.[1];

/** Accessibility and CSP rules every page must follow, checked by reading the HTML. */
function assertWellFormedPage(html: string, page: string): void {
  assert.match(html, /^<!doctype html>\n<html lang="[a-z]{2}">/, `${page}: doctype and lang`);
  assert.equal(tags(html, 'title').length, 1, `${page}: one title`);
  assert.equal(tags(html, 'h1').length, 1, `${page}: one h1`);
  assert.equal(tags(html, 'main').length, 1, `${page}: one main landmark`);
  assert.match(html, /<link rel="stylesheet" href="&#x2F;_portcullis&#x2F;style.css">/, `${page}: stylesheet`);
  // The CSP forbids inline script, style attributes and event handlers.
  assert.doesNotMatch(html, /<script|<style|\sstyle=|\son[a-z]+=/i, `${page}: nothing the CSP would block`);
  for (const form of tags(html, 'form')) {
    assert.equal(attr(form, 'method'), 'post', `${page}: forms post`);
  }
  for (const button of tags(html, 'button')) assert.equal(attr(button, 'type'), 'submit', `${page}: ${button}`);
  const inputs = tags(html, 'input').filter((i) => attr(i, 'type') !== 'hidden');
  for (const input of inputs) {
    const id = attr(input, 'id');
    assert.ok(id, `${page}: ${input} has an id`);
    assert.equal(attr(input, 'name'), id, `${page}: id and name agree`);
    assert.ok(html.includes(`<label for="${id}">`), `${page}: label for ${id}`);
    assert.ok(attr(input, 'autocomplete'), `${page}: ${id} has autocomplete`);
  }
  assert.ok(tags(html, 'input').concat(tags(html, 'button')).filter((t) => / autofocus\b/.test(t)).length <= 1, `${page}: at most one autofocus`);
}

describe('createViews with the built-in templates', () => {
  let views: Views;
  before(async () => {
    views = await createViews(theme(), options);
  });

  for (const page of PAGE_NAMES) {
    it(`renders ${page} as an accessible, CSP-clean document`, () => {
      const html = renderAny(views, page);
      assertWellFormedPage(html, page);
      assert.match(html, /<p class="brand-name">Acme Login<\/p>/);
      assert.match(html, /<title>[^<]+ – Acme Login<\/title>/);
    });
  }

  it('login: fields, autocomplete, csrf, focus on the first empty field', () => {
    const html = views.render('login', sample.login);
    assert.match(html, /<h1>Sign in<\/h1>/);
    assert.match(html, /Sign in to continue to Wiki\./);
    assert.match(html, /<form method="post" action="&#x2F;interaction&#x2F;abc&#x2F;login">/);
    assert.match(html, /<input type="hidden" name="csrf" value="tok-login">/);
    const [login, password] = tags(html, 'input').filter((i) => attr(i, 'type') !== 'hidden');
    assert.equal(attr(login ?? '', 'autocomplete'), 'username');
    assert.equal(attr(login ?? '', 'name'), FORM_FIELDS.login.login);
    assert.match(login ?? '', / autofocus/);
    assert.equal(attr(password ?? '', 'autocomplete'), 'current-password');
    assert.equal(attr(password ?? '', 'type'), 'password');
    assert.doesNotMatch(password ?? '', /value=/, 'passwords are never echoed');
    assert.doesNotMatch(html, /role="alert"/, 'no error region without an error');
  });

  it('login: shows the error in an alert region and moves focus to the password', () => {
    const html = views.render('login', { ...sample.login, login: 'ann', error: en.errorInvalidCredentials });
    assert.match(html, /<p class="alert" id="form-error" role="alert">Incorrect username or password\.<\/p>/);
    assert.ok(html.indexOf('role="alert"') < html.indexOf('<form'), 'error precedes the form');
    const [login, password] = tags(html, 'input').filter((i) => attr(i, 'type') !== 'hidden');
    assert.equal(attr(login ?? '', 'value'), 'ann');
    assert.doesNotMatch(login ?? '', /autofocus/);
    assert.match(password ?? '', / autofocus/);
    assert.equal(attr(password ?? '', 'aria-describedby'), 'form-error');
  });

  it('login without a client says so generically', () => {
    const html = views.render('login', { ...sample.login, clientName: null });
    assert.match(html, /<p class="intro">Sign in to continue\.<\/p>/);
  });

  it('consent: describes known scopes, names unknown ones, Allow before Deny', () => {
    const html = views.render('consent', { ...sample.consent, scopes: [...sample.consent.scopes, 'openid'] });
    assert.match(html, /Wiki would like to access your account\./);
    for (const text of [en.scopeOpenid, en.scopeProfile, en.scopeEmail, en.scopeGroups, en.scopeOfflineAccess]) {
      assert.ok(html.includes(`<li>${text}</li>`), text);
    }
    assert.ok(html.includes('<li>custom:read</li>'));
    assert.equal(tags(html, 'li').length, 6, 'duplicates removed');
    const buttons = tags(html, 'button');
    assert.equal(buttons.length, 2);
    assert.equal(attr(buttons[0] ?? '', 'value'), 'allow');
    assert.equal(attr(buttons[1] ?? '', 'name'), FORM_FIELDS.consent.decision);
    assert.equal(attr(buttons[1] ?? '', 'value'), 'deny');
    assert.ok(html.indexOf('>Allow<') < html.indexOf('>Deny<'));
    assert.doesNotMatch(html, /autofocus/, 'a stray Enter must not grant consent');
    assert.match(html, /<input type="hidden" name="csrf" value="tok-consent">/);
  });

  it('consent with no scopes shows no empty list', () => {
    const html = views.render('consent', { ...sample.consent, scopes: [] });
    assert.equal(tags(html, 'ul').length, 0);
  });

  it('logout: posts logout=yes with the xsrf secret oidc-provider expects', () => {
    const html = views.render('logout', sample.logout);
    assert.match(html, /Do you want to sign out of Wiki\?/);
    assert.match(html, /<input type="hidden" name="xsrf" value="tok-logout">/);
    const [button] = tags(html, 'button');
    assert.equal(attr(button ?? '', 'name'), 'logout');
    assert.equal(attr(button ?? '', 'value'), 'yes');
  });

  it('logged-out and error pages', () => {
    assert.match(views.render('logged-out', { clientName: 'Wiki' }), /You have been signed out of Wiki\./);
    assert.match(views.render('logged-out', { clientName: null }), /<p>You have been signed out\.<\/p>/);
    const error = views.render('error', sample.error);
    assert.match(error, /<title>Request rejected – Acme Login<\/title>/);
    assert.match(error, /<h1>Request rejected<\/h1>/);
    assert.match(error, /<code>e-123<\/code>/);
    const generic = views.render('error', { title: '', message: '', errorId: null });
    assert.match(generic, /<h1>Something went wrong<\/h1>/);
    assert.match(generic, /The request could not be completed\./);
    assert.doesNotMatch(generic, /Error ID/);
  });

  it('setup: five fields with the right autocomplete, values kept, passwords not', () => {
    const html = views.render('setup', {
      ...sample.setup,
      username: 'admin',
      email: 'a@example.com',
      displayName: 'Ann Admin',
      error: en.errorPasswordMismatch,
    });
    const inputs = tags(html, 'input').filter((i) => attr(i, 'type') !== 'hidden');
    assert.deepEqual(
      inputs.map((i) => [attr(i, 'name'), attr(i, 'autocomplete')]),
      [
        [FORM_FIELDS.setup.username, 'username'],
        [FORM_FIELDS.setup.email, 'email'],
        [FORM_FIELDS.setup.displayName, 'name'],
        [FORM_FIELDS.setup.password, 'new-password'],
        [FORM_FIELDS.setup.passwordConfirm, 'new-password'],
      ],
    );
    assert.match(inputs[0] ?? '', / autofocus/);
    assert.equal(attr(inputs[1] ?? '', 'value'), 'a@example.com');
    assert.equal(attr(inputs[2] ?? '', 'value'), 'Ann Admin');
    assert.doesNotMatch((inputs[3] ?? '') + (inputs[4] ?? ''), /value=/);
    assert.match(html, /role="alert">The passwords do not match\.</);
  });

  it('escapes hostile values in text and attributes', () => {
    const pages: [PageName, unknown][] = [
      ['login', { ...sample.login, login: XSS, error: XSS, clientName: XSS, csrf: XSS }],
      ['consent', { ...sample.consent, clientName: XSS, scopes: [XSS] }],
      ['logout', { ...sample.logout, clientName: XSS }],
      ['logged-out', { clientName: XSS }],
      ['error', { title: XSS, message: XSS, errorId: XSS }],
      ['setup', { ...sample.setup, username: XSS, email: XSS, displayName: XSS, error: XSS }],
    ];
    for (const [page, data] of pages) {
      const html = (views.render as (p: PageName, d: unknown) => string)(page, data);
      assert.doesNotMatch(html, /<script|<img src=x|"><|onerror=/i, page);
      assert.ok(html.includes('&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2F;script&gt;'), `${page} shows the text escaped`);
      // Every attribute value is a closed, quote-free string: no value escaped its quotes.
      for (const tag of html.match(/<[a-z][^>]*>/g) ?? []) {
        assert.match(tag, /^<[a-z0-9]+(\s+[a-z-]+(="[^"<>]*")?)*\s*>$/, `${page}: ${tag}`);
      }
    }
  });

  it('does not interpret Mustache tags inside values', () => {
    const html = views.render('login', { ...sample.login, login: '{{t.loginTitle}}{{{brand}}}' });
    assert.ok(html.includes('value="{{t.loginTitle}}{{{brand}}}"'));
  });

  it('serves the stylesheet with a strong ETag', async () => {
    assert.match(views.stylesheet.etag, /^"[A-Za-z0-9_-]{43}"$/);
    assert.match(views.stylesheet.body, /prefers-color-scheme: dark/);
    const again = await createViews(theme(), options);
    assert.equal(again.stylesheet.etag, views.stylesheet.etag);
    const other = await createViews(theme({ color: '#cc0000' }), options);
    assert.notEqual(other.stylesheet.etag, views.stylesheet.etag);
    assert.match(other.stylesheet.body, /--accent: #cc0000;/);
  });
});

describe('createViews theme options', () => {
  it('shows the logo with the brand as alt text instead of the brand name', async () => {
    const views = await createViews(theme({ logo: 'https://cdn.example/logo.svg?a=1&b="2"' }), options);
    const html = views.render('login', sample.login);
    const [img] = tags(html, 'img');
    assert.equal(attr(img ?? '', 'alt'), 'Acme Login');
    assert.equal(attr(img ?? '', 'src'), 'https:&#x2F;&#x2F;cdn.example&#x2F;logo.svg?a&#x3D;1&amp;b&#x3D;&quot;2&quot;');
    assert.doesNotMatch(html, /brand-name/);
  });

  it('escapes a hostile brand', async () => {
    const views = await createViews(theme({ brand: XSS, logo: 'https://x.example/l.png' }), options);
    const html = views.render('error', sample.error);
    assert.doesNotMatch(html, /<script|onerror=/);
  });

  it('renders German with lang="de", and English for unknown locales', async () => {
    const german = (await createViews(theme({ locale: 'de-DE' }), options)).render('login', sample.login);
    assert.match(german, /<html lang="de">/);
    assert.ok(german.includes(`<h1>${de.loginTitle}</h1>`));
    assert.ok(german.includes(de.loginUsername));
    const french = (await createViews(theme({ locale: 'fr' }), options)).render('login', sample.login);
    assert.match(french, /<html lang="en">/);
    assert.ok(french.includes(`<h1>${en.loginTitle}</h1>`));
  });

  it('uses the light-only stylesheet for mode light', async () => {
    const views = await createViews(theme({ mode: 'light', color: '#123456' }), options);
    assert.doesNotMatch(views.stylesheet.body, /prefers-color-scheme/);
    assert.match(views.stylesheet.body, /--accent: #123456;/);
  });
});

describe('template overrides', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-views-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const fresh = async (name: string): Promise<string> => {
    const path = join(dir, name);
    await mkdir(path);
    return path;
  };

  it('replaces the named pages and the layout, keeping the others built in', async () => {
    const path = await fresh('custom');
    await writeFile(join(path, 'login.html'), '<h1>Custom {{t.loginTitle}} for {{clientName}}</h1><i>{{login}}</i>');
    await writeFile(
      join(path, 'layout.html'),
      '<!doctype html>\n<html lang="{{lang}}"><title>{{title}}</title><main>{{> content}}</main></html>',
    );
    const views = await createViews(theme({ templates: path }), options);
    const login = views.render('login', { ...sample.login, login: XSS });
    assert.equal(
      login,
      '<!doctype html>\n<html lang="en"><title>Sign in</title><main><h1>Custom Sign in for Wiki</h1>' +
        '<i>&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2F;script&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;&#39;</i></main></html>',
    );
    // consent is not overridden: the built-in page inside the custom layout.
    const consent = views.render('consent', sample.consent);
    assert.match(consent, /^<!doctype html>\n<html lang="en"><title>Allow access\?<\/title><main><h1>Allow access\?<\/h1>/);
  });

  it('reads the directory once, at createViews', async () => {
    const path = await fresh('once');
    await writeFile(join(path, 'error.html'), '<h1>v1 {{title}}</h1>');
    const views = await createViews(theme({ templates: path }), options);
    await writeFile(join(path, 'error.html'), '<h1>v2 {{title}}</h1>');
    assert.match(views.render('error', sample.error), /<h1>v1 Request rejected<\/h1>/);
  });

  it('fails with ERR_IDENTITY_CONFIG naming a missing directory', async () => {
    const missing = join(dir, 'does-not-exist');
    await assert.rejects(createViews(theme({ templates: missing }), options), (err: unknown) => {
      assert.ok(err instanceof PortcullisError);
      assert.equal(err.code, 'ERR_IDENTITY_CONFIG');
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
  });

  it('fails when the path is a file', async () => {
    const file = join(dir, 'plain-file');
    await writeFile(file, 'x');
    await assert.rejects(createViews(theme({ templates: file }), options), /not a directory/);
  });

  it('fails naming a template that cannot be read', async () => {
    const path = await fresh('unreadable');
    await mkdir(join(path, 'consent.html')); // reading a directory fails with EISDIR, also as root
    await assert.rejects(createViews(theme({ templates: path }), options), (err: unknown) => {
      assert.ok(err instanceof PortcullisError);
      assert.equal(err.code, 'ERR_IDENTITY_CONFIG');
      assert.ok(err.message.includes(join(path, 'consent.html')), err.message);
      return true;
    });
  });

  it('fails naming a template that does not parse', async () => {
    const path = await fresh('broken');
    await writeFile(join(path, 'setup.html'), '<h1>{{#error}}unclosed</h1>');
    await assert.rejects(createViews(theme({ templates: path }), options), (err: unknown) => {
      assert.ok(err instanceof PortcullisError);
      assert.equal(err.code, 'ERR_IDENTITY_CONFIG');
      assert.ok(err.message.includes(join(path, 'setup.html')), err.message);
      return true;
    });
  });

  it('requires the layout to include the page', async () => {
    const path = await fresh('no-content');
    await writeFile(join(path, 'layout.html'), '<html><main>nothing</main></html>');
    await assert.rejects(createViews(theme({ templates: path }), options), /\{\{> content\}\}/);
  });

  it('rejects partials in pages, which could include themselves forever', async () => {
    const path = await fresh('recursive');
    await writeFile(join(path, 'logout.html'), '<h1>x</h1>{{#csrf}}{{> content}}{{/csrf}}');
    await assert.rejects(createViews(theme({ templates: path }), options), /may not include partials/);
  });
});
