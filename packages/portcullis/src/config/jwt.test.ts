/**
 * The `jwt` directive through the real parser and adapter: the config it produces (defaults
 * from the identity provider included), where it runs, and every error as a user sees it
 * (`file:line: jwt: message`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JwtHandler, RouteConfig } from './types.ts';
import { validateConfig } from './validate-json.ts';
import { DEFAULT_DIRECTIVE_ORDER, RESERVED_DIRECTIVES } from './directive-order.ts';
import { adaptTestCaddyfile, caddyfileErrors, TEST_CADDYFILE } from '../../test/support/config-errors.ts';

const errorsOf = (text: string): string[] => caddyfileErrors(text, { everywhere: true });



/** The provider's site, issuer derived from its address: lines 1 to 3. */
const PROVIDER = 'auth.example.com {\n\tidentity_provider\n}\n';

/** A config whose api.example.com site (line 4) holds `body` from line 5 on. */
function api(body: string): string {
  return `${PROVIDER}api.example.com {\n${body}}\n`;
}

/** api.example.com alone (line 1), `body` from line 2 on: no identity provider. */
function alone(body: string): string {
  return `api.example.com {\n${body}}\n`;
}

function jwtHandlers(routes: RouteConfig[]): JwtHandler[] {
  return routes.flatMap((r) => r.handle.flatMap((h) => (h.handler === 'jwt' ? [h] : h.handler === 'subroute' ? jwtHandlers(h.routes) : [])));
}

function handlersOf(routes: RouteConfig[]): string[] {
  return routes.flatMap((r) => r.handle.flatMap((h) => (h.handler === 'subroute' ? [`subroute(${handlersOf(h.routes).join(',')})`] : [h.handler])));
}

describe('jwt: the adapted config', () => {
  it('bare, in a config with the identity provider: its issuer, for the issuer, RS256/ES256/EdDSA, 30s, nothing required, no headers', () => {
    const config = adaptTestCaddyfile(api('\tjwt\n\treverse_proxy app:80\n'));
    assert.deepEqual(config.sites[1]!.routes[0], {
      handle: [
        {
          handler: 'jwt',
          issuer: 'https://auth.example.com',
          audience: ['https://auth.example.com'],
          algorithms: ['RS256', 'ES256', 'EdDSA'],
          leewayMs: 30_000,
          typ: null,
          require: [],
          claimHeaders: [],
          stripAuthorization: false,
        },
      ],
      source: { file: TEST_CADDYFILE, line: 5 },
    });
    // What the adapter produces is a valid JSON config, unchanged by a round trip.
    assert.deepEqual(validateConfig(config), JSON.parse(JSON.stringify(config)));
  });

  it('the issuer of the identity block wins over the derived one', () => {
    const config = adaptTestCaddyfile(`{\n\tidentity {\n\t\tissuer https://login.example.com\n\t}\n}\n${api('\tjwt\n')}`);
    const [h] = jwtHandlers(config.sites[1]!.routes);
    assert.equal(h!.issuer, 'https://login.example.com');
    assert.deepEqual(h!.audience, ['https://login.example.com']);
  });

  it('every subdirective; an issuer is kept exactly as written (paths, trailing slash)', () => {
    const config = adaptTestCaddyfile(
      alone(
        [
          '\tjwt /api/* {',
          '\t\tissuer https://kc.example.com/realms/main/',
          '\t\taudience account https://api.example.com',
          '\t\talgorithms ES256 PS256',
          '\t\tleeway 1m30s',
          '\t\ttyp at+jwt',
          '\t\trequire scope reports invoices:read',
          '\t\trequire group "Domain Admins" ops',
          '\t\trequire claim https://example.com/tenant acme globex',
          '\t\tclaim_header sub X-Jwt-Sub',
          '\t\tclaim_header groups X-Jwt-Groups',
          '\t\tstrip_authorization',
          '\t}',
          '\treverse_proxy app:80',
          '',
        ].join('\n'),
      ),
    );
    assert.deepEqual(config.sites[0]!.routes[0]!.match, [{ path: ['/api/*'] }]);
    assert.deepEqual(jwtHandlers(config.sites[0]!.routes), [
      {
        handler: 'jwt',
        issuer: 'https://kc.example.com/realms/main/',
        audience: ['account', 'https://api.example.com'],
        algorithms: ['ES256', 'PS256'],
        leewayMs: 90_000,
        typ: 'at+jwt',
        require: [
          { kind: 'scope', values: ['reports', 'invoices:read'] },
          { kind: 'group', values: ['Domain Admins', 'ops'] },
          { kind: 'claim', claim: 'https://example.com/tenant', values: ['acme', 'globex'] },
        ],
        claimHeaders: [
          { claim: 'sub', header: 'X-Jwt-Sub' },
          { claim: 'groups', header: 'X-Jwt-Groups' },
        ],
        stripAuthorization: true,
      },
    ]);
    assert.deepEqual(validateConfig(config), JSON.parse(JSON.stringify(config)));
  });

  it('http issuers on loopback are fine (local testing)', () => {
    for (const issuer of ['http://127.0.0.1:9000', 'http://localhost:8080/realms/x', 'http://[::1]:1']) {
      assert.equal(jwtHandlers(adaptTestCaddyfile(alone(`\tjwt {\n\t\tissuer ${issuer}\n\t}\n`)).sites[0]!.routes)[0]!.issuer, issuer);
    }
  });

  it('runs after authenticate and forward_auth, before request_header, handle and the handlers that answer', () => {
    const config = adaptTestCaddyfile(
      api('\treverse_proxy app:80\n\trequest_header X-A b\n\thandle /x {\n\t\trespond "x"\n\t}\n\tjwt\n\tforward_auth auth:9091 {\n\t\turi /v\n\t}\n\trewrite /a /b\n'),
    );
    assert.deepEqual(handlersOf(config.sites[1]!.routes), ['rewrite', 'forward_auth', 'jwt', 'headers', 'subroute(static_response)', 'reverse_proxy']);
    const at = (name: string) => DEFAULT_DIRECTIVE_ORDER.indexOf(name);
    assert.ok(at('authenticate') < at('jwt') && at('forward_auth') < at('jwt') && at('jwt') < at('request_header'));
    assert.equal(Object.hasOwn(RESERVED_DIRECTIVES, 'jwt'), false, 'no longer reserved');
  });

  it('inside handle, route and handle_errors blocks, and in a site with a path', () => {
    const config = adaptTestCaddyfile(
      `${PROVIDER}api.example.com/v1/* {\n\thandle /a/* {\n\t\tjwt\n\t}\n\troute {\n\t\tjwt\n\t}\n\thandle_errors {\n\t\tjwt\n\t}\n}\n`,
    );
    const site = config.sites[1]!;
    assert.equal(jwtHandlers(site.routes).length, 2);
    assert.equal(jwtHandlers(site.errorRoutes).length, 1);
    for (const h of [...jwtHandlers(site.routes), ...jwtHandlers(site.errorRoutes)]) assert.equal(h.issuer, 'https://auth.example.com');
  });
});

