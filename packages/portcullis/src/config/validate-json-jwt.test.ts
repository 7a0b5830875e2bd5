/**
 * JSON configs with the jwt handler: defaults filled in (the issuer from the identity provider
 * as in the Caddyfile), the same value checks named by JSON path and line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigJson } from './validate-json.ts';
import { jsonConfigErrors } from '../../test/support/config-errors.ts';


const providerSite = { addresses: [{ original: 'auth.example.com', host: 'auth.example.com' }], routes: [{ handle: [{ handler: 'identity_provider' }] }] };

function apiSite(handler: Record<string, unknown>): unknown {
  return { addresses: [{ original: 'api.example.com', host: 'api.example.com' }], routes: [{ handle: [handler, { handler: 'static_response', body: 'ok' }] }] };
}

describe('JSON config: jwt', () => {
  it('the bare handler gets every default, its issuer from the identity provider', () => {
    const config = parseConfigJson({ sites: [providerSite, apiSite({ handler: 'jwt' })] }, 'config.json');
    assert.deepEqual(config.sites[1]!.routes[0]!.handle[0], {
      handler: 'jwt',
      issuer: 'https://auth.example.com',
      audience: ['https://auth.example.com'],
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      leewayMs: 30_000,
      typ: null,
      require: [],
      claimHeaders: [],
      stripAuthorization: false,
    });
  });

  it('every field', () => {
    const handler = {
      handler: 'jwt',
      issuer: 'https://kc.example.com/realms/main',
      audience: ['account'],
      algorithms: ['ES256'],
      leewayMs: 0,
      typ: 'at+jwt',
      require: [
        { kind: 'scope', values: ['reports'] },
        { kind: 'claim', claim: 'tenant', values: ['acme'] },
      ],
      claimHeaders: [{ claim: 'sub', header: 'X-Jwt-Sub' }],
      stripAuthorization: true,
    };
    const config = parseConfigJson({ sites: [apiSite(handler)] }, 'config.json');
    assert.deepEqual(config.sites[0]!.routes[0]!.handle[0], handler);
  });

  it('no issuer and no identity provider', () => {
    assert.deepEqual(jsonConfigErrors({ sites: [apiSite({ handler: 'jwt' })] }), [
      'config.json:13: sites[0].routes[0].handle[0]: jwt: set issuer: this config has no identity provider whose issuer could be the default',
    ]);
  });

  it('field errors, by path and line', () => {
    const errors = jsonConfigErrors({
      sites: [
        apiSite({
          handler: 'jwt',
          issuer: 'http://auth.example.com',
          audience: ['a', 'a'],
          algorithms: ['HS256', 'none'],
          leewayMs: 600_000,
          typ: '',
          require: [
            { kind: 'claim', values: ['x'] },
            { kind: 'scope', claim: 'tenant', values: ['a b'] },
            { kind: 'roles', values: ['x'] },
          ],
          claimHeaders: [
            { claim: 'sub', header: 'Cookie' },
            { claim: 'sub', header: 'X-Sub' },
            { claim: 'name', header: 'x_sub' },
          ],
          stripAuthorization: 'yes',
        }),
      ],
    });
    assert.deepEqual(errors, [
      'config.json:15: sites[0].routes[0].handle[0].issuer: issuer "http://auth.example.com" must use https (http is allowed only for localhost, 127.0.0.1 and [::1]): its signing keys must not travel in clear',
      'config.json:21: sites[0].routes[0].handle[0].algorithms[0]: "HS256" is refused: an HMAC algorithm lets anyone who has the issuer\'s public key forge tokens (algorithm confusion); use asymmetric signatures (RS256, ES256, EdDSA)',
      'config.json:22: sites[0].routes[0].handle[0].algorithms[1]: "none" is refused: an unsigned token proves nothing',
      'config.json:24: sites[0].routes[0].handle[0].leewayMs: 600s is more than the 5m allowed: a clock that far off needs fixing, and until then expired tokens would keep working',
      'config.json:25: sites[0].routes[0].handle[0].typ: typ "" is not a media type name (e.g. at+jwt)',
      'config.json:27: sites[0].routes[0].handle[0].require[0]: a claim requirement needs the claim name in "claim"',
      'config.json:35: sites[0].routes[0].handle[0].require[1].claim: only claim requirements name a claim, not scope',
      'config.json:37: sites[0].routes[0].handle[0].require[1].values[0]: scope "a b" may only contain printable ASCII characters other than " and \\ (RFC 6749)',
      'config.json:41: sites[0].routes[0].handle[0].require[2].kind: unknown requirement "roles" (expected scope, group, claim)',
      'config.json:50: sites[0].routes[0].handle[0].claimHeaders[0].header: "Cookie" is a header the proxy or the upstream relies on for other things; choose another name',
      'config.json:61: sites[0].routes[0].handle[0].stripAuthorization: expected true or false, got string "yes"',
      'config.json:18: sites[0].routes[0].handle[0].audience[1]: audience a is listed twice',
      'config.json:56: sites[0].routes[0].handle[0].claimHeaders[2]: claim_header: x_sub is the same header as X-Sub (claim sub): upstreams read - and _ alike, in any case',
    ]);
  });

  it('not in the site that serves identity_provider', () => {
    const site = { ...providerSite, routes: [{ handle: [{ handler: 'jwt' }] }, ...providerSite.routes] };
    assert.deepEqual(jsonConfigErrors({ sites: [site] }), [
      "config.json:13: sites[0].routes[0].handle[0]: jwt: cannot be used in the site that serves identity_provider: the provider's discovery, keys and sign-in must stay open; serve the API from a site of its own",
    ]);
  });
});
