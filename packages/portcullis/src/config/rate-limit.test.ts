/**
 * The `rate_limit` directive through the real parser and adapter, and the same checks on JSON
 * configs: the config it produces, where it runs, and every error as a user sees it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config, RateLimitHandler, RouteConfig } from './types.ts';
import { ConfigErrors } from '../kernel/errors.ts';
import { adaptCaddyfileText } from './load.ts';
import { parseConfigJson, validateConfig } from './validate-json.ts';
import { DEFAULT_DIRECTIVE_ORDER, RESERVED_DIRECTIVES } from './directive-order.ts';

const FILE = '/etc/portcullis/Caddyfile';

function adapt(text: string): Config {
  return adaptCaddyfileText(text, FILE, { env: {} });
}

function errorsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.describe().replaceAll('/etc/portcullis/', ''));
  }
  assert.fail('expected the config to be refused');
}

/** example.com (line 1) with `body` from line 2 on. */
function site(body: string): string {
  return `example.com {\n${body}}\n`;
}

function zoneBlock(name: string, lines: string): string {
  return `\t\tzone ${name} {\n${lines
    .split(';')
    .map((l) => `\t\t\t${l.trim()}\n`)
    .join('')}\t\t}\n`;
}

function rateLimits(routes: RouteConfig[]): RateLimitHandler[] {
  return routes.flatMap((r) => r.handle.flatMap((h) => (h.handler === 'rate_limit' ? [h] : h.handler === 'subroute' ? rateLimits(h.routes) : [])));
}

function handlersOf(routes: RouteConfig[]): string[] {
  return routes.flatMap((r) => r.handle.flatMap((h) => (h.handler === 'subroute' ? [`subroute(${handlersOf(h.routes).join(',')})`] : [h.handler])));
}

describe('rate_limit: the adapted config', () => {
  it('zones with their key, events, window in ms and burst (default 0), with a matcher', () => {
    const config = adapt(
      site(`\trate_limit /api/* {\n${zoneBlock('per_ip', 'key {client_ip}; events 100; window 1m')}${zoneBlock('per_key', 'key {header.X-Api-Key}; events 10; window 1.5s; burst 5')}\t}\n\trespond ok\n`),
    );
    assert.deepEqual(config.sites[0]!.routes[0], {
      match: [{ path: ['/api/*'] }],
      handle: [
        {
          handler: 'rate_limit',
          zones: [
            { name: 'per_ip', key: '{client_ip}', events: 100, windowMs: 60_000, burst: 0 },
            { name: 'per_key', key: '{header.X-Api-Key}', events: 10, windowMs: 1500, burst: 5 },
          ],
        },
      ],
      source: { file: FILE, line: 2 },
    });
    assert.deepEqual(validateConfig(config), config, 'the adapted config is a valid JSON config');
  });

  it('caddy-ratelimit configs load: sweep_interval is accepted, {remote_host} kept as written', () => {
    const config = adapt(site(`\trate_limit {\n${zoneBlock('dynamic_example', 'key {remote_host}; events 2; window 5s')}\t\tsweep_interval 1m\n\t}\n`));
    assert.deepEqual(rateLimits(config.sites[0]!.routes)[0]!.zones, [{ name: 'dynamic_example', key: '{remote_host}', events: 2, windowMs: 5000, burst: 0 }]);
  });

  it('runs before authenticate, forward_auth and jwt, after rewrite and uri; no longer reserved', () => {
    const config = adapt(site(`\treverse_proxy app:80\n\tforward_auth auth:9091 {\n\t\turi /v\n\t}\n\trate_limit {\n${zoneBlock('z', 'key k; events 1; window 1s')}\t}\n\turi strip_prefix /x\n`));
    assert.deepEqual(handlersOf(config.sites[0]!.routes), ['rewrite', 'rate_limit', 'forward_auth', 'reverse_proxy']);
    const at = (name: string) => DEFAULT_DIRECTIVE_ORDER.indexOf(name);
    assert.ok(at('uri') < at('rate_limit') && at('rate_limit') < at('authenticate') && at('rate_limit') < at('basic_auth'));
    assert.equal(Object.hasOwn(RESERVED_DIRECTIVES, 'rate_limit'), false);
  });

  it('the order option moves it (after request_header here)', () => {
    const body = `\trate_limit {\n${zoneBlock('z', 'key k; events 1; window 1s')}\t}\n\trequest_header X-A b\n`;
    assert.deepEqual(handlersOf(adapt(site(body)).sites[0]!.routes), ['rate_limit', 'headers']);
    assert.deepEqual(handlersOf(adapt(`{\n\torder rate_limit after request_header\n}\n${site(body)}`).sites[0]!.routes), ['headers', 'rate_limit']);
  });

  it('the same zone in two sites with the same limit: one zone, shared counters', () => {
    const block = `\trate_limit {\n${zoneBlock('shared', 'key {client_ip}; events 5; window 1s')}\t}\n`;
    const config = adapt(`a.example.com {\n${block}}\nb.example.com {\n${block}}\n`);
    assert.equal(config.sites.length, 2);
  });
});

