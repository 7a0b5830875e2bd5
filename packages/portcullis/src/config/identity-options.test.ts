/**
 * The global `identity` block, the `database` option and the `identity_provider` directive,
 * through the real parser and adapter: every rule, good and bad, with the error text as a
 * user sees it (`file:line: directive: message`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config, IdentityConfig, SiteAddress } from './types.ts';
import { validateConfig } from './validate-json.ts';
import { deriveIssuer } from './directives/identity-provider.ts';
import { adaptTestCaddyfile, caddyfileErrors, TEST_CADDYFILE } from '../../test/support/config-errors.ts';

const errorsOf = (text: string): string[] => caddyfileErrors(text, { env: ENV });
const adaptWithEnv = (text: string): Config => adaptTestCaddyfile(text, ENV);
const SECRET = 'grafana-secret-0123456789';
const ENV = { GRAFANA_OIDC_SECRET: SECRET, EMPTY: '' };


/** Every error, with the config's directory left out. */

const SITE = 'auth.example.com {\n\tidentity_provider\n}\n';

/**
 * A config whose identity block holds `lines` (one per line, from line 3 on) and one site
 * serving identity_provider.
 */
function withIdentity(lines: string[], site = SITE): string {
  return `{\n\tidentity {\n${lines.map((l) => `\t\t${l}\n`).join('')}\t}\n}\n${site}`;
}

function identityOf(lines: string[], site = SITE): IdentityConfig {
  const config = adaptWithEnv(withIdentity(lines, site));
  assert.ok(config.identity !== null);
  // What the adapter produces is a valid JSON config, and reads back unchanged.
  assert.deepEqual(validateConfig(config), JSON.parse(JSON.stringify(config)));
  return config.identity;
}

/** A client block (from line 3): the client's lines are on lines 4, 5, ... */
function client(id: string, lines: string[]): string[] {
  return [`client ${id} {`, ...lines.map((l) => `\t${l}`), '}'];
}

const GOOD_CLIENT = ['secret {$GRAFANA_OIDC_SECRET}', 'redirect_uri https://grafana.example.com/login/generic_oauth'];

