/** The adapter on hand-built syntax trees (the golden tests cover it through the parser). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Directive, ParsedCaddyfile, ServerBlock, Token } from './ast.ts';
import { ConfigErrors } from '../kernel/errors.ts';
import { adaptCaddyfile } from './adapt.ts';
import { DEFAULT_DIRECTIVE_ORDER, moveDirective, RESERVED_DIRECTIVES, sortRoutes } from './directive-order.ts';

let line = 0;
const tok = (text: string): Token => ({ text, file: 'Caddyfile', line: ++line, quoted: false });
function d(name: string, args: string[] = [], block: Directive[] | null = null): Directive {
  const nameToken = tok(name);
  return { name, nameToken, args: args.map(tok), block, source: { file: 'Caddyfile', line: nameToken.line } };
}
function site(keys: string[], directives: Directive[]): ServerBlock {
  const k = keys.map(tok);
  return { keys: k, directives, source: { file: 'Caddyfile', line: k[0]!.line } };
}

test('directives are sorted by Caddy order and handle blocks share a group', () => {
  const parsed: ParsedCaddyfile = {
    global: null,
    sites: [
      site(
        ['example.com'],
        [
          d('handle', [], [d('respond', ['fallback'])]),
          d('reverse_proxy', ['/api/*', 'localhost:9000']),
          d('handle_path', ['/static/*'], [d('file_server')]),
          d('header', ['X-A', 'b']),
        ],
      ),
    ],
  };
  const config = adaptCaddyfile(parsed);
  const routes = config.sites[0]!.routes;
  assert.deepEqual(
    routes.map((r) => r.handle[0]!.handler),
    ['headers', 'subroute', 'subroute', 'reverse_proxy'],
  );
  assert.equal(routes[1]!.group, routes[2]!.group);
  assert.deepEqual(routes[1]!.match, [{ path: ['/static/*'] }], 'the handle with a matcher sorts first');
  assert.equal(routes[0]!.group, undefined);
});

test('errors from every site are collected and sorted by line', () => {
  const parsed: ParsedCaddyfile = {
    global: { keys: [], directives: [d('http_port', ['x'])], source: { file: 'Caddyfile', line: 0 } },
    sites: [site(['a.example.com'], [d('respnd', ['x'])]), site(['b.example.com'], [d('root')])],
  };
  assert.throws(
    () => adaptCaddyfile(parsed),
    (err: unknown) => err instanceof ConfigErrors && err.errors.length === 3 && err.errors.every((e, i, all) => i === 0 || all[i - 1]!.source!.line <= e.source!.line),
  );
});

test('directive order: moving directives and reserved names', () => {
  const moved = moveDirective(DEFAULT_DIRECTIVE_ORDER, 'respond', 'before', 'header');
  assert.ok(Array.isArray(moved) && moved.indexOf('respond') === moved.indexOf('header') - 1);
  assert.deepEqual((moveDirective(['a', 'b', 'c'], 'c', 'first', null) as string[]), ['c', 'a', 'b']);
  assert.deepEqual((moveDirective(['a', 'b', 'c'], 'a', 'last', null) as string[]), ['b', 'c', 'a']);
  assert.equal(typeof moveDirective(['a', 'b'], 'a', 'after', 'zz'), 'string');
  for (const name of Object.keys(RESERVED_DIRECTIVES)) assert.ok(DEFAULT_DIRECTIVE_ORDER.includes(name), name);
  const pieces = [
    { directive: 'respond', route: { handle: [] } },
    { directive: 'respond', route: { match: [{ path: ['/a'] }], handle: [] } },
    { directive: 'vars', route: { match: [{ path: ['/v'] }], handle: [] } },
    { directive: 'vars', route: { handle: [] } },
  ];
  sortRoutes(pieces, DEFAULT_DIRECTIVE_ORDER);
  assert.deepEqual(
    pieces.map((p) => `${p.directive}${p.route.match ? ' matched' : ''}`),
    ['vars', 'vars matched', 'respond matched', 'respond'],
  );
});
