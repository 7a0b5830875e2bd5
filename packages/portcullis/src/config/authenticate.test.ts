/**
 * The `authenticate` directive through the real parser and adapter: the config it produces,
 * where it runs, where it may be written, and every error as a user sees it
 * (`file:line: authenticate: message`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthenticateHandler, Config, RouteConfig } from './types.ts';
import { validateConfig } from './validate-json.ts';
import { DEFAULT_DIRECTIVE_ORDER, RESERVED_DIRECTIVES } from './directive-order.ts';
import { adaptTestCaddyfile, caddyfileErrors, TEST_CADDYFILE } from '../../test/support/config-errors.ts';

const errorsOf = (text: string): string[] => caddyfileErrors(text, { everywhere: true });



/** The identity block (cookie domain example.com) and the provider's site: lines 1 to 10. */
const PROVIDER = '{\n\tidentity {\n\t\tcookie {\n\t\t\tdomain example.com\n\t\t}\n\t}\n}\nauth.example.com {\n\tidentity_provider\n}\n';

/** A config whose app.example.com site (line 11) holds `body` from line 12 on. */
function app(body: string): string {
  return `${PROVIDER}app.example.com {\n${body}}\n`;
}

function handlersOf(routes: RouteConfig[]): string[] {
  return routes.flatMap((r) => r.handle.flatMap((h) => (h.handler === 'subroute' ? [`subroute(${handlersOf(h.routes).join(',')})`] : [h.handler])));
}

function authenticateOf(config: Config, site = 1): AuthenticateHandler {
  const find = (routes: RouteConfig[]): AuthenticateHandler | undefined => {
    for (const r of routes) {
      for (const h of r.handle) {
        if (h.handler === 'authenticate') return h;
        if (h.handler === 'subroute') {
          const inner = find(h.routes);
          if (inner) return inner;
        }
      }
    }
    return undefined;
  };
  const found = find(config.sites[site]!.routes);
  assert.ok(found, 'an authenticate handler');
  return found;
}

describe('authenticate: the adapted config', () => {
  it('bare: any signed-in user, 403, the Remote-* headers, no alias, no assertion', () => {
    const config = adaptTestCaddyfile(app('\tauthenticate\n\treverse_proxy app:80\n'));
    assert.deepEqual(config.sites[1]!.routes[0], {
      handle: [
        {
          handler: 'authenticate',
          require: [],
          denyStatus: 403,
          headers: { user: 'Remote-User', email: 'Remote-Email', name: 'Remote-Name', groups: 'Remote-Groups' },
          aliases: [],
          assertionHeader: null,
        },
      ],
      source: { file: TEST_CADDYFILE, line: 12 },
    });
    // What the adapter produces is a valid JSON config, unchanged by a round trip.
    assert.deepEqual(validateConfig(config), JSON.parse(JSON.stringify(config)));
  });

  it('every subdirective', () => {
    const config = adaptTestCaddyfile(
      app(
        [
          '\tauthenticate {',
          '\t\trequire group admins ops',
          '\t\trequire any_group editors viewers',
          '\t\trequire user alice bob',
          '\t\trequire email *@example.com',
          '\t\tdeny_status 404',
          '\t\theader_names {',
          '\t\t\tuser X-User',
          '\t\t\tgroups X-Groups',
          '\t\t}',
          '\t\theader_aliases oauth2-proxy authentik',
          '\t\tassertion X-Signed-User',
          '\t}',
          '',
        ].join('\n'),
      ),
    );
    assert.deepEqual(authenticateOf(config), {
      handler: 'authenticate',
      require: [
        { kind: 'group', values: ['admins', 'ops'] },
        { kind: 'any_group', values: ['editors', 'viewers'] },
        { kind: 'user', values: ['alice', 'bob'] },
        { kind: 'email', values: ['*@example.com'] },
      ],
      denyStatus: 404,
      headers: { user: 'X-User', email: 'Remote-Email', name: 'Remote-Name', groups: 'X-Groups' },
      aliases: ['oauth2-proxy', 'authentik'],
      assertionHeader: 'X-Signed-User',
    });
    assert.deepEqual(validateConfig(config), JSON.parse(JSON.stringify(config)));
  });

  it('`assertion` alone uses X-Portcullis-Assertion; an empty block is the bare form', () => {
    assert.equal(authenticateOf(adaptTestCaddyfile(app('\tauthenticate {\n\t\tassertion\n\t}\n'))).assertionHeader, 'X-Portcullis-Assertion');
    assert.deepEqual(authenticateOf(adaptTestCaddyfile(app('\tauthenticate {\n\t}\n'))).require, []);
  });

  it('takes a path or named matcher', () => {
    const config = adaptTestCaddyfile(app('\t@private not path /health /public/*\n\tauthenticate @private\n\tauthenticate /admin/* {\n\t\trequire group admins\n\t}\n'));
    assert.deepEqual(
      config.sites[1]!.routes.map((r) => r.match),
      [[{ not: [{ path: ['/health', '/public/*'] }] }], [{ path: ['/admin/*'] }]],
    );
  });
});