describe('identity block: defaults and the full syntax', () => {
  it('an empty block gives every default', () => {
    const identity = identityOf([]);
    assert.deepEqual(identity, {
      issuer: null,
      accessTokenTtlMs: 600_000,
      idTokenTtlMs: 3_600_000,
      refreshTokenTtlMs: 30 * 86_400_000,
      sessionTtlMs: 14 * 86_400_000,
      cookie: { domain: null, name: 'portcullis' },
      theme: { brand: 'Portcullis', logo: null, color: null, mode: 'auto', templates: null, locale: 'en' },
      claims: [],
      clients: [],
      source: { file: TEST_CADDYFILE, line: 2 },
    });
  });

  it('reads every option', () => {
    const identity = identityOf([
      'issuer https://Auth.Example.com:443/',
      'access_token_ttl 5m',
      'id_token_ttl 30m',
      'refresh_token_ttl 7d',
      'session_ttl 1d',
      'cookie {',
      '\tdomain .Example.com',
      '\tname pc_session',
      '}',
      'theme {',
      '\tbrand "Example Inc"',
      '\tlogo https://example.com/logo.svg',
      '\tcolor "#0B6BCB"',
      '\tmode dark',
      '\ttemplates ./login-templates',
      '\tlocale pt-BR',
      '}',
      'claim tenant',
      'claim roles from app_roles scope roles',
      ...client('grafana', [
        'name "Grafana"',
        'secret {$GRAFANA_OIDC_SECRET}',
        'redirect_uri https://grafana.example.com/login/generic_oauth https://grafana.example.com/alt',
        'redirect_uri https://grafana.example.com/third',
        'post_logout_redirect_uri https://grafana.example.com/login',
        'scopes openid profile email groups roles',
        'grant_types authorization_code refresh_token client_credentials',
        'first_party',
        'signing_alg ES256',
        'backchannel_logout_uri https://grafana.example.com/backchannel',
      ]),
      ...client('cli-tool', ['public', 'redirect_uri http://127.0.0.1:8400/callback com.example.app:/callback http://[::1]/cb http://localhost:9/cb']),
    ]);
    assert.equal(identity.issuer, 'https://auth.example.com', 'the origin, without a trailing slash or the default port');
    assert.deepEqual([identity.accessTokenTtlMs, identity.idTokenTtlMs, identity.refreshTokenTtlMs, identity.sessionTtlMs], [300_000, 1_800_000, 7 * 86_400_000, 86_400_000]);
    assert.deepEqual(identity.cookie, { domain: 'example.com', name: 'pc_session' });
    assert.deepEqual(identity.theme, { brand: 'Example Inc', logo: 'https://example.com/logo.svg', color: '#0b6bcb', mode: 'dark', templates: '/etc/portcullis/login-templates', locale: 'pt-BR' });
    assert.deepEqual(identity.claims, [
      { claim: 'tenant', attribute: 'tenant', scope: 'profile' },
      { claim: 'roles', attribute: 'app_roles', scope: 'roles' },
    ]);
    const [grafana, cli] = identity.clients;
    assert.deepEqual(grafana, {
      id: 'grafana',
      name: 'Grafana',
      secret: SECRET,
      public: false,
      redirectUris: ['https://grafana.example.com/login/generic_oauth', 'https://grafana.example.com/alt', 'https://grafana.example.com/third'],
      postLogoutRedirectUris: ['https://grafana.example.com/login'],
      scopes: ['openid', 'profile', 'email', 'groups', 'roles'],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      firstParty: true,
      signingAlg: 'ES256',
      backchannelLogoutUri: 'https://grafana.example.com/backchannel',
      source: { file: TEST_CADDYFILE, line: 22 },
    });
    assert.deepEqual(cli, {
      id: 'cli-tool',
      name: null,
      secret: null,
      public: true,
      redirectUris: ['http://127.0.0.1:8400/callback', 'com.example.app:/callback', 'http://[::1]/cb', 'http://localhost:9/cb'],
      postLogoutRedirectUris: [],
      scopes: ['openid', 'profile', 'email', 'groups'],
      grantTypes: ['authorization_code', 'refresh_token'],
      firstParty: false,
      signingAlg: 'RS256',
      backchannelLogoutUri: null,
      source: { file: TEST_CADDYFILE, line: 34 },
    });
  });

  it('redirect URIs are kept exactly as written (matching is exact, later)', () => {
    const uris = ['https://App.Example.com:443/cb/../x?a=1&b', 'https://app.example.com/cb/', 'https://app.example.com/%7Euser'];
    const identity = identityOf(client('app', ['secret {$GRAFANA_OIDC_SECRET}', `redirect_uri ${uris.join(' ')}`]));
    assert.deepEqual(identity.clients[0]!.redirectUris, uris);
  });

  it('identity block and unknown names: did you mean', () => {
    assert.deepEqual(errorsOf(withIdentity(['isuer https://auth.example.com', 'cookie {', '\tdomian example.com', '}', ...client('a', [...GOOD_CLIENT, 'redirect_url https://x.example.com/cb'])])), [
      'Caddyfile:3: identity: unknown subdirective "isuer" (did you mean "issuer"?)',
      'Caddyfile:5: identity: cookie: unknown subdirective "domian" (did you mean "domain"?)',
      'Caddyfile:10: client a: unknown subdirective "redirect_url" (did you mean "redirect_uri"?)',
    ]);
    assert.deepEqual(errorsOf('{\n\tidentty {\n\t}\n}\n'), ['Caddyfile:2: identty: unknown global option (did you mean "identity"?)']);
  });

  it('the block is given once, as a block, without arguments', () => {
    assert.deepEqual(errorsOf(`{\n\tidentity x {\n\t}\n\tidentity {\n\t}\n}\n${SITE}`), [
      'Caddyfile:2: identity: expected 0 arguments, got 1 (usage: identity { ... })',
      'Caddyfile:4: identity: already set at /etc/portcullis/Caddyfile:2; write it once',
    ]);
    assert.deepEqual(errorsOf(`{\n\tidentity\n}\n${SITE}`), ['Caddyfile:2: identity: expected a block: identity { issuer <url> ... }']);
    assert.deepEqual(errorsOf(withIdentity(['issuer https://a.example.com', 'issuer https://b.example.com'])), ['Caddyfile:4: identity: issuer is already set at /etc/portcullis/Caddyfile:3']);
  });
});