describe('rate_limit: errors', () => {
  const cases: [string, string, string[]][] = [
    ['no block', '\trate_limit\n', ['Caddyfile:2: rate_limit: expected a block with at least one zone (usage: rate_limit [<matcher>] { zone <name> { key <string>; events <num>; window <duration>; burst <num> } })']],
    ['no zone', '\trate_limit {\n\t\tsweep_interval 1m\n\t}\n', ['Caddyfile:2: rate_limit: expected at least one zone (usage: rate_limit [<matcher>] { zone <name> { key <string>; events <num>; window <duration>; burst <num> } })']],
    ['an argument', `\trate_limit /a /b {\n${zoneBlock('z', 'key k; events 1; window 1s')}\t}\n`, ['Caddyfile:2: rate_limit: expected 0 arguments, got 1 (usage: rate_limit [<matcher>] { zone <name> { key <string>; events <num>; window <duration>; burst <num> } })']],
    ['missing settings', '\trate_limit {\n\t\tzone z {\n\t\t\tevents 1\n\t\t}\n\t}\n', ['Caddyfile:3: rate_limit: zone z: needs key, window (usage: zone <name> { key <string>; events <num>; window <duration>; burst <num> })']],
    [
      'bad numbers',
      `\trate_limit {\n${zoneBlock('z', 'key k; events 0; window soon; burst -1')}\t}\n`,
      [
        'Caddyfile:5: rate_limit: zone z: events: "0" is not an integer from 1 to 1000000',
        'Caddyfile:6: rate_limit: zone z: window: invalid duration "soon" (expected forms like 250ms, 10s, 1m30s, 2h, 1d)',
        'Caddyfile:7: rate_limit: zone z: burst: "-1" is not an integer from 0 to 1000000',
      ],
    ],
    ['a zero window', `\trate_limit {\n${zoneBlock('z', 'key k; events 1; window 0')}\t}\n`, ['Caddyfile:6: rate_limit: zone z: window must be from 1ms to 366d']],
    ['too many events per ms', `\trate_limit {\n${zoneBlock('z', 'key k; events 5000; window 1ms')}\t}\n`, ['Caddyfile:6: rate_limit: zone z: 5000 events per 1ms is more than 1000 per millisecond']],
    [
      'a key that changes with every request',
      `\trate_limit {\n${zoneBlock('z', 'key "{client_ip}:{remote_port}"; events 1; window 1s')}${zoneBlock('y', 'key {uuid}; events 1; window 1s')}\t}\n`,
      [
        'Caddyfile:4: rate_limit: zone z: key "{client_ip}:{remote_port}" holds {remote_port}, which changes with every request or connection: each would get a fresh budget (use {client_ip})',
        'Caddyfile:9: rate_limit: zone y: key "{uuid}" holds {uuid}, which changes with every request or connection: each would get a fresh budget (use {client_ip})',
      ],
    ],
    ['a bad zone name', `\trate_limit {\n${zoneBlock('"a b"', 'key k; events 1; window 1s')}\t}\n`, ['Caddyfile:3: rate_limit: zone: zone name "a b" must be 1 to 100 letters, digits, "_", ".", ":" or "-"']],
    [
      'a setting twice, a zone twice',
      `\trate_limit {\n${zoneBlock('z', 'key k; key j; events 1; window 1s')}${zoneBlock('z', 'key k; events 1; window 1s')}\t}\n`,
      ['Caddyfile:5: rate_limit: zone z: key is already set at Caddyfile:4', 'Caddyfile:9: rate_limit: zone z is already defined at Caddyfile:3'],
    ],
    [
      'caddy-ratelimit options Portcullis does not have',
      `\trate_limit {\n${zoneBlock('z', 'key k; events 1; window 1s')}\t\tdistributed\n\t\tjitter 0.2\n\t\tstorage file_system /x\n\t\tzoen x\n\t}\n`,
      [
        'Caddyfile:8: rate_limit: distributed: distributed rate limiting is not supported: each Portcullis process keeps its own counters',
        'Caddyfile:9: rate_limit: jitter: not supported yet: Retry-After is the exact wait, rounded up to a second',
        'Caddyfile:10: rate_limit: storage: not supported: counters are kept in memory (they survive reloads, not restarts)',
        'Caddyfile:11: rate_limit: unknown subdirective "zoen" (did you mean "zone"?)',
      ],
    ],
    ['an unknown zone setting', `\trate_limit {\n${zoneBlock('z', 'key k; events 1; window 1s; max_events 3')}\t}\n`, ['Caddyfile:7: rate_limit: zone: max_events: write events <num> (max_events is the name in caddy-ratelimit\'s JSON)']],
  ];
  for (const [name, body, expected] of cases) {
    it(name, () => assert.deepEqual(errorsOf(() => adapt(site(body))), expected));
  }

  it('one zone name with two different limits', () => {
    const a = `\trate_limit {\n${zoneBlock('shared', 'key {client_ip}; events 5; window 1s')}\t}\n`;
    const b = `\trate_limit /x {\n${zoneBlock('shared', 'key {client_ip}; events 5; window 2s')}\t}\n`;
    assert.deepEqual(errorsOf(() => adapt(`a.example.com {\n${a}}\nb.example.com {\n\thandle {\n${b}\t}\n}\n`)), [
      'Caddyfile:12: rate_limit: zone shared is already defined at Caddyfile:2 with another events, window or burst: zones of one name share their counters, so their limits must be the same (or give this one another name)',
    ]);
  });
});