describe('authenticate: where it runs', () => {
  it('in the order table where Caddy has basic_auth: after rewrite and uri, before forward_auth, request_header and every handler that answers', () => {
    const at = (name: string) => DEFAULT_DIRECTIVE_ORDER.indexOf(name);
    assert.ok(at('authenticate') > at('rewrite') && at('authenticate') > at('uri') && at('authenticate') > at('header'));
    for (const later of ['basic_auth', 'forward_auth', 'request_header', 'encode', 'handle', 'route', 'respond', 'reverse_proxy', 'file_server', 'identity_provider']) {
      assert.ok(at('authenticate') < at(later), later);
    }
    assert.equal(Object.hasOwn(RESERVED_DIRECTIVES, 'authenticate'), false, 'no longer reserved');
  });

  it('written last, it is sorted before request_header and reverse_proxy, after rewrite', () => {
    const config = adaptTestCaddyfile(app('\treverse_proxy app:80\n\trequest_header X-A b\n\trewrite /x /y\n\tauthenticate\n'));
    assert.deepEqual(handlersOf(config.sites[1]!.routes), ['rewrite', 'authenticate', 'headers', 'reverse_proxy']);
  });

  it('`order authenticate ...` moves it like any directive', () => {
    const config = adaptTestCaddyfile(`{\n\torder authenticate before rewrite\n${PROVIDER.slice(2)}app.example.com {\n\trewrite /x /y\n\tauthenticate\n}\n`);
    assert.deepEqual(handlersOf(config.sites[1]!.routes), ['authenticate', 'rewrite']);
  });

  it('inside handle, handle_path and route (route keeps the written order), and handle_errors', () => {
    const config = adaptTestCaddyfile(
      app(
        '\thandle /a/* {\n\t\treverse_proxy a:80\n\t\tauthenticate\n\t}\n' +
          '\thandle_path /b/* {\n\t\tauthenticate\n\t\tfile_server\n\t}\n' +
          '\troute /c/* {\n\t\tauthenticate\n\t\trespond "c"\n\t}\n' +
          '\thandle_errors {\n\t\tauthenticate\n\t\trespond "oops"\n\t}\n',
      ),
    );
    assert.deepEqual(handlersOf(config.sites[1]!.routes), [
      'subroute(authenticate,reverse_proxy)',
      'subroute(rewrite,authenticate,file_server)',
      'subroute(authenticate,static_response)',
    ]);
    assert.deepEqual(handlersOf(config.sites[1]!.errorRoutes), ['authenticate', 'static_response']);
  });
});

describe('authenticate: where it may be used', () => {
  it('without cookie domain, on the issuer host (derived from the provider site)', () => {
    const config = adaptTestCaddyfile('auth.example.com {\n\tidentity_provider\n}\nauth.example.com:8443 {\n\tauthenticate\n\trespond "hi"\n}\n');
    assert.equal(config.identity?.cookie.domain, null);
  });

  it('not on the site that serves identity_provider: its sign-in pages must stay open', () => {
    assert.deepEqual(errorsOf('auth.example.com {\n\tidentity_provider\n\tauthenticate /admin/*\n}\n'), [
      'Caddyfile:3: authenticate: cannot gate the site that serves identity_provider (its sign-in pages must stay open)',
    ]);
  });

  it('hostless addresses, wildcards and paths under the cookie domain are fine', () => {
    adaptTestCaddyfile(`${PROVIDER}:8080, *.apps.example.com, example.com/wiki/* {\n\tauthenticate\n\trespond "hi"\n}\n`);
  });

  it('a site under another domain, or not on the issuer host, or no provider at all', () => {
    assert.deepEqual(errorsOf(`${PROVIDER}app.example.org, 192.0.2.1 {\n\tauthenticate\n}\n`), [
      'Caddyfile:12: authenticate: site app.example.org is not under the identity cookie domain example.com: its users could not share the sign-in',
      'Caddyfile:12: authenticate: site 192.0.2.1 is not under the identity cookie domain example.com: its users could not share the sign-in',
    ]);
    assert.deepEqual(errorsOf('auth.example.com {\n\tidentity_provider\n}\nwiki.example.com {\n\thandle /x/* {\n\t\tauthenticate\n\t}\n}\n'), [
      "Caddyfile:6: authenticate: site wiki.example.com is not on the issuer's host auth.example.com: set cookie { domain example.com } in the identity block so a sign-in covers wiki.example.com",
    ]);
    assert.deepEqual(errorsOf('app.example.com {\n\tauthenticate\n}\n'), [
      'Caddyfile:2: authenticate: needs the identity provider: add a site with identity_provider (and an identity block)',
    ]);
  });

  it('site errors are reported along with the directive errors', () => {
    assert.deepEqual(errorsOf('app.example.com {\n\tauthenticate {\n\t\tdeny_status 500\n\t}\n}\n'), [
      'Caddyfile:2: authenticate: needs the identity provider: add a site with identity_provider (and an identity block)',
      'Caddyfile:3: authenticate: deny_status: 500 is not one of 401, 403, 404 (401 or 403 say the page exists; 404 hides it)',
    ]);
  });
});