describe('identity block: issuer', () => {
  const issuer = (text: string) => identityOf([`issuer ${text}`]).issuer;
  const issuerError = (text: string) => errorsOf(withIdentity([`issuer ${text}`]));

  it('accepts https origins and http on loopback, stored without the trailing slash', () => {
    assert.equal(issuer('https://auth.example.com/'), 'https://auth.example.com');
    assert.equal(issuer('https://auth.example.com:8443'), 'https://auth.example.com:8443');
    assert.equal(issuer('http://localhost:8080'), 'http://localhost:8080');
    assert.equal(issuer('http://127.0.0.1:9000/'), 'http://127.0.0.1:9000');
    assert.equal(issuer('http://[::1]:9000'), 'http://[::1]:9000');
  });

  it('refuses anything that is not an origin', () => {
    const cases: [string, string][] = [
      ['https://auth.example.com/oidc', 'issuer "https://auth.example.com/oidc" must be an origin (scheme, host and optional port) without a path'],
      ['https://auth.example.com/.', 'issuer "https://auth.example.com/." must be an origin (scheme, host and optional port) without a path'],
      ['https://auth.example.com?x=1', 'issuer "https://auth.example.com?x=1" must not have a query'],
      ['https://auth.example.com/#top', 'issuer "https://auth.example.com/#top" must not have a #fragment'],
      ['https://admin@auth.example.com', 'issuer "https://admin@auth.example.com" must not contain a user name or password'],
      ['http://auth.example.com', 'issuer "http://auth.example.com" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])'],
      ['ftp://auth.example.com', 'issuer "ftp://auth.example.com" must use https'],
      ['auth.example.com', 'issuer "auth.example.com" is not an absolute URL (e.g. https://auth.example.com)'],
      ['https://auth.example.com\\evil.example', 'issuer "https://auth.example.com\\\\evil.example" contains spaces, control characters or a backslash'],
    ];
    for (const [text, message] of cases) assert.deepEqual(issuerError(text), [`Caddyfile:3: identity: ${message}`], text);
  });
});

describe('identity block: durations', () => {
  it('each must be a positive duration, and refresh tokens outlive access tokens', () => {
    assert.deepEqual(errorsOf(withIdentity(['access_token_ttl 0', 'id_token_ttl -1h', 'session_ttl soon', 'refresh_token_ttl'])), [
      'Caddyfile:3: identity: access_token_ttl: must be longer than 0',
      'Caddyfile:4: identity: id_token_ttl: duration "-1h" must not be negative',
      'Caddyfile:5: identity: session_ttl: invalid duration "soon" (expected forms like 250ms, 10s, 1m30s, 2h, 1d)',
      'Caddyfile:6: identity: refresh_token_ttl: expected 1 argument, got 0 (usage: refresh_token_ttl <duration>)',
    ]);
    assert.deepEqual(errorsOf(withIdentity(['access_token_ttl 2h', 'refresh_token_ttl 1h'])), ['Caddyfile:4: identity: refresh_token_ttl must not be shorter than access_token_ttl']);
    assert.deepEqual(errorsOf(withIdentity(['access_token_ttl 31d'])), ['Caddyfile:2: identity: refresh_token_ttl must not be shorter than access_token_ttl']);
    assert.equal(identityOf(['access_token_ttl 1h', 'refresh_token_ttl 1h']).refreshTokenTtlMs, 3_600_000);
  });
});

describe('identity block: cookie', () => {
  const cookie = (lines: string[]) => withIdentity(['cookie {', ...lines.map((l) => `\t${l}`), '}']);

  it('accepts a registrable domain (lower-cased, no leading dot) and a token name', () => {
    assert.deepEqual(identityOf(['cookie {', '\tdomain .Example.CO', '}']).cookie, { domain: 'example.co', name: 'portcullis' });
    assert.deepEqual(identityOf(['cookie {', '\tdomain sub.example.co.uk', '\tname my-app_1', '}']).cookie, { domain: 'sub.example.co.uk', name: 'my-app_1' });
  });

  it('refuses IPs, localhost, one-label names and public suffixes', () => {
    const cases: [string, string][] = [
      ['192.168.1.10', 'cookie domain "192.168.1.10" must be a domain name, not an IP address'],
      ['[::1]', 'cookie domain "[::1]" must be a domain name, not an IP address'],
      ['localhost', 'cookie domain "localhost": browsers refuse cookies for localhost domains; leave domain unset'],
      ['app.localhost', 'cookie domain "app.localhost": browsers refuse cookies for localhost domains; leave domain unset'],
      ['com', 'cookie domain "com" needs at least two labels (e.g. example.com)'],
      ['co.uk', 'cookie domain "co.uk" is a public suffix: the cookie would be sent to every site under it'],
      ['github.io', 'cookie domain "github.io" is a public suffix: the cookie would be sent to every site under it'],
      ['exa mple.com', 'cookie domain "exa mple.com" is not a domain name'],
      ['example.123', 'cookie domain "example.123" is not a domain name'],
    ];
    for (const [domain, message] of cases) assert.deepEqual(errorsOf(cookie([`domain "${domain}"`])), [`Caddyfile:4: identity: ${message}`], domain);
  });

  it('refuses names outside token characters and the reserved prefixes', () => {
    assert.deepEqual(errorsOf(cookie(['name "a;b"', 'name x'])), [
      'Caddyfile:4: identity: cookie name "a;b" may only contain letters, digits, _ and - (at most 64)',
      'Caddyfile:5: identity: cookie name is already set at /etc/portcullis/Caddyfile:4',
    ]);
    assert.deepEqual(errorsOf(cookie(['name __Host-sid'])), ['Caddyfile:4: identity: cookie name "__Host-sid": the __Host- and __Secure- prefixes are added by the server, leave them out']);
  });

  it('the domain must cover the issuer host', () => {
    assert.deepEqual(errorsOf(withIdentity(['issuer https://auth.example.org', 'cookie {', '\tdomain example.com', '}'])), [
      "Caddyfile:5: identity: cookie domain example.com does not cover the issuer's host auth.example.org: browsers would refuse the cookie",
    ]);
    assert.equal(identityOf(['issuer https://example.com', 'cookie {', '\tdomain example.com', '}']).cookie.domain, 'example.com');
  });
});

