/**
 * Every user-visible string of the identity provider's pages, per language.
 *
 * Placeholders are `{name}` and are filled by `formatString`; the result is a plain string that
 * the template engine escapes like any other value, so a placeholder value can never inject markup.
 */

/** The string table of one language. Keys are camelCase; each page's keys share its prefix. */
export interface Strings {
  // login
  loginTitle: string;
  loginIntro: string;
  loginIntroClient: string;
  loginUsername: string;
  loginPassword: string;
  loginSubmit: string;
  // consent
  consentTitle: string;
  consentIntro: string;
  consentScopesHeading: string;
  consentAllow: string;
  consentDeny: string;
  scopeOpenid: string;
  scopeProfile: string;
  scopeEmail: string;
  scopeGroups: string;
  scopeOfflineAccess: string;
  // logout
  logoutTitle: string;
  logoutIntro: string;
  logoutIntroClient: string;
  logoutSubmit: string;
  // logged-out
  loggedOutTitle: string;
  loggedOutMessage: string;
  loggedOutMessageClient: string;
  loggedOutClose: string;
  // error page
  errorTitle: string;
  errorMessage: string;
  errorIdLabel: string;
  errorIdHint: string;
  // setup (first administrator)
  setupTitle: string;
  setupIntro: string;
  setupUsername: string;
  setupEmail: string;
  setupDisplayName: string;
  setupPassword: string;
  setupPasswordConfirm: string;
  setupPasswordHint: string;
  setupSubmit: string;
  setupDoneTitle: string;
  setupDone: string;
  signedInTitle: string;
  signedInMessage: string;
  // error texts shown in a form's alert region. They are deliberately generic: the same text
  // for an unknown user, a wrong password and a disabled account, so that the page does not
  // tell an attacker which accounts exist (OWASP ASVS 2.2.x / WSTG-IDNT-04, account enumeration).
  errorInvalidCredentials: string;
  errorThrottled: string;
  errorThrottledOne: string;
  errorFormExpired: string;
  errorSessionExpired: string;
  errorMethod: string;
  errorRequired: string;
  errorPasswordMismatch: string;
  errorPasswordTooShort: string;
  errorUsernameInvalid: string;
  errorEmailInvalid: string;
  errorSetupInvalid: string;
  errorSetupLink: string;
}

/** English: the reference table; every other language falls back to it key by key. */
export const en: Strings = Object.freeze({
  loginTitle: 'Sign in',
  loginIntro: 'Sign in to continue.',
  loginIntroClient: 'Sign in to continue to {client}.',
  loginUsername: 'Username or email',
  loginPassword: 'Password',
  loginSubmit: 'Sign in',
  consentTitle: 'Allow access?',
  consentIntro: '{client} would like to access your account.',
  consentScopesHeading: 'It will be able to:',
  consentAllow: 'Allow',
  consentDeny: 'Deny',
  scopeOpenid: 'Confirm who you are',
  scopeProfile: 'See your name and profile',
  scopeEmail: 'See your email address',
  scopeGroups: 'See the groups you belong to',
  scopeOfflineAccess: 'Stay connected when you are not using it',
  logoutTitle: 'Sign out',
  logoutIntro: 'Do you want to sign out?',
  logoutIntroClient: 'Do you want to sign out of {client}?',
  logoutSubmit: 'Sign out',
  loggedOutTitle: 'Signed out',
  loggedOutMessage: 'You have been signed out.',
  loggedOutMessageClient: 'You have been signed out of {client}.',
  loggedOutClose: 'You can close this window now.',
  errorTitle: 'Something went wrong',
  errorMessage: 'The request could not be completed.',
  errorIdLabel: 'Error ID',
  errorIdHint: 'Please include this ID when you report the problem.',
  setupTitle: 'Create the administrator',
  setupIntro: 'No accounts exist yet. Create the first administrator account.',
  setupUsername: 'Username',
  setupEmail: 'Email',
  setupDisplayName: 'Display name',
  setupPassword: 'Password',
  setupPasswordConfirm: 'Confirm password',
  setupPasswordHint: 'Use a long passphrase that you do not use anywhere else.',
  setupSubmit: 'Create account',
  setupDoneTitle: 'Administrator created',
  setupDone: 'The administrator account has been created. You can now sign in.',
  signedInTitle: 'Signed in',
  signedInMessage: 'You are signed in as {user}.',
  errorInvalidCredentials: 'Incorrect username or password.',
  errorThrottled: 'Too many attempts. Try again in {minutes} minutes.',
  errorThrottledOne: 'Too many attempts. Try again in 1 minute.',
  errorFormExpired: 'This form has expired. Please try again.',
  errorSessionExpired: 'Your sign-in has expired. Please return to the application and start again.',
  errorMethod: 'This page does not accept this kind of request.',
  errorRequired: 'Please fill in all fields.',
  errorPasswordMismatch: 'The passwords do not match.',
  errorPasswordTooShort: 'The password must be at least {min} characters long.',
  errorUsernameInvalid: 'The username may contain only letters, digits, dots, hyphens and underscores.',
  errorEmailInvalid: 'Please enter a valid email address.',
  errorSetupInvalid: 'Please enter a username and a password of at least 8 characters.',
  errorSetupLink: 'This setup link is invalid or has already been used.',
});

