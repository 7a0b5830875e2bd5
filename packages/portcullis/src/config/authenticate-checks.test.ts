/**
 * The value checks of `authenticate` shared by the Caddyfile and JSON configs: header names
 * (tokens, refused names in any case and with `_` for `-`), requirement kinds and values,
 * deny statuses, aliases, collisions between header settings, and the sites check.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthenticateHandler, IdentityConfig, RouteConfig, SiteAddress } from './types.ts';
import {
  authenticateHeaderProblems,
  authenticateSiteProblems,
  checkDenyStatus,
  checkHeaderAlias,
  checkIdentityHeaderName,
  checkRequirementKind,
  checkRequirementValue,
  DEFAULT_IDENTITY_HEADERS,
  findAuthenticate,
  headerKey,
  NEEDS_PROVIDER,
  requirementValuesProblems,
} from './authenticate-checks.ts';
import { defaultIdentity } from './identity-options.ts';

const error = (r: { ok: boolean; error?: string }) => (r.ok ? null : r.error);

describe('identity header names', () => {
  it('accepts tokens, keeps them as written', () => {
    for (const name of ['Remote-User', 'X-User', 'X_Display_Name', "x!#$%&'*+.^`|~1"]) assert.deepEqual(checkIdentityHeaderName(name), { ok: true, value: name });
  });

  it('refuses what is not a token', () => {
    for (const name of ['', 'Remote User', 'X-User:', 'X-Üser', 'X-User\r\nX-Admin: 1', '(x)', 'a'.repeat(101)]) {
      assert.match(error(checkIdentityHeaderName(name)) ?? '', /is not a header name/, JSON.stringify(name));
    }
  });

  it('refuses framing, hop-by-hop, credential and forwarding names in any case and with _ for -', () => {
    const refused = ['Host', 'content-length', 'Content_Length', 'TRANSFER-ENCODING', 'Connection', 'Keep-Alive', 'Upgrade', 'TE', 'Trailer', 'Proxy-Authorization', 'Cookie', 'Set-Cookie', 'Authorization', 'Forwarded', 'Via', 'X-Real-IP', 'x_real_ip', 'Origin'];
    for (const name of refused) assert.match(error(checkIdentityHeaderName(name)) ?? '', /relies on/, name);
    for (const name of ['X-Forwarded-For', 'x-forwarded-user', 'X_Forwarded_Proto']) assert.match(error(checkIdentityHeaderName(name)) ?? '', /X-Forwarded-\*/, name);
  });

  it('folds names the way upstreams read them', () => {
    assert.equal(headerKey('Remote_User'), headerKey('REMOTE-USER'));
  });
});

describe('require', () => {
  it('kinds, with a suggestion for a typo and the list otherwise', () => {
    assert.deepEqual(checkRequirementKind('any_group'), { ok: true, value: 'any_group' });
    assert.match(error(checkRequirementKind('groups')) ?? '', /did you mean "group"/);
    assert.match(error(checkRequirementKind('valid-user')) ?? '', /expected user, group, any_group, email/);
  });

  it('usernames and group names follow the provider rule', () => {
    assert.equal(checkRequirementValue('user', 'bob.smith').ok, true);
    assert.equal(checkRequirementValue('group', 'team_a-1').ok, true);
    assert.match(error(checkRequirementValue('user', 'alice@example.com')) ?? '', /write require email alice@example\.com/);
    for (const bad of ['', 'a b', '-x', '.x', 'x'.repeat(65), 'ädmin', 'a,b', 'a|b']) {
      assert.equal(checkRequirementValue('group', bad).ok, false, bad);
      assert.equal(checkRequirementValue('any_group', bad).ok, false, bad);
    }
  });

  it('email patterns: * or exactly one @ with both sides', () => {
    for (const good of ['*', '*@example.com', 'alice@example.com', 'alice@*', '*@*.example.com']) assert.equal(checkRequirementValue('email', good).ok, true, good);
    for (const bad of ['example.com', 'a@b@c', '@example.com', 'alice@', 'a b@c', 'a\t@b', `${'a'.repeat(250)}@b.cd`]) {
      assert.equal(checkRequirementValue('email', bad).ok, false, bad);
    }
  });

  it('a value twice in one line: usernames and emails ignoring case, groups exactly', () => {
    assert.deepEqual(requirementValuesProblems('user', ['alice', 'Alice']).map((p) => p.index), [1]);
    assert.deepEqual(requirementValuesProblems('email', ['*@A.com', '*@a.COM']).map((p) => p.index), [1]);
    assert.deepEqual(requirementValuesProblems('group', ['admins', 'Admins']), []);
    assert.deepEqual(requirementValuesProblems('any_group', ['ops', 'ops']).map((p) => p.index), [1]);
  });
});

describe('deny_status and aliases', () => {
  it('deny_status is 401, 403 or 404', () => {
    for (const s of [401, 403, 404]) assert.equal(checkDenyStatus(s).ok, true);
    for (const s of [200, 302, 400, 402, 500]) assert.equal(checkDenyStatus(s).ok, false);
  });

  it('aliases', () => {
    assert.deepEqual(checkHeaderAlias('oauth2-proxy'), { ok: true, value: 'oauth2-proxy' });
    assert.match(error(checkHeaderAlias('authentic')) ?? '', /did you mean "authentik"/);
    assert.match(error(checkHeaderAlias('okta')) ?? '', /expected authentik or oauth2-proxy/);
  });
});