describe('identity block: theme', () => {
  const theme = (lines: string[]) => withIdentity(['theme {', ...lines.map((l) => `\t${l}`), '}']);

  it('accepts colours, logos and locales in the allowed forms', () => {
    assert.equal(identityOf(['theme {', '\tcolor "#abc"', '}']).theme.color, '#abc');
    assert.equal(identityOf(['theme {', '\tlogo /static/logo.png', '}']).theme.logo, '/static/logo.png');
    assert.equal(identityOf(['theme {', '\tlocale de', '\tmode light', '}']).theme.locale, 'de');
  });

  it('refuses values that could inject markup or script', () => {
    const cases: [string, string][] = [
      ['color "#0b6bcb;background:url(x)"', 'color "#0b6bcb;background:url(x)" must be #rgb or #rrggbb (e.g. "#0b6bcb")'],
      ['color red', 'color "red" must be #rgb or #rrggbb (e.g. "#0b6bcb")'],
      ['color "#12345"', 'color "#12345" must be #rgb or #rrggbb (e.g. "#0b6bcb")'],
      ['logo javascript:alert(1)', 'logo "javascript:alert(1)" contains spaces, quotes, brackets or parentheses'],
      ['logo javascript:alert', 'logo "javascript:alert" must be an https:// URL or a path starting with / (on this site)'],
      ['logo data:image/svg+xml;base64,AAAA', 'logo "data:image/svg+xml;base64,AAAA" must be an https:// URL or a path starting with / (on this site)'],
      ['logo http://example.com/logo.svg', 'logo "http://example.com/logo.svg" must be an https:// URL or a path starting with / (on this site)'],
      ['logo //evil.example/logo.svg', 'logo "//evil.example/logo.svg" must be an https:// URL or a path starting with / (on this site)'],
      ['logo "https://example.com/a\\"onerror=x"', 'logo "https://example.com/a\\"onerror=x" contains spaces, quotes, brackets or parentheses'],
      ['logo https:example.com/logo.svg', 'logo "https:example.com/logo.svg" must be an https:// URL or a path starting with / (on this site)'],
      ['logo https://user@example.com/logo.svg', 'logo "https://user@example.com/logo.svg" must be an https:// URL or a path starting with / (on this site)'],
      ['locale english', 'locale "english" must look like en or pt-BR'],
      ['locale en-us', 'locale "en-us" must look like en or pt-BR'],
      ['mode drak', 'mode: expected auto, light or dark, got "drak" (did you mean "dark"?)'],
      ['brand ""', 'brand must be 1 to 100 printable characters'],
    ];
    for (const [line, message] of cases) assert.deepEqual(errorsOf(theme([line])), [`Caddyfile:4: identity: ${message}`], line);
  });

  it('an unquoted colour is a comment: the error says to quote it', () => {
    assert.deepEqual(errorsOf(theme(['color #0b6bcb'])), ['Caddyfile:4: identity: color needs a value in quotes, since an unquoted # starts a comment: color "#0b6bcb"']);
  });

  it('templates is a directory made absolute against the config file', () => {
    assert.equal(identityOf(['theme {', '\ttemplates ../shared/templates', '}']).theme.templates, '/etc/shared/templates');
    assert.equal(identityOf(['theme {', '\ttemplates /srv/templates', '}']).theme.templates, '/srv/templates');
  });
});

