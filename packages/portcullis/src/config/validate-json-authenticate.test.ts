/**
 * JSON configs with the authenticate handler: defaults filled in, the same value checks as the
 * Caddyfile named by JSON path and line, and the same check of the sites against the identity
 * provider.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigJson } from './validate-json.ts';
import { jsonConfigErrors } from '../../test/support/config-errors.ts';


const providerSite = { addresses: [{ original: 'auth.example.com', host: 'auth.example.com' }], routes: [{ handle: [{ handler: 'identity_provider' }] }] };
const identity = { cookie: { domain: 'example.com' } };

/** A config with the provider, cookie domain example.com, and app.example.com running `handler` then a response. */
function withHandler(handler: Record<string, unknown>, host = 'app.example.com'): unknown {
  return {
    identity,
    sites: [providerSite, { addresses: [{ original: host, host }], routes: [{ handle: [handler, { handler: 'static_response', body: 'ok' }] }] }],
  };
}

describe('JSON config: authenticate', () => {
  it('the bare handler gets every default', () => {
    const config = parseConfigJson(withHandler({ handler: 'authenticate' }), 'config.json');
    assert.deepEqual(config.sites[1]!.routes[0]!.handle[0], {
      handler: 'authenticate',
      require: [],
      denyStatus: 403,
      headers: { user: 'Remote-User', email: 'Remote-Email', name: 'Remote-Name', groups: 'Remote-Groups' },
      aliases: [],
      assertionHeader: null,
    });
  });

  it('every field, partly given headers keep the other defaults', () => {
    const handler = {
      handler: 'authenticate',
      require: [{ kind: 'any_group', values: ['ops', 'admins'] }, { kind: 'email', values: ['*@example.com'] }],
      denyStatus: 401,
      headers: { user: 'X-User' },
      aliases: ['authentik'],
      assertionHeader: 'X-Portcullis-Assertion',
    };
    const config = parseConfigJson(withHandler(handler), 'config.json');
    assert.deepEqual(config.sites[1]!.routes[0]!.handle[0], { ...handler, headers: { user: 'X-User', email: 'Remote-Email', name: 'Remote-Name', groups: 'Remote-Groups' } });
  });

  it('field errors, by path and line', () => {
    const value = withHandler({
      handler: 'authenticate',
      require: [{ kind: 'groups', values: ['admins'] }, { kind: 'user', values: [] }, { kind: 'user', values: ['a@b.c', 'x', 'X'] }, { kind: 'email', values: ['nope'] }],
      denyStatus: 500,
      headers: { user: 'Host', email: 'X Email', nam: 'X-Name' },
      aliases: ['okta'],
      assertionHeader: 'X-Forwarded-User',
      extra: true,
    });
    const errors = jsonConfigErrors(value);
    assert.deepEqual(
      errors.map((e) => e.replace(/^config\.json:\d+: sites\[1\]\.routes\[0\]\.handle\[0\]\./, '')),
      [
        'extra: unknown field',
        'require[0].kind: unknown requirement "groups" (did you mean "group"?)',
        'require[1].values: expected a non-empty list',
        'require[2].values[0]: "a@b.c": usernames have no @; to match an email address, write require email a@b.c',
        'require[3].values[0]: email pattern "nope" must contain exactly one @ (or be * for any address)',
        'denyStatus: 500 is not one of 401, 403, 404 (401 or 403 say the page exists; 404 hides it)',
        'headers.nam: unknown field (did you mean "name"?)',
        'headers.user: "Host" is a header the proxy or the upstream relies on for other things; choose another name',
        `headers.email: "X Email" is not a header name (letters, digits and !#$%&'*+.^_\`|~-, at most 100)`,
        'aliases[0]: unknown header alias "okta" (expected authentik or oauth2-proxy)',
        `assertionHeader: "X-Forwarded-User": X-Forwarded-* headers describe the client's connection, not its identity`,
      ],
    );
    // Each at the line of its value.
    const lines = JSON.stringify(value, null, 2).split('\n');
    const lineOf = (needle: string) => String(lines.findIndex((l) => l.includes(needle)) + 1);
    const at = (field: string) => /^config\.json:(\d+):/.exec(errors.find((e) => e.includes(`handle[0].${field}:`)) ?? '')?.[1];
    assert.equal(at('denyStatus'), lineOf('"denyStatus": 500'));
    assert.equal(at('headers.user'), lineOf('"user": "Host"'));
    assert.equal(at('require[2].values[0]'), lineOf('"a@b.c"'));
    assert.equal(at('assertionHeader'), lineOf('"assertionHeader"'));
  });

  it('a value twice, header collisions and a repeated alias', () => {
    const errors = jsonConfigErrors(
      withHandler({
        handler: 'authenticate',
        require: [{ kind: 'user', values: ['alice', 'ALICE'] }],
        headers: { groups: 'remote_user' },
        aliases: ['oauth2-proxy', 'oauth2-proxy'],
        assertionHeader: 'x-auth-request-email',
      }),
    );
    assert.deepEqual(
      errors.map((e) => e.replace(/^config\.json:\d+: /, '')),
      [
        'sites[1].routes[0].handle[0].require[0].values[1]: "ALICE" is listed twice',
        'sites[1].routes[0].handle[0].headers.groups: header_names groups: remote_user is already used by header_names user',
        'sites[1].routes[0].handle[0].aliases[1]: header_aliases: oauth2-proxy is listed twice',
        'sites[1].routes[0].handle[0].assertionHeader: assertion: x-auth-request-email is already used by header_aliases oauth2-proxy',
      ],
    );
  });

  it('needs a site serving identity_provider', () => {
    const config = { sites: [{ addresses: [{ original: 'app.example.com', host: 'app.example.com' }], routes: [{ handle: [{ handler: 'subroute', routes: [{ handle: [{ handler: 'authenticate' }] }] }] }] }] };
    assert.deepEqual(jsonConfigErrors(config), [
      'config.json:18: sites[0].routes[0].handle[0].routes[0].handle[0]: authenticate: needs the identity provider: add a site with identity_provider (and an identity block)',
    ]);
  });

  it('hosts under the cookie domain, or the issuer host without one', () => {
    assert.deepEqual(jsonConfigErrors(withHandler({ handler: 'authenticate' }, 'app.example.org')), [
      'config.json:27: sites[1].addresses[0]: authenticate: site app.example.org is not under the identity cookie domain example.com: its users could not share the sign-in',
    ]);
    const noDomain = { sites: [providerSite, { addresses: [{ original: 'app.example.com', host: 'app.example.com' }], routes: [{ handle: [{ handler: 'authenticate' }] }] }] };
    assert.deepEqual(
      jsonConfigErrors(noDomain).map((e) => e.replace(/^config\.json:\d+: /, '')),
      ["sites[1].addresses[0]: authenticate: site app.example.com is not on the issuer's host auth.example.com: set cookie { domain example.com } in the identity block so a sign-in covers app.example.com"],
    );
    // The provider's own host, and an address without a host, need no cookie domain.
    const sameHost = {
      sites: [
        providerSite,
        { addresses: [{ original: 'auth.example.com:8443', host: 'auth.example.com', port: 8443 }], routes: [{ handle: [{ handler: 'authenticate' }] }] },
        { addresses: [{ original: ':8080', port: 8080 }], routes: [{ handle: [{ handler: 'authenticate' }] }] },
      ],
    };
    parseConfigJson(sameHost, 'config.json');
  });
});
