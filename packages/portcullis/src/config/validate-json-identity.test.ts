/**
 * JSON configs with `database`, `identity` and the identity_provider handler: the same checks
 * as the Caddyfile, named by JSON path and line; and the redaction of client secrets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from './types.ts';
import { parseConfigJson } from './validate-json.ts';
import { adaptCaddyfileText } from './load.ts';
import { REDACTED_SECRET, redactSecrets } from './redact.ts';
import { jsonConfigErrors } from '../../test/support/config-errors.ts';

const SECRET = 'json-secret-0123456789abcdef';


const authSite = (host = 'auth.example.com', port?: number) => ({
  addresses: [{ original: `${host}${port === undefined ? '' : `:${port}`}`, host, ...(port === undefined ? {} : { port }) }],
  routes: [{ handle: [{ handler: 'identity_provider' }] }],
});

describe('JSON config: database and identity', () => {
  it('defaults: sqlite in the data dir, no identity', () => {
    const config = parseConfigJson({ sites: [] }, 'config.json');
    assert.deepEqual(config.database, { driver: 'sqlite', path: null });
    assert.equal(config.identity, null);
  });

  it('a minimal identity gets every default, and a client its defaults', () => {
    const config = parseConfigJson(
      { identity: { issuer: 'https://auth.example.com/', claims: [{ claim: 'tenant' }], clients: [{ id: 'app', secret: SECRET, redirectUris: ['https://app.example.com/cb'] }] }, sites: [authSite()] },
      'config.json',
    );
    const identity = config.identity!;
    assert.equal(identity.issuer, 'https://auth.example.com');
    assert.equal(identity.accessTokenTtlMs, 600_000);
    assert.deepEqual(identity.cookie, { domain: null, name: 'portcullis' });
    assert.deepEqual(identity.theme, { brand: 'Portcullis', logo: null, color: null, mode: 'auto', templates: null, locale: 'en' });
    assert.deepEqual(identity.claims, [{ claim: 'tenant', attribute: 'tenant', scope: 'profile' }]);
    const client = identity.clients[0]!;
    assert.deepEqual(client.scopes, ['openid', 'profile', 'email', 'groups']);
    assert.deepEqual(client.grantTypes, ['authorization_code', 'refresh_token']);
    assert.equal(client.signingAlg, 'RS256');
    assert.deepEqual(client.source, { file: 'config.json', line: 1 });
  });

  it('a site serving identity_provider without an identity block gets the defaults', () => {
    const config = parseConfigJson({ sites: [authSite()] }, 'config.json');
    assert.equal(config.identity?.issuer, null);
    assert.deepEqual(config.identity?.source, { file: 'config.json', line: 1 });
  });

  it('reports every identity problem with its path and line', () => {
    const errors = jsonConfigErrors({
      database: { driver: 'postgres', path: 'relative.db' },
      identity: {
        issuer: 'http://auth.example.com/x',
        accessTokenTtlMs: 0,
        cookie: { domain: 'co.uk', name: 'a b' },
        theme: { color: 'red', logo: 'javascript:x', templates: 'templates', mode: 'dim', locale: 'EN' },
        claims: [{ claim: 'sub' }, { claim: 'x', attribute: '__proto__' }],
        clients: [
          { id: 'app', secret: 'short', redirectUris: ['http://app.example.com/cb'] },
          { id: 'spa', public: true, secret: SECRET, redirectUris: ['https://app.example.com/cb'] },
          { id: 'cli', public: true, redirectUris: ['com.example.app:/cb'], scopes: ['openid', 'nope'] },
          { id: 'cli', public: true, redirectUris: ['https://a@b.example.com/', 'https://x.example.com/#f'] },
        ],
      },
      sites: [authSite()],
    });
    assert.deepEqual(errors, [
      'config.json:3: database.driver: expected one of "sqlite", got string "postgres"',
      'config.json:4: database.path: expected an absolute path, got "relative.db"',
      'config.json:7: identity.issuer: issuer "http://auth.example.com/x" must be an origin (scheme, host and optional port) without a path',
      'config.json:8: identity.accessTokenTtlMs: must be longer than 0',
      'config.json:10: identity.cookie.domain: cookie domain "co.uk" is a public suffix: the cookie would be sent to every site under it',
      'config.json:11: identity.cookie.name: cookie name "a b" may only contain letters, digits, _ and - (at most 64)',
      'config.json:15: identity.theme.logo: logo "javascript:x" must be an https:// URL or a path starting with / (on this site)',
      'config.json:14: identity.theme.color: color "red" must be #rgb or #rrggbb (e.g. "#0b6bcb")',
      'config.json:17: identity.theme.mode: expected one of "auto", "light", "dark", got string "dim"',
      'config.json:16: identity.theme.templates: expected an absolute path, got "templates"',
      'config.json:18: identity.theme.locale: locale "EN" must look like en or pt-BR',
      'config.json:22: identity.claims[0].claim: claim "sub" is reserved: the provider sets it, a user attribute may not',
      'config.json:26: identity.claims[1].attribute: attribute name "__proto__" must be a letter or _ followed by letters, digits or _ (at most 64)',
      'config.json:32: identity.clients[0].secret: secret is shorter than 16 characters (generate one with: openssl rand -base64 32)',
      'config.json:34: identity.clients[0].redirectUris[0]: redirect_uri "http://app.example.com/cb" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])',
      'config.json:37: identity.clients[1]: public and secret exclude each other: a public client (browser or native app) cannot keep a secret',
      'config.json:60: identity.clients[3].redirectUris[0]: redirect_uri "https://a@b.example.com/" must not contain a user name or password',
      'config.json:61: identity.clients[3].redirectUris[1]: redirect_uri "https://x.example.com/#f" must not have a #fragment',
      'config.json:53: identity.clients[2].scopes[1]: unknown scope "nope" (custom scopes come from claims)',
      'config.json:56: identity.clients[3]: client cli is defined twice',
    ]);
    for (const e of errors) assert.ok(!e.includes('"short"'), 'the secret is never in a message');
  });

  it('checks the identity block against the sites, as the Caddyfile does', () => {
    const client = { id: 'app', secret: SECRET, redirectUris: ['https://app.example.com/cb'] };
    assert.deepEqual(jsonConfigErrors({ identity: { clients: [client] }, sites: [] }), [
      'config.json:2: identity: no site serves identity_provider, so its clients could never sign in: add the identity_provider handler to the site of the issuer',
    ]);
    assert.deepEqual(jsonConfigErrors({ sites: [authSite('a.example.com'), authSite('b.example.com')] }), ['config.json:20: sites[1]: set identity.issuer: several sites serve identity_provider (also sites[0])']);
    assert.deepEqual(jsonConfigErrors({ sites: [authSite('', 8443)] }), ['config.json:3: sites[0]: set identity.issuer: this site serves identity_provider and its first address :8443 names no single host']);
    assert.deepEqual(jsonConfigErrors({ sites: [{ ...authSite('auth.example.com'), addresses: [{ original: 'http://auth.example.com', scheme: 'http', host: 'auth.example.com' }] }] }), [
      'config.json:3: sites[0]: set identity.issuer: this site serves identity_provider and the issuer derived from http://auth.example.com is not usable: issuer "http://auth.example.com" must use https (http is allowed only for localhost, 127.0.0.1 and [::1])',
    ]);
    assert.equal(parseConfigJson({ sites: [authSite('localhost', 8443)] }).identity?.issuer, null, 'derivable: left for the server');
    const nested = { addresses: [{ original: 'auth.example.com/x', host: 'auth.example.com', path: '/x' }], routes: [{ handle: [{ handler: 'subroute', routes: [{ handle: [{ handler: 'identity_provider' }] }] }] }] };
    assert.deepEqual(jsonConfigErrors({ identity: { issuer: 'https://auth.example.com' }, sites: [nested] }), [
      "config.json:7: sites[0].addresses: the site's address auth.example.com/x has a path, but identity_provider serves the root of the host",
    ]);
  });

  it('a redacted secret read back is refused with a message that says so', () => {
    const text = '{\n\tidentity {\n\t\tclient app {\n\t\t\tsecret {$S}\n\t\t\tredirect_uri https://app.example.com/cb\n\t\t}\n\t}\n}\nauth.example.com {\n\tidentity_provider\n}\n';
    const config = adaptCaddyfileText(text, '/etc/Caddyfile', { env: { S: SECRET } });
    const printed = redactSecrets(config);
    assert.equal(printed.identity?.clients[0]?.secret, REDACTED_SECRET);
    assert.equal(config.identity?.clients[0]?.secret, SECRET, 'the config itself keeps its secret');
    assert.ok(!JSON.stringify(printed).includes(SECRET));
    const plain = parseConfigJson({ sites: [] });
    assert.equal(redactSecrets(plain), plain, 'nothing to hide: the same object');
    const errors = jsonConfigErrors(printed);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /identity\.clients\[0\]\.secret: this secret was redacted when the config was printed; put the real secret here$/);
  });

  it('a Caddyfile with every identity option reads back unchanged', () => {
    const text = `{
	database sqlite /var/lib/portcullis/db.sqlite
	identity {
		issuer https://auth.example.com
		cookie {
			domain example.com
		}
		theme {
			color "#0b6bcb"
			templates /srv/templates
		}
		claim roles from app_roles scope roles
		client a {
			secret {$S}
			redirect_uri https://a.example.com/cb
			scopes openid roles
			backchannel_logout_uri https://a.example.com/bc
		}
		client b {
			public
			redirect_uri com.example.app:/cb http://127.0.0.1/cb
		}
	}
}
auth.example.com {
	identity_provider
}
`;
    const config: Config = adaptCaddyfileText(text, '/etc/Caddyfile', { env: { S: SECRET } });
    assert.deepEqual(parseConfigJson(JSON.stringify(config), 'adapted.json'), JSON.parse(JSON.stringify(config)));
  });
});