/** German: complete, to prove that every page is localisable. */
export const de: Strings = Object.freeze({
  loginTitle: 'Anmelden',
  loginIntro: 'Melden Sie sich an, um fortzufahren.',
  loginIntroClient: 'Melden Sie sich an, um zu {client} zu gelangen.',
  loginUsername: 'Benutzername oder E-Mail',
  loginPassword: 'Passwort',
  loginSubmit: 'Anmelden',
  consentTitle: 'Zugriff erlauben?',
  consentIntro: '{client} möchte auf Ihr Konto zugreifen.',
  consentScopesHeading: 'Die Anwendung kann dann:',
  consentAllow: 'Erlauben',
  consentDeny: 'Ablehnen',
  scopeOpenid: 'Ihre Identität bestätigen',
  scopeProfile: 'Ihren Namen und Ihr Profil sehen',
  scopeEmail: 'Ihre E-Mail-Adresse sehen',
  scopeGroups: 'Ihre Gruppen sehen',
  scopeOfflineAccess: 'Verbunden bleiben, auch wenn Sie sie nicht nutzen',
  logoutTitle: 'Abmelden',
  logoutIntro: 'Möchten Sie sich abmelden?',
  logoutIntroClient: 'Möchten Sie sich von {client} abmelden?',
  logoutSubmit: 'Abmelden',
  loggedOutTitle: 'Abgemeldet',
  loggedOutMessage: 'Sie wurden abgemeldet.',
  loggedOutMessageClient: 'Sie wurden von {client} abgemeldet.',
  loggedOutClose: 'Sie können dieses Fenster jetzt schließen.',
  errorTitle: 'Etwas ist schiefgelaufen',
  errorMessage: 'Die Anfrage konnte nicht abgeschlossen werden.',
  errorIdLabel: 'Fehler-ID',
  errorIdHint: 'Bitte geben Sie diese ID an, wenn Sie das Problem melden.',
  setupTitle: 'Administrator anlegen',
  setupIntro: 'Es gibt noch keine Konten. Legen Sie das erste Administratorkonto an.',
  setupUsername: 'Benutzername',
  setupEmail: 'E-Mail',
  setupDisplayName: 'Anzeigename',
  setupPassword: 'Passwort',
  setupPasswordConfirm: 'Passwort bestätigen',
  setupPasswordHint: 'Verwenden Sie eine lange Passphrase, die Sie nirgends sonst nutzen.',
  setupSubmit: 'Konto anlegen',
  setupDoneTitle: 'Administrator angelegt',
  setupDone: 'Das Administratorkonto wurde angelegt. Sie können sich jetzt anmelden.',
  signedInTitle: 'Angemeldet',
  signedInMessage: 'Sie sind als {user} angemeldet.',
  errorInvalidCredentials: 'Benutzername oder Passwort ist falsch.',
  errorThrottled: 'Zu viele Versuche. Versuchen Sie es in {minutes} Minuten erneut.',
  errorThrottledOne: 'Zu viele Versuche. Versuchen Sie es in 1 Minute erneut.',
  errorFormExpired: 'Dieses Formular ist abgelaufen. Bitte versuchen Sie es erneut.',
  errorSessionExpired: 'Ihre Anmeldung ist abgelaufen. Bitte kehren Sie zur Anwendung zurück und beginnen Sie erneut.',
  errorMethod: 'Diese Seite akzeptiert diese Art von Anfrage nicht.',
  errorRequired: 'Bitte füllen Sie alle Felder aus.',
  errorPasswordMismatch: 'Die Passwörter stimmen nicht überein.',
  errorPasswordTooShort: 'Das Passwort muss mindestens {min} Zeichen lang sein.',
  errorUsernameInvalid:
    'Der Benutzername darf nur Buchstaben, Ziffern, Punkte, Bindestriche und Unterstriche enthalten.',
  errorEmailInvalid: 'Bitte geben Sie eine gültige E-Mail-Adresse ein.',
  errorSetupInvalid: 'Bitte geben Sie einen Benutzernamen und ein Passwort mit mindestens 8 Zeichen ein.',
  errorSetupLink: 'Dieser Einrichtungslink ist ungültig oder wurde bereits verwendet.',
});