describe('identity block: custom claims', () => {
  it('name, attribute and scope forms', () => {
    assert.deepEqual(identityOf(['claim tenant scope org', 'claim dept from department']).claims, [
      { claim: 'tenant', attribute: 'tenant', scope: 'org' },
      { claim: 'dept', attribute: 'department', scope: 'profile' },
    ]);
  });

  it('refuses reserved claims, bad names, duplicates and bad syntax', () => {
    assert.deepEqual(
      errorsOf(withIdentity(['claim sub', 'claim email_verified from verified', 'claim Groups', 'claim 1x', 'claim ok from __proto__', 'claim ok2 scope "a b"', 'claim t', 'claim t', 'claim u to x', 'claim'])),
      [
        'Caddyfile:3: identity: claim "sub" is reserved: the provider sets it, a user attribute may not',
        'Caddyfile:4: identity: claim "email_verified" is reserved: the provider sets it, a user attribute may not',
        'Caddyfile:5: identity: claim "Groups" is reserved: the provider sets it, a user attribute may not',
        'Caddyfile:6: identity: claim name "1x" must be a letter or _ followed by letters, digits or _ (at most 64)',
        'Caddyfile:7: identity: attribute name "__proto__" must be a letter or _ followed by letters, digits or _ (at most 64)',
        'Caddyfile:8: identity: scope "a b" may only contain printable ASCII characters other than " and \\ (RFC 6749)',
        'Caddyfile:10: identity: claim t is already defined at /etc/portcullis/Caddyfile:9',
        'Caddyfile:11: identity: claim: unexpected "to" (usage: claim <name> [from <attribute>] [scope <scope>])',
        'Caddyfile:12: identity: claim: expected a claim name (usage: claim <name> [from <attribute>] [scope <scope>])',
      ],
    );
  });
});

describe('identity block: clients', () => {
  it('the id is checked and unique', () => {
    assert.deepEqual(errorsOf(withIdentity([...client('a', GOOD_CLIENT), ...client('a', GOOD_CLIENT), ...client('"a b"', GOOD_CLIENT)])), [
      'Caddyfile:7: client a: client a is already defined at /etc/portcullis/Caddyfile:3',
      'Caddyfile:11: client: client id "a b" may only contain letters, digits and . _ ~ - (at most 128)',
    ]);
    assert.deepEqual(errorsOf(withIdentity(['client {', '}'])), ['Caddyfile:3: client: expected 1 argument, got 0 (usage: client <id> { ... })']);
  });

  it('a confidential client needs a secret of 16 characters or more, never shown', () => {
    assert.deepEqual(errorsOf(withIdentity(client('a', ['redirect_uri https://a.example.com/cb']))), ['Caddyfile:3: client a: needs a secret (or `public` for an app that cannot keep one; it then must use PKCE)']);
    const errors = errorsOf(withIdentity([...client('a', ['secret {$EMPTY}', 'redirect_uri https://a.example.com/cb']), ...client('b', ['secret "{$UNSET}"', 'redirect_uri https://a.example.com/cb']), ...client('c', ['secret tooShort123', 'redirect_uri https://a.example.com/cb']), ...client('d', ['secret two words-of-secret-text', 'redirect_uri https://a.example.com/cb'])]));
    assert.deepEqual(errors, [
      'Caddyfile:4: client a: secret is empty (if it comes from {$VAR}, is the variable set? a value starting with # needs quotes)',
      'Caddyfile:8: client b: secret is empty (if it comes from {$VAR}, is the variable set? a value starting with # needs quotes)',
      'Caddyfile:12: client c: secret is shorter than 16 characters (generate one with: openssl rand -base64 32)',
      'Caddyfile:16: client d: secret: expected one value, got 2 (quote it if it contains spaces: secret "{$VAR}")',
    ]);
    for (const e of errors) assert.ok(!e.includes('tooShort123') && !e.includes('words-of-secret'), 'the secret is never in a message');
  });

  it('public and secret exclude each other; public clients cannot use client_credentials', () => {
    assert.deepEqual(errorsOf(withIdentity(client('spa', ['public', ...GOOD_CLIENT]))), ['Caddyfile:3: client spa: public and secret exclude each other: a public client (browser or native app) cannot keep a secret']);
    assert.deepEqual(errorsOf(withIdentity(client('spa', ['public', 'redirect_uri https://a.example.com/cb', 'grant_types authorization_code client_credentials']))), [
      'Caddyfile:3: client spa: grant_types: client_credentials is not allowed for a public client (it has no secret to authenticate with)',
    ]);
    assert.deepEqual(errorsOf(withIdentity(client('spa', ['public', 'public', 'redirect_uri https://a.example.com/cb']))), ['Caddyfile:5: client spa: public is already set at /etc/portcullis/Caddyfile:4']);
  });

  it('grant types, scopes and the redirect URI they require', () => {
    assert.deepEqual(
      errorsOf(withIdentity([...client('a', ['secret {$GRAFANA_OIDC_SECRET}']), ...client('b', [...GOOD_CLIENT, 'scopes profile email']), ...client('c', [...GOOD_CLIENT, 'grant_types refresh_token']), ...client('d', [...GOOD_CLIENT, 'grant_types implicit password'])])),
      [
        'Caddyfile:3: client a: needs a redirect_uri: the authorization_code grant redirects back to it',
        'Caddyfile:6: client b: scopes must include openid for the authorization_code grant',
        'Caddyfile:11: client c: grant_types: refresh_token needs authorization_code (refresh tokens are issued with an authorization code)',
        'Caddyfile:19: client d: grant_types: unknown grant type "implicit" (expected authorization_code, refresh_token, client_credentials)',
        'Caddyfile:19: client d: grant_types: unknown grant type "password" (expected authorization_code, refresh_token, client_credentials)',
      ],
    );
    const machine = identityOf(client('svc', ['secret {$GRAFANA_OIDC_SECRET}', 'grant_types client_credentials'])).clients[0]!;
    assert.deepEqual(machine.grantTypes, ['client_credentials'], 'a machine client needs no redirect_uri');
  });

  it('scopes may be the standard ones or those of custom claims', () => {
    assert.deepEqual(identityOf(['claim roles from app_roles scope roles', ...client('a', [...GOOD_CLIENT, 'scopes openid roles offline_access openid'])]).clients[0]!.scopes, ['openid', 'roles', 'offline_access']);
    assert.deepEqual(errorsOf(withIdentity([...client('a', [...GOOD_CLIENT, 'scopes openid rolse']), 'claim roles scope roles'])), [
      'Caddyfile:6: client a: scopes: unknown scope "rolse" (did you mean "roles"?) (custom scopes come from claim ... scope <name>)',
    ]);
  });

  it('signing_alg, name, first_party', () => {
    assert.deepEqual(errorsOf(withIdentity(client('a', [...GOOD_CLIENT, 'signing_alg HS256', 'first_party yes', 'name ""']))), [
      'Caddyfile:6: client a: signing_alg: expected RS256, ES256 or EdDSA, got "HS256" (did you mean "RS256"?)',
      'Caddyfile:7: client a: first_party: expected 0 arguments, got 1 (usage: first_party)',
      'Caddyfile:8: client a: name must be 1 to 100 printable characters',
    ]);
    assert.equal(identityOf(client('a', [...GOOD_CLIENT, 'signing_alg EdDSA'])).clients[0]!.signingAlg, 'EdDSA');
  });
});