describe('jwt: errors', () => {
  it('no issuer and no identity provider to take it from', () => {
    assert.deepEqual(errorsOf(alone('\tjwt\n\thandle /x {\n\t\tjwt /y\n\t}\n')), [
      'Caddyfile:2: jwt: set issuer: this config has no identity provider whose issuer could be the default',
      'Caddyfile:4: jwt: set issuer: this config has no identity provider whose issuer could be the default',
    ]);
  });

  it('HS256 and none are refused at config time; unknown algorithms get a suggestion', () => {
    assert.deepEqual(errorsOf(api('\tjwt {\n\t\talgorithms RS256 HS256 hs512 none RS265 RS256\n\t}\n')), [
      'Caddyfile:6: jwt: algorithms: "HS256" is refused: an HMAC algorithm lets anyone who has the issuer\'s public key forge tokens (algorithm confusion); use asymmetric signatures (RS256, ES256, EdDSA)',
      'Caddyfile:6: jwt: algorithms: "hs512" is refused: an HMAC algorithm lets anyone who has the issuer\'s public key forge tokens (algorithm confusion); use asymmetric signatures (RS256, ES256, EdDSA)',
      'Caddyfile:6: jwt: algorithms: "none" is refused: an unsigned token proves nothing',
      'Caddyfile:6: jwt: algorithms: unknown algorithm "RS265" (did you mean "RS256"?)',
      'Caddyfile:6: jwt: algorithm RS256 is listed twice',
    ]);
  });

  it('issuers that are not https URLs of their own', () => {
    const bad = ['auth.example.com', 'http://auth.example.com', 'https://user:pw@auth.example.com', 'https://auth.example.com/?realm=x', 'https://auth.example.com/#x', 'ftp://auth.example.com'];
    const messages = bad.map((b) => errorsOf(alone(`\tjwt {\n\t\tissuer ${b}\n\t}\n`)));
    assert.deepEqual(messages.flat(), [
      'Caddyfile:3: jwt: issuer: issuer "auth.example.com" is not an absolute URL (e.g. https://auth.example.com)',
      'Caddyfile:3: jwt: issuer: issuer "http://auth.example.com" must use https (http is allowed only for localhost, 127.0.0.1 and [::1]): its signing keys must not travel in clear',
      'Caddyfile:3: jwt: issuer: issuer "https://user:pw@auth.example.com" must not contain a user name or password',
      'Caddyfile:3: jwt: issuer: issuer "https://auth.example.com/?realm=x" must not have a query or #fragment',
      'Caddyfile:3: jwt: issuer: issuer "https://auth.example.com/#x" must not have a query or #fragment',
      'Caddyfile:3: jwt: issuer: issuer "ftp://auth.example.com" must use https',
    ]);
  });

  it('every kind of bad value, each at its line', () => {
    const body = [
      '\tjwt extra {', // 5
      '\t\tleeway 6m', // 6
      '\t\tleeway 1s', // 7
      '\t\ttyp "at jwt"', // 8
      '\t\taudience', // 9
      '\t\trequire', // 10
      '\t\trequire scopes reports', // 11
      '\t\trequire scope', // 12
      '\t\trequire scope "two words" reports reports', // 13
      '\t\trequire claim', // 14
      '\t\trequire claim __proto__ x', // 15
      '\t\trequire claim tenant', // 16
      '\t\tclaim_header sub', // 17
      '\t\tclaim_header sub Authorization', // 18
      '\t\tclaim_header sub X-Forwarded-User', // 19
      '\t\tclaim_header sub X-Jwt-Sub', // 20
      '\t\tclaim_header name x_jwt_sub', // 21
      '\t\tstrip_authorization yes', // 22
      '\t\tissuer', // 23
      '\t\tverify_exp off', // 24
      '\t}', // 25
      '',
    ].join('\n');
    assert.deepEqual(errorsOf(api(body)), [
      'Caddyfile:5: jwt: expected 0 arguments, got 1 (usage: jwt [<matcher>] { issuer ...; audience ...; algorithms ...; leeway ...; typ ...; require ...; claim_header ...; strip_authorization })',
      'Caddyfile:6: jwt: leeway: 360s is more than the 5m allowed: a clock that far off needs fixing, and until then expired tokens would keep working',
      'Caddyfile:7: jwt: leeway is already set at Caddyfile:6',
      'Caddyfile:8: jwt: typ: typ "at jwt" is not a media type name (e.g. at+jwt)',
      'Caddyfile:9: jwt: audience: expected at least 1 argument, got 0 (usage: audience <aud>...)',
      'Caddyfile:10: jwt: require: expected a kind and at least one value (usage: require scope|group <value>... or require claim <name> <value>...)',
      'Caddyfile:11: jwt: require: unknown requirement "scopes" (did you mean "scope"?)',
      'Caddyfile:12: jwt: require scope: expected at least one value (usage: require scope <value>...)',
      'Caddyfile:13: jwt: require scope: scope "two words" may only contain printable ASCII characters other than " and \\ (RFC 6749)',
      'Caddyfile:14: jwt: require claim: expected a claim name and at least one value (usage: require claim <name> <value>...)',
      'Caddyfile:15: jwt: require claim: claim name "__proto__" must be 1 to 256 printable ASCII characters without spaces (and not __proto__, constructor or prototype)',
      'Caddyfile:16: jwt: require claim tenant: expected at least one value (usage: require claim tenant <value>...)',
      'Caddyfile:17: jwt: claim_header: expected 2 arguments, got 1 (usage: claim_header <claim> <header>)',
      'Caddyfile:18: jwt: claim_header: "Authorization" is a header the proxy or the upstream relies on for other things; choose another name',
      'Caddyfile:19: jwt: claim_header: "X-Forwarded-User": X-Forwarded-* headers describe the client\'s connection, not its identity',
      'Caddyfile:21: jwt: claim_header: x_jwt_sub is the same header as X-Jwt-Sub (claim sub): upstreams read - and _ alike, in any case',
      'Caddyfile:22: jwt: strip_authorization: expected 0 arguments, got 1 (usage: strip_authorization)',
      'Caddyfile:23: jwt: issuer: expected 1 argument, got 0 (usage: issuer <url>)',
      'Caddyfile:24: jwt: unknown subdirective "verify_exp"',
    ]);
  });

  it('a value listed twice', () => {
    assert.deepEqual(errorsOf(api('\tjwt {\n\t\taudience a b a\n\t\trequire group ops ops\n\t}\n')), [
      'Caddyfile:6: jwt: audience a is listed twice',
      'Caddyfile:7: jwt: require group: "ops" is listed twice',
    ]);
  });

  it('not in the site that serves identity_provider', () => {
    assert.deepEqual(errorsOf('auth.example.com {\n\tidentity_provider\n\tjwt /api/*\n}\n'), [
      "Caddyfile:3: jwt: cannot be used in the site that serves identity_provider: the provider's discovery, keys and sign-in must stay open; serve the API from a site of its own",
    ]);
  });
});