/**
 * The languages we ship. Partial on purpose: a table added later may lack new keys, and those
 * fall back to English one by one instead of showing nothing.
 */
const catalog: ReadonlyMap<string, Partial<Strings>> = new Map<string, Partial<Strings>>([
  ['en', en],
  ['de', de],
]);

// Built once at load: every language completed with English (immutable, like the tables).
const complete: ReadonlyMap<string, Strings> = new Map(
  [...catalog].map(([lang, table]) => [lang, withFallback(table)] as const),
);

/** A locale resolved against the catalog: the table to use and the tag for `<html lang>`. */
export interface ResolvedStrings {
  /** The language tag the strings are in ("en" when the requested locale is unknown). */
  lang: string;
  t: Strings;
}

/**
 * The strings for a BCP 47 locale tag (`de`, `de-AT`, `de_DE`, any case): the exact language if
 * we have it, else its primary subtag, else English; missing keys fall back to English.
 */
export function resolveStrings(locale: string): ResolvedStrings {
  const lang = resolveLanguage(locale);
  return { lang, t: complete.get(lang) ?? en };
}

/** A complete, frozen table: `table`'s non-empty strings, English for every other key. */
export function withFallback(table: Partial<Strings>): Strings {
  const t = { ...en } as Record<keyof Strings, string>;
  for (const key of Object.keys(en) as (keyof Strings)[]) {
    const value = Object.hasOwn(table, key) ? table[key] : undefined;
    if (typeof value === 'string' && value !== '') t[key] = value;
  }
  return Object.freeze(t);
}

/** The strings for a locale, falling back per key to English (see `resolveStrings`). */
export function stringsFor(locale: string): Strings {
  return resolveStrings(locale).t;
}

function resolveLanguage(locale: string): string {
  const tag = locale.trim().toLowerCase().replaceAll('_', '-');
  if (catalog.has(tag)) return tag;
  const primary = tag.split('-')[0] ?? '';
  return catalog.has(primary) ? primary : 'en';
}

/**
 * Fills `{name}` placeholders from `values`; unknown placeholders stay as they are. Values are
 * inserted literally (a replacer function, so `$&` and friends in a value are not special).
 */
export function formatString(template: string, values: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{([a-zA-Z][a-zA-Z0-9]*)\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

/** The throttling message for a wait of `minutes` (rounded up, at least 1). */
export function throttledMessage(t: Strings, minutes: number): string {
  const whole = Number.isFinite(minutes) ? Math.max(1, Math.ceil(minutes)) : 1;
  return whole === 1 ? t.errorThrottledOne : formatString(t.errorThrottled, { minutes: whole });
}