describe('identity block: client URIs', () => {
  const uriErrors = (lines: string[]) => errorsOf(withIdentity(client('app', lines)));

  it('redirect_uri: https, or http on loopback; no fragment, no user info, not relative', () => {
    const cases: [string, string][] = [
      ['http://app.example.com/cb', 'redirect_uri "http://app.example.com/cb" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])'],
      ['https://app.example.com/cb#x', 'redirect_uri "https://app.example.com/cb#x" must not have a #fragment'],
      ['https://app.example.com/cb#', 'redirect_uri "https://app.example.com/cb#" must not have a #fragment'],
      ['https://a@b.example.com/cb', 'redirect_uri "https://a@b.example.com/cb" must not contain a user name or password'],
      ['https://good.example.com:x@evil.example/cb', 'redirect_uri "https://good.example.com:x@evil.example/cb" must not contain a user name or password'],
      ['/callback', 'redirect_uri "/callback" is not an absolute URL'],
      ['javascript:alert(1)', 'redirect_uri "javascript:alert(1)" must use https (or, for a public client, a private-use scheme such as com.example.app:/callback)'],
      ['https://app.example.com\\@evil.example/', 'redirect_uri "https://app.example.com\\\\@evil.example/" contains spaces, control characters or a backslash'],
      ['com.example.app:/callback', 'redirect_uri "com.example.app:/callback": a private-use scheme is allowed only for public clients (RFC 8252 §7.1)'],
      ['https:app.example.com/cb', 'redirect_uri "https:app.example.com/cb" must start with https:// and a host'],
      ['https:///app.example.com/cb', 'redirect_uri "https:///app.example.com/cb" must start with https:// and a host'],
      ['http://localhost.evil.example/cb', 'redirect_uri "http://localhost.evil.example/cb" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])'],
      ['http://127.0.0.1.nip.io/cb', 'redirect_uri "http://127.0.0.1.nip.io/cb" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])'],
    ];
    for (const [uri, message] of cases) assert.deepEqual(uriErrors(['secret {$GRAFANA_OIDC_SECRET}', `redirect_uri "${uri}"`]), [`Caddyfile:5: client app: ${message}`], uri);
  });

  it('public clients: private-use schemes in reverse-domain form with a single slash', () => {
    assert.deepEqual(uriErrors(['redirect_uri com.example.app://callback myapp:/cb', 'public']), [
      'Caddyfile:4: client app: redirect_uri "com.example.app://callback": a private-use scheme is followed by a single slash (e.g. com.example.app:/callback)',
      'Caddyfile:4: client app: redirect_uri "myapp:/cb" must use https (or, for a public client, a private-use scheme such as com.example.app:/callback)',
    ]);
  });

  it('the same URI twice is an error', () => {
    assert.deepEqual(uriErrors(['secret {$GRAFANA_OIDC_SECRET}', 'redirect_uri https://a.example.com/cb', 'redirect_uri https://a.example.com/cb']), ['Caddyfile:6: client app: redirect_uri "https://a.example.com/cb" is listed twice']);
  });

  it('post-logout and back-channel URIs follow the same rules; back-channel never a private scheme', () => {
    assert.deepEqual(
      uriErrors([...GOOD_CLIENT, 'post_logout_redirect_uri http://app.example.com/bye', 'backchannel_logout_uri http://app.example.com/bc', 'backchannel_logout_uri https://x.example.com/bc']),
      [
        'Caddyfile:6: client app: post_logout_redirect_uri "http://app.example.com/bye" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])',
        'Caddyfile:7: client app: backchannel_logout_uri "http://app.example.com/bc" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])',
        'Caddyfile:8: client app: backchannel_logout_uri is already set at /etc/portcullis/Caddyfile:7',
      ],
    );
    assert.deepEqual(uriErrors(['public', 'redirect_uri com.example.app:/cb', 'backchannel_logout_uri com.example.app:/bc']), ['Caddyfile:6: client app: backchannel_logout_uri "com.example.app:/bc" must use https']);
    const ok = identityOf(client('app', ['public', 'redirect_uri com.example.app:/cb', 'post_logout_redirect_uri com.example.app:/bye', 'backchannel_logout_uri http://127.0.0.1:7000/bc'])).clients[0]!;
    assert.deepEqual([ok.postLogoutRedirectUris, ok.backchannelLogoutUri], [['com.example.app:/bye'], 'http://127.0.0.1:7000/bc']);
  });
});

