/**
 * The built-in page templates, in Mustache syntax. They live in TypeScript because tsc copies
 * no .html files into dist.
 *
 * Rules every template here follows (and user templates should too):
 * - `{{x}}` only. Mustache escapes & < > " ' / ` = in it, so a value is safe in text and inside
 *   a double-quoted attribute. Never an unquoted attribute, never a URL scheme from user data.
 * - No inline script, style attribute or on* handler: the Content-Security-Policy
 *   (security-headers.ts) forbids them, and the pages work without JavaScript.
 * - One h1 per page; every input has a <label for>; forms post with a hidden `csrf` field
 *   (the logout form: `xsrf`, see below).
 *
 * The layout includes the page as the partial `{{> content}}`.
 */

/** The HTML document around every page: language, title, stylesheet, brand and <main>. */
export const layoutTemplate = `<!doctype html>
<html lang="{{lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{title}} – {{brand}}</title>
<link rel="stylesheet" href="{{stylesheet}}">
</head>
<body>
<header class="brand">
{{#logo}}<img class="brand-logo" src="{{logo}}" alt="{{brand}}">{{/logo}}{{^logo}}<p class="brand-name">{{brand}}</p>{{/logo}}
</header>
<main>
{{> content}}
</main>
</body>
</html>
`;

/** Fields: login, password. The password gets focus when the login is already filled in. */
export const loginTemplate = `<h1>{{t.loginTitle}}</h1>
<p class="intro">{{intro}}</p>
{{#error}}<p class="alert" id="form-error" role="alert">{{error}}</p>{{/error}}
<form method="post" action="{{action}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<div class="field">
<label for="login">{{t.loginUsername}}</label>
<input id="login" name="login" type="text" value="{{login}}" autocomplete="username" autocapitalize="none" spellcheck="false" required{{#error}} aria-invalid="true" aria-describedby="form-error"{{/error}}{{^login}} autofocus{{/login}}>
</div>
<div class="field">
<label for="password">{{t.loginPassword}}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{{#error}} aria-invalid="true" aria-describedby="form-error"{{/error}}{{#login}} autofocus{{/login}}>
</div>
<button type="submit" class="primary">{{t.loginSubmit}}</button>
</form>
`;

/**
 * Allow comes first in the focus order; Deny is its own submit button (decision=deny), so the
 * choice never depends on JavaScript. Neither button is autofocused: a page that opens this one
 * must not be able to turn a stray Enter key press into a grant.
 */
export const consentTemplate = `<h1>{{t.consentTitle}}</h1>
<p class="intro">{{intro}}</p>
{{#error}}<p class="alert" id="form-error" role="alert">{{error}}</p>{{/error}}
{{#hasScopes}}<p id="scopes-heading">{{t.consentScopesHeading}}</p>
<ul class="scopes" aria-labelledby="scopes-heading">
{{#scopes}}<li>{{description}}</li>
{{/scopes}}</ul>{{/hasScopes}}
<form method="post" action="{{action}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<div class="actions">
<button type="submit" class="primary" name="decision" value="allow">{{t.consentAllow}}</button>
<button type="submit" class="secondary" name="decision" value="deny">{{t.consentDeny}}</button>
</div>
</form>
`;

/**
 * Confirms sign-out; the form posts logout=yes. It posts to oidc-provider's end_session_confirm,
 * which reads its anti-CSRF secret from a field named `xsrf`, so here (only) the token goes there.
 */
export const logoutTemplate = `<h1>{{t.logoutTitle}}</h1>
<p class="intro">{{intro}}</p>
<form method="post" action="{{action}}">
<input type="hidden" name="xsrf" value="{{csrf}}">
<button type="submit" class="primary" name="logout" value="yes" autofocus>{{t.logoutSubmit}}</button>
</form>
`;

export const loggedOutTemplate = `<h1>{{t.loggedOutTitle}}</h1>
<p>{{message}}</p>
<p class="intro">{{t.loggedOutClose}}</p>
`;

export const errorTemplate = `<h1>{{title}}</h1>
<p>{{message}}</p>
{{#errorId}}<p class="error-id">{{t.errorIdLabel}}: <code>{{errorId}}</code></p>
<p class="hint">{{t.errorIdHint}}</p>{{/errorId}}
`;

/** Fields: username, email, displayName, password, passwordConfirm. */
export const setupTemplate = `<h1>{{t.setupTitle}}</h1>
<p class="intro">{{t.setupIntro}}</p>
{{#error}}<p class="alert" id="form-error" role="alert">{{error}}</p>{{/error}}
<form method="post" action="{{action}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<div class="field">
<label for="username">{{t.setupUsername}}</label>
<input id="username" name="username" type="text" value="{{username}}" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus{{#error}} aria-invalid="true" aria-describedby="form-error"{{/error}}>
</div>
<div class="field">
<label for="email">{{t.setupEmail}}</label>
<input id="email" name="email" type="email" value="{{email}}" autocomplete="email">
</div>
<div class="field">
<label for="displayName">{{t.setupDisplayName}}</label>
<input id="displayName" name="displayName" type="text" value="{{displayName}}" autocomplete="name">
</div>
<div class="field">
<label for="password">{{t.setupPassword}}</label>
<input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-hint">
<p class="hint" id="password-hint">{{t.setupPasswordHint}}</p>
</div>
<div class="field">
<label for="passwordConfirm">{{t.setupPasswordConfirm}}</label>
<input id="passwordConfirm" name="passwordConfirm" type="password" autocomplete="new-password" required>
</div>
<button type="submit" class="primary">{{t.setupSubmit}}</button>
</form>
`;

/** Built-in templates by file name stem (`<name>.html` in a templates directory overrides one). */
export const builtinTemplates = Object.freeze({
  layout: layoutTemplate,
  login: loginTemplate,
  consent: consentTemplate,
  logout: logoutTemplate,
  'logged-out': loggedOutTemplate,
  error: errorTemplate,
  setup: setupTemplate,
});