describe('rate_limit: JSON configs', () => {
  function json(handler: unknown, more: unknown[] = []): string {
    return JSON.stringify({ sites: [{ addresses: [{ original: 'example.com', host: 'example.com' }], routes: [{ handle: [handler] }, ...more] }] }, null, 2);
  }

  it('burst defaults to 0', () => {
    const config = parseConfigJson(json({ handler: 'rate_limit', zones: [{ name: 'z', key: '{client_ip}', events: 5, windowMs: 1000 }] }));
    assert.deepEqual(config.sites[0]!.routes[0]!.handle[0], { handler: 'rate_limit', zones: [{ name: 'z', key: '{client_ip}', events: 5, windowMs: 1000, burst: 0 }] });
  });

  it('the Caddyfile checks apply', () => {
    const errors = errorsOf(() =>
      parseConfigJson(
        json(
          {
            handler: 'rate_limit',
            zones: [
              { name: 'a b', key: '', events: 0, windowMs: 1000, burst: 0.5 },
              { name: 'z', key: '{http.request.remote}', events: 1, windowMs: 0 },
              { name: 'z', key: 'k', events: 10, windowMs: 0.001, extra: 1 },
            ],
          },
          [{ handle: [{ handler: 'rate_limit', zones: [] }] }],
        ),
        'c.json',
      ),
    );
    assert.deepEqual(errors, [
      'c.json:17: sites[0].routes[0].handle[0].zones[0].name: zone name "a b" must be 1 to 100 letters, digits, "_", ".", ":" or "-"',
      'c.json:18: sites[0].routes[0].handle[0].zones[0].key: key must not be empty (write a fixed word for one budget shared by every client)',
      'c.json:19: sites[0].routes[0].handle[0].zones[0].events: 0 is out of range (1 to 1000000)',
      'c.json:21: sites[0].routes[0].handle[0].zones[0].burst: expected a whole number, got 0.5',
      'c.json:25: sites[0].routes[0].handle[0].zones[1].key: key "{http.request.remote}" holds {http.request.remote}, which changes with every request or connection: each would get a fresh budget (use {client_ip})',
      'c.json:27: sites[0].routes[0].handle[0].zones[1].windowMs: window must be from 1ms to 366d',
      'c.json:34: sites[0].routes[0].handle[0].zones[2].extra: unknown field',
      'c.json:33: sites[0].routes[0].handle[0].zones[2].windowMs: window must be from 1ms to 366d',
      'c.json:29: sites[0].routes[0].handle[0].zones[2]: zone z is already defined in this handler',
      'c.json:44: sites[0].routes[1].handle[0].zones: expected a non-empty list',
    ]);
  });

  it('one zone name with two different limits, across sites', () => {
    const zone = (events: number) => ({ handler: 'rate_limit', zones: [{ name: 'shared', key: '{client_ip}', events, windowMs: 1000 }] });
    const siteOf = (host: string, events: number) => ({ addresses: [{ original: host, host }], routes: [{ handle: [{ handler: 'subroute', routes: [{ handle: [zone(events)] }] }] }] });
    const same = { sites: [siteOf('a.example.com', 5), siteOf('b.example.com', 5)] };
    assert.equal(parseConfigJson(same).sites.length, 2);
    const errors = errorsOf(() => parseConfigJson({ sites: [siteOf('a.example.com', 5), siteOf('b.example.com', 6)] }));
    assert.deepEqual(errors, [
      '<json>:1: sites[1].routes[0].handle[0].routes[0].handle[0].zones[0]: rate_limit: zone shared is already defined at sites[0].routes[0].handle[0].routes[0].handle[0].zones[0] with another events, window or burst: zones of one name share their counters, so their limits must be the same (or give this one another name)',
    ]);
  });
});