describe('database option', () => {
  it('sqlite with a default or a path made absolute against the config file', () => {
    assert.deepEqual(adaptWithEnv('{\n\tdatabase sqlite\n}\n:8080 {\n\trespond ok\n}\n').database, { driver: 'sqlite', path: null });
    assert.deepEqual(adaptWithEnv('{\n\tdatabase sqlite data/portcullis.db\n}\n:8080 {\n\trespond ok\n}\n').database, { driver: 'sqlite', path: '/etc/portcullis/data/portcullis.db' });
    assert.deepEqual(adaptWithEnv(':8080 {\n\trespond ok\n}\n').database, { driver: 'sqlite', path: null });
  });

  it('refuses other drivers, extra arguments and a second database line', () => {
    assert.deepEqual(errorsOf('{\n\tdatabase postgres\n\tdatabase sqlite a b\n\tdatabase\n}\n:8080 {\n\trespond ok\n}\n'), [
      'Caddyfile:2: database: unknown database driver "postgres" (only sqlite is supported)',
      'Caddyfile:3: database: already set at /etc/portcullis/Caddyfile:2; write it once',
      'Caddyfile:4: database: already set at /etc/portcullis/Caddyfile:2; write it once',
    ]);
    assert.deepEqual(errorsOf('{\n\tdatabase sqlit x y\n}\n:8080 {\n\trespond ok\n}\n'), ['Caddyfile:2: database: expected 1 to 2 arguments, got 3 (usage: database sqlite [<path>])']);
  });
});