describe('authenticate: errors', () => {
  it('arguments, matcher and subdirectives', () => {
    assert.deepEqual(errorsOf(app('\tauthenticate /a b\n\tauthenticate @nope\n\tauthenticate {\n\t\trequir group admins\n\t}\n')), [
      'Caddyfile:12: authenticate: expected 0 arguments, got 1 (usage: authenticate [<matcher>] { require ...; deny_status ...; header_names { ... }; header_aliases ...; assertion [<header>] })',
      'Caddyfile:13: authenticate: matcher @nope is not defined',
      'Caddyfile:15: authenticate: unknown subdirective "requir" (did you mean "require"?)',
    ]);
  });

  it('require lines', () => {
    const lines = ['require grup admins', 'require email', 'require user alice@example.com', 'require group "two words"', 'require email alice', 'require user bob Bob'];
    assert.deepEqual(errorsOf(app(`\tauthenticate {\n${lines.map((l) => `\t\t${l}\n`).join('')}\t}\n`)), [
      'Caddyfile:13: authenticate: require: unknown requirement "grup" (did you mean "group"?)',
      'Caddyfile:14: authenticate: require email: expected at least one value (usage: require email <value>...)',
      'Caddyfile:15: authenticate: require user: "alice@example.com": usernames have no @; to match an email address, write require email alice@example.com',
      'Caddyfile:16: authenticate: require group: "two words" is not a group name: 1 to 64 ASCII letters, digits, ".", "_" or "-", starting with a letter or digit',
      'Caddyfile:17: authenticate: require email: email pattern "alice" must contain exactly one @ (or be * for any address)',
      'Caddyfile:18: authenticate: require user: "Bob" is listed twice',
    ]);
  });

  it('header names: refused names, collisions, repeats', () => {
    const body = [
      '\tauthenticate {',
      '\t\theader_names {',
      '\t\t\tuser x-forwarded-user',
      '\t\t\temail Remote_User',
      '\t\t\tname transfer_encoding',
      '\t\t\tgroups X-Authentik-Groups',
      '\t\t\tname X-Name',
      '\t\t}',
      '\t\theader_aliases authentik oauth',
      '\t\tassertion remote-name',
      '\t\tassertion',
      '\t}',
      '',
    ].join('\n');
    assert.deepEqual(errorsOf(app(body)), [
      `Caddyfile:14: authenticate: header_names user: "x-forwarded-user": X-Forwarded-* headers describe the client's connection, not its identity`,
      'Caddyfile:15: authenticate: header_names email: Remote_User is already used by header_names user',
      'Caddyfile:16: authenticate: header_names name: "transfer_encoding" is a header the proxy or the upstream relies on for other things; choose another name',
      'Caddyfile:18: authenticate: header_names name is already set at Caddyfile:16',
      'Caddyfile:20: authenticate: header_aliases: unknown header alias "oauth" (expected authentik or oauth2-proxy)',
      'Caddyfile:20: authenticate: header_aliases authentik: X-Authentik-Groups is already used by header_names groups',
      'Caddyfile:21: authenticate: assertion: remote-name is already used by header_names name',
      'Caddyfile:22: authenticate: assertion is already set at Caddyfile:21',
    ]);
  });
});