describe('collisions between header settings', () => {
  const base = { headers: { ...DEFAULT_IDENTITY_HEADERS }, aliases: [] as AuthenticateHandler['aliases'], assertionHeader: null as string | null };

  it('none by default, with both aliases and the assertion', () => {
    assert.deepEqual(authenticateHeaderProblems({ ...base, aliases: ['authentik', 'oauth2-proxy'], assertionHeader: 'X-Portcullis-Assertion' }), []);
  });

  it('two names of one header (any case, _ for -) blame the later setting', () => {
    const problems = authenticateHeaderProblems({ ...base, headers: { ...DEFAULT_IDENTITY_HEADERS, groups: 'remote_user' } });
    assert.deepEqual(problems, [{ setting: { kind: 'name', role: 'groups' }, message: 'header_names groups: remote_user is already used by header_names user' }]);
  });

  it('an alias header or the assertion header taken by a name, and an alias twice', () => {
    const problems = authenticateHeaderProblems({
      headers: { ...DEFAULT_IDENTITY_HEADERS, email: 'X-Auth-Request-Email' },
      aliases: ['oauth2-proxy', 'oauth2-proxy'],
      assertionHeader: 'Remote-Name',
    });
    assert.deepEqual(
      problems.map((p) => p.message),
      [
        'header_aliases oauth2-proxy: X-Auth-Request-Email is already used by header_names email',
        'header_aliases: oauth2-proxy is listed twice',
        'assertion: Remote-Name is already used by header_names name',
      ],
    );
    assert.deepEqual(problems[1]!.setting, { kind: 'alias', alias: 'oauth2-proxy', index: 1 });
  });
});

describe('sites using authenticate', () => {
  const auth: AuthenticateHandler = { handler: 'authenticate', require: [], denyStatus: 403, headers: { ...DEFAULT_IDENTITY_HEADERS }, aliases: [], assertionHeader: null };
  const address = (original: string, host: string, port: number | null = null): SiteAddress => ({ original, scheme: '', host, port, path: '' });
  const provider = { addresses: [address('auth.example.com', 'auth.example.com')], routes: [{ handle: [{ handler: 'identity_provider' as const }] }] };
  const gated = (...addresses: SiteAddress[]) => ({ addresses, routes: [{ handle: [auth], source: { file: 'f', line: 9 } }] });
  const identity = (domain: string | null, issuer: string | null = null): IdentityConfig => ({ ...defaultIdentity({ file: 'f', line: 1 }), issuer, cookie: { domain, name: 'portcullis' } });
  const check = (sites: Parameters<typeof authenticateSiteProblems>[0]['sites'], id: IdentityConfig | null) =>
    authenticateSiteProblems({ identity: id, sites, httpPort: 80, httpsPort: 443 }).map((p) => [p.site, p.address, p.message]);

  it('finds authenticate inside subroutes, with the path and the line of its route', () => {
    const routes: RouteConfig[] = [{ handle: [{ handler: 'subroute', routes: [{ handle: [{ handler: 'vars', vars: {} }, auth], source: { file: 'f', line: 4 } }] }] }];
    assert.deepEqual(findAuthenticate(routes), [{ path: 'routes[0].handle[0].routes[0].handle[1]', source: { file: 'f', line: 4 } }]);
  });

  it('needs a site serving identity_provider, reported once', () => {
    assert.deepEqual(check([gated(address('a.example.com', 'a.example.com')), gated(address('b.example.com', 'b.example.com'))], identity('example.com')), [[0, null, NEEDS_PROVIDER]]);
  });

  it('no authenticate, no problem', () => {
    assert.deepEqual(check([{ addresses: [address('x.org', 'x.org')], routes: [] }], null), []);
  });

  it('with a cookie domain: every host under it; wildcards by their suffix; IPs never; no host is fine', () => {
    const site = gated(
      address('app.example.com', 'app.example.com'),
      address('example.com', 'example.com'),
      address('*.example.com', '*.example.com'),
      address('*.example.org', '*.example.org'),
      address('badexample.com', 'badexample.com'),
      address('[::1]', '::1'),
      address(':8080', '', 8080),
    );
    assert.deepEqual(
      check([provider, site], identity('example.com')).map((p) => p[1]),
      [3, 4, 5],
    );
  });

  it('without a cookie domain: only the issuer host, derived or configured, with a suggested domain', () => {
    const same = gated(address('auth.example.com:8443', 'auth.example.com', 8443));
    const other = gated(address('app.example.com', 'app.example.com'));
    assert.deepEqual(check([provider, same, other], null), [
      [2, 0, "site app.example.com is not on the issuer's host auth.example.com: set cookie { domain example.com } in the identity block so a sign-in covers app.example.com"],
    ]);
    const configured = identity(null, 'https://login.example.net');
    assert.deepEqual(check([provider, gated(address('login.example.net', 'login.example.net'))], configured), []);
    assert.match(String(check([provider, gated(address('x.test', 'x.test'))], configured)[0]?.[2]), /share no parent domain/);
  });

  it('authenticate in handle_errors routes counts', () => {
    const site = { addresses: [address('app.other.org', 'app.other.org')], routes: [], errorRoutes: [{ handle: [auth] }] };
    assert.deepEqual(check([provider, site], identity('example.com')).map((p) => p[0]), [1]);
  });
});