describe('identity_provider directive', () => {
  it('adds a route with the handler, ordered with the terminal handlers', () => {
    const config = adaptWithEnv('auth.example.com {\n\treverse_proxy localhost:9000\n\tidentity_provider\n\trespond /health ok\n\theader X-A b\n}\n');
    assert.deepEqual(
      config.sites[0]!.routes.map((r) => r.handle[0]!.handler),
      ['headers', 'static_response', 'identity_provider', 'reverse_proxy'],
    );
    assert.deepEqual(config.sites[0]!.routes[2], { handle: [{ handler: 'identity_provider' }], source: { file: TEST_CADDYFILE, line: 3 } });
  });

  it('without an identity block, the identity settings are the defaults, located at the directive', () => {
    const config = adaptWithEnv(SITE);
    assert.equal(config.identity?.issuer, null);
    assert.deepEqual(config.identity?.source, { file: TEST_CADDYFILE, line: 2 });
    assert.deepEqual(config.identity?.clients, []);
    assert.equal(adaptWithEnv(':8080 {\n\trespond ok\n}\n').identity, null, 'no identity_provider, no identity block: null');
  });

  it('takes no arguments, matcher or block, and only directly in a site, once', () => {
    assert.deepEqual(errorsOf('auth.example.com {\n\tidentity_provider /oidc/*\n}\n'), [
      'Caddyfile:2: identity_provider: takes no arguments and no matcher: it serves fixed OpenID paths (/.well-known/openid-configuration, /auth, /token, ...) on the whole site; configure it in the global identity block',
    ]);
    assert.deepEqual(errorsOf('auth.example.com {\n\tidentity_provider {\n\t\tissuer x\n\t}\n}\n'), ['Caddyfile:2: identity_provider: does not take a block: its settings go in the global identity { ... } block']);
    assert.deepEqual(errorsOf('auth.example.com {\n\thandle /login* {\n\t\tidentity_provider\n\t}\n}\n'), [
      'Caddyfile:3: identity_provider: can only be used directly in a site block, not inside handle, handle_path, route or handle_errors: it serves fixed paths on the whole site',
    ]);
    assert.deepEqual(errorsOf('auth.example.com {\n\tidentity_provider\n\tidentity_provider\n}\n'), ['Caddyfile:3: identity_provider: the site already serves it at /etc/portcullis/Caddyfile:2']);
  });

  it('the site must cover its whole host', () => {
    assert.deepEqual(errorsOf('auth.example.com/oidc/* {\n\tidentity_provider\n}\n'), [
      "Caddyfile:2: identity_provider: the site's address auth.example.com/oidc/* has a path, but the provider's paths (/.well-known/..., /auth, /token) sit at the root of the host: serve it from a site without a path",
    ]);
    assert.equal(adaptWithEnv('auth.example.com/* {\n\tidentity_provider\n}\n').sites.length, 1);
  });

  it('several sites need an explicit issuer', () => {
    const two = 'auth.example.com {\n\tidentity_provider\n}\nauth.example.org {\n\tidentity_provider\n}\n';
    assert.deepEqual(errorsOf(two), ['Caddyfile:5: identity_provider: set `issuer` in the identity block: several sites serve identity_provider (also at /etc/portcullis/Caddyfile:2)']);
    assert.equal(adaptWithEnv(`{\n\tidentity {\n\t\tissuer https://auth.example.com\n\t}\n}\n${two}`).identity?.issuer, 'https://auth.example.com');
  });

  it('without an issuer, the site must name one host the issuer can be derived from', () => {
    assert.deepEqual(errorsOf(':8443 {\n\tidentity_provider\n}\n'), ["Caddyfile:2: identity_provider: set `issuer` in the identity block: the site's first address :8443 names no single host to derive it from"]);
    assert.deepEqual(errorsOf('*.example.com {\n\tidentity_provider\n}\n'), ["Caddyfile:2: identity_provider: set `issuer` in the identity block: the site's first address *.example.com names no single host to derive it from"]);
    assert.deepEqual(errorsOf('http://auth.example.com {\n\tidentity_provider\n}\n'), [
      'Caddyfile:2: identity_provider: set `issuer` in the identity block: the issuer derived from http://auth.example.com is not usable: issuer "http://auth.example.com" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])',
    ]);
    assert.equal(adaptWithEnv('http://localhost:8080 {\n\tidentity_provider\n}\n').identity?.issuer, null, 'derivable: left for the server');
    assert.equal(adaptWithEnv(`{\n\tidentity {\n\t\tissuer https://auth.example.com\n\t}\n}\n:8443 {\n\tidentity_provider\n}\n`).identity?.issuer, 'https://auth.example.com');
  });

  it('an identity block with clients needs a site serving identity_provider', () => {
    assert.deepEqual(errorsOf(withIdentity(client('a', GOOD_CLIENT), ':8080 {\n\trespond ok\n}\n')), [
      'Caddyfile:2: identity: no site serves identity_provider, so its clients could never sign in: add identity_provider to the site of the issuer (auth.example.com { identity_provider })',
    ]);
    assert.equal(adaptWithEnv(withIdentity(['issuer https://auth.example.com'], ':8080 {\n\trespond ok\n}\n')).identity?.issuer, 'https://auth.example.com', 'without clients it is allowed');
  });
});

describe('deriveIssuer (the rule the server uses when issuer is not set)', () => {
  const address = (a: Partial<SiteAddress>): SiteAddress => ({ original: 'x', scheme: '', host: 'auth.example.com', port: null, path: '', ...a });
  it('scheme from the address or its port, the port only when it is not the standard one', () => {
    assert.equal(deriveIssuer(address({}), 80, 443), 'https://auth.example.com');
    assert.equal(deriveIssuer(address({ port: 8443 }), 80, 443), 'https://auth.example.com:8443');
    assert.equal(deriveIssuer(address({ port: 80 }), 80, 443), 'http://auth.example.com');
    assert.equal(deriveIssuer(address({ scheme: 'http', host: '::1', port: 8080 }), 80, 443), 'http://[::1]:8080');
    assert.equal(deriveIssuer(address({}), 80, 8443), 'https://auth.example.com:8443', 'https_port moves the default');
    assert.equal(deriveIssuer(address({ host: '' }), 80, 443), null);
    assert.equal(deriveIssuer(address({ host: '*.example.com' }), 80, 443), null);
  });
});
