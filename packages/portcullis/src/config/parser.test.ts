import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigErrors, ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import type { Directive, ParsedCaddyfile, ServerBlock, Token } from './ast.ts';
import { parseCaddyfile } from './parser.ts';
import type { ParseOptions } from './parser.ts';

const FILE = 'Caddyfile';

function parse(text: string, options: ParseOptions = {}): ParsedCaddyfile {
  return parseCaddyfile(text, FILE, { env: {}, ...options });
}

/** A directive as one line of text (quoted args in JSON quotes) and, when it has one, its block. */
type Shape = string | [string, Shape[]];

function line(d: Directive): string {
  const show = (t: Token): string => (t.quoted ? JSON.stringify(t.text) : t.text);
  return [show(d.nameToken), ...d.args.map(show)].join(' ');
}

function shape(d: Directive): Shape {
  return d.block === null ? line(d) : [line(d), d.block.map(shape)];
}

function sites(parsed: ParsedCaddyfile): Array<{ keys: string[]; directives: Shape[] }> {
  return parsed.sites.map((s) => ({ keys: s.keys.map((k) => k.text), directives: s.directives.map(shape) }));
}

/** Runs `fn`, which must throw ConfigErrors; returns `file:line: message` of each error. */
function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `expected ConfigErrors, got ${String(err)}`);
    for (const e of err.errors) {
      assert.ok(e instanceof PortcullisError);
      assert.ok(e.code === ErrorCodes.ERR_CONFIG_SYNTAX || e.code === ErrorCodes.ERR_CONFIG_IMPORT, e.code);
      assert.ok(e.source !== undefined, 'every error has a source');
    }
    return err.errors.map((e) => e.describe());
  }
  assert.fail('expected the parse to fail');
}

function tok(text: string, line: number, quoted = false, file = FILE): Token {
  return { text, file, line, quoted };
}

function dir(name: Token, args: Token[], block: Directive[] | null = null): Directive {
  return { name: name.text, nameToken: name, args, block, source: { file: name.file, line: name.line } };
}

/** The Caddyfile from the proxy-core issue, shared with the fmt and end-to-end tests. */
const ISSUE_CADDYFILE = fs.readFileSync(new URL('../../test/fixtures/issue-snippet.caddyfile', import.meta.url), 'utf8');

describe('parser: the example from the issue', () => {
  it('parses to the expected tree, with env and the snippet expanded', () => {
    const parsed = parse(ISSUE_CADDYFILE, { env: { DOMAIN: 'example.org' } });
    const expected: ParsedCaddyfile = {
      global: null,
      sites: [
        {
          keys: [tok('example.com', 1)],
          source: { file: FILE, line: 1 },
          directives: [
            dir(tok('root', 2), [tok('*', 2), tok('/srv', 2)]),
            dir(tok('file_server', 3), []),
            dir(
              tok('header', 4),
              [tok('Cache-Control', 4), tok('max-age=3600', 4, true)],
              [dir(tok('match', 5), [], [dir(tok('path', 6), [tok('*.css', 6), tok('*.js', 6), tok('*.png', 6), tok('*.jpg', 6)])])],
            ),
          ],
        },
        {
          keys: [tok('api.example.com', 10)],
          source: { file: FILE, line: 10 },
          directives: [dir(tok('reverse_proxy', 11), [tok('localhost:3000', 11)])],
        },
        {
          keys: [tok('rss.example.org', 16)],
          source: { file: FILE, line: 16 },
          directives: [
            dir(tok('reverse_proxy', 17), [tok('miniflux:8080', 17)]),
            // The snippet's directive points at the snippet's line.
            dir(tok('tls', 14), [tok('internal', 14)]),
          ],
        },
      ],
    };
    assert.deepEqual(parsed, expected);
  });

  it('an unset DOMAIN becomes empty, as in Caddy', () => {
    assert.equal(parse(ISSUE_CADDYFILE).sites[2]?.keys[0]?.text, 'rss.');
  });

  it('defaults to process.env', () => {
    process.env.PORTCULLIS_TEST_DOMAIN = 'from-process.test';
    try {
      const parsed = parseCaddyfile('{$PORTCULLIS_TEST_DOMAIN} {\n}\n', FILE);
      assert.equal(parsed.sites[0]?.keys[0]?.text, 'from-process.test');
    } finally {
      delete process.env.PORTCULLIS_TEST_DOMAIN;
    }
  });
});

describe('parser: structure', () => {
  const cases: Array<{ name: string; input: string; global?: Shape[] | null; sites: Array<{ keys: string[]; directives: Shape[] }> }> = [
    { name: 'empty file', input: '', global: null, sites: [] },
    { name: 'comments only', input: '# nothing\n\n# here\n', global: null, sites: [] },
    {
      name: 'global options block first',
      input: '{\n\tdebug\n\temail a@b.c\n}\na.com {\n\trespond hi\n}\n',
      global: ['debug', 'email a@b.c'],
      sites: [{ keys: ['a.com'], directives: ['respond hi'] }],
    },
    { name: 'global options alone', input: '{\n\tadmin off\n}\n', global: ['admin off'], sites: [] },
    {
      name: 'one site without braces',
      input: 'localhost\n\nrespond "hi"\nfile_server\n',
      sites: [{ keys: ['localhost'], directives: ['respond "hi"', 'file_server'] }],
    },
    {
      name: 'global options, then one site without braces',
      input: '{\n\tdebug\n}\nlocalhost:8080\nrespond hi\n',
      global: ['debug'],
      sites: [{ keys: ['localhost:8080'], directives: ['respond hi'] }],
    },
    { name: 'only an address', input: 'localhost\n', sites: [{ keys: ['localhost'], directives: [] }] },
    { name: 'addresses separated by commas', input: 'a.com, b.com,c.com {\n}\n'.replace('b.com,c', 'b.com, c'), sites: [{ keys: ['a.com', 'b.com', 'c.com'], directives: [] }] },
    { name: 'addresses separated by spaces', input: 'a.com b.com :8080 {\n}\n', sites: [{ keys: ['a.com', 'b.com', ':8080'], directives: [] }] },
    { name: 'a lone comma between addresses', input: 'a.com , b.com {\n}\n', sites: [{ keys: ['a.com', 'b.com'], directives: [] }] },
    {
      name: 'addresses over several lines ending with commas',
      input: 'a.com,\n  b.com,\n\n  http://c.com {\n\trespond x\n}\n',
      sites: [{ keys: ['a.com', 'b.com', 'http://c.com'], directives: ['respond x'] }],
    },
    { name: 'brace on the line after the addresses', input: 'a.com\n{\n\trespond x\n}\n', sites: [{ keys: ['a.com'], directives: ['respond x'] }] },
    {
      name: 'empty and nested blocks',
      input: 'a.com {\n\tlog {\n\t}\n\treverse_proxy b:1 {\n\t\thealth_uri /h\n\t\ttransport http {\n\t\t\ttls\n\t\t}\n\t}\n}\n',
      sites: [{ keys: ['a.com'], directives: [['log', []], ['reverse_proxy b:1', ['health_uri /h', ['transport http', ['tls']]]]] }],
    },
    {
      name: 'named matchers are directives, inline matchers are args',
      input: 'a.com {\n\t@api path /api/*\n\t@post {\n\t\tmethod POST\n\t}\n\treverse_proxy @api b:1\n\trespond * 404\n\tfile_server /static*\n}\n',
      sites: [
        { keys: ['a.com'], directives: ['@api path /api/*', ['@post', ['method POST']], 'reverse_proxy @api b:1', 'respond * 404', 'file_server /static*'] },
      ],
    },
    {
      name: 'quoted braces are text, not blocks',
      input: 'a.com {\n\trespond "{" 200\n\t"}" x\n\theader X "{}"\n}\n',
      sites: [{ keys: ['a.com'], directives: ['respond "{" 200', '"}" x', 'header X "{}"'] }],
    },
    { name: '{} inside a line is an argument', input: 'a.com {\n\trespond {} 200\n}\n', sites: [{ keys: ['a.com'], directives: ['respond {} 200'] }] },
    {
      name: 'runtime placeholders and {args} outside imports stay as written',
      input: 'a.com {\n\theader X-Host {host} {http.request.header.X} {args[0]}\n}\n',
      sites: [{ keys: ['a.com'], directives: ['header X-Host {host} {http.request.header.X} {args[0]}'] }],
    },
    {
      name: 'line continuation',
      input: 'a.com {\n\treverse_proxy a:1 \\\n\t\tb:2 \\\n\t\tc:3\n\tfile_server\n}\n',
      sites: [{ keys: ['a.com'], directives: ['reverse_proxy a:1 b:2 c:3', 'file_server'] }],
    },
    {
      name: 'heredoc argument followed by more args',
      input: 'a.com {\n\trespond <<EOF\n\t\t<b>hi</b>\n\t\tEOF 200\n\tfile_server\n}\n',
      sites: [{ keys: ['a.com'], directives: ['respond "<b>hi</b>" 200', 'file_server'] }],
    },
    {
      name: "a closing brace after a directive's last argument (Caddy accepts it)",
      input: 'a.com {\n\theader {\n\t\tX-A 1 }\n\tfile_server\n}\n',
      sites: [{ keys: ['a.com'], directives: [['header', ['X-A 1']], 'file_server'] }],
    },
    {
      name: 'two closing braces on one line',
      input: 'a.com {\n\tx {\n\t\ty {\n\t\t\tz } }\n}\n',
      sites: [{ keys: ['a.com'], directives: [['x', [['y', ['z']]]]] }],
    },
    {
      name: 'named route blocks parse like sites',
      input: '&(app) {\n\treverse_proxy app:80\n}\n',
      sites: [{ keys: ['&(app)'], directives: ['reverse_proxy app:80'] }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const parsed = parse(c.input);
      if (c.global !== undefined) assert.deepEqual(parsed.global === null ? null : parsed.global.directives.map(shape), c.global);
      assert.deepEqual(sites(parsed), c.sites);
    });
  }

  it('block is null without braces and an array with them', () => {
    const d = parse('a.com {\n\tlog\n\tlog {\n\t}\n}\n').sites[0]?.directives;
    assert.equal(d?.[0]?.block, null);
    assert.deepEqual(d?.[1]?.block, []);
  });

  it('sources: the first key for a site, the brace for the global block, the name for directives', () => {
    const parsed = parse('\n{\n\tdebug\n}\n\n\na.com,\nb.com {\n\n\trespond \\\n\t\thi\n}\n');
    assert.deepEqual(parsed.global?.source, { file: FILE, line: 2 });
    const site = parsed.sites[0] as ServerBlock;
    assert.deepEqual(site.source, { file: FILE, line: 7 });
    assert.deepEqual(
      site.keys.map((k) => k.line),
      [7, 8],
    );
    assert.deepEqual(site.directives[0]?.source, { file: FILE, line: 10 });
    // A continued argument keeps the line it is written on.
    assert.equal(site.directives[0]?.args[0]?.line, 11);
  });

  it('quoted tokens are flagged', () => {
    const d = parse('a.com {\n\trespond "x" `y` <<E\n\tz\n\tE w\n}\n').sites[0]?.directives[0];
    assert.deepEqual(
      d?.args.map((a) => [a.text, a.quoted]),
      [
        ['x', true],
        ['y', true],
        ['z', true],
        ['w', false],
      ],
    );
  });

  it('lines inside an env value do not shift later line numbers', () => {
    const parsed = parse('a.com {\n\t{$DIRECTIVES}\n\tfile_server\n}\n', { env: { DIRECTIVES: 'encode gzip\nrespond /x 404' } });
    assert.deepEqual(sites(parsed), [{ keys: ['a.com'], directives: ['encode gzip', 'respond /x 404', 'file_server'] }]);
    assert.equal(parsed.sites[0]?.directives[2]?.source.line, 3);
  });

  it('an env value may hold several arguments', () => {
    const parsed = parse('a.com {\n\treverse_proxy {$UPSTREAMS:localhost:1}\n}\n', { env: { UPSTREAMS: 'a:1 b:2' } });
    assert.deepEqual(sites(parsed)[0]?.directives, ['reverse_proxy a:1 b:2']);
    assert.deepEqual(sites(parse('a.com {\n\treverse_proxy {$UPSTREAMS:localhost:1}\n}\n'))[0]?.directives, ['reverse_proxy localhost:1']);
  });
});

describe('parser: syntax errors', () => {
  const cases: Array<{ name: string; input: string; errors: RegExp[] }> = [
    { name: "unexpected '}' at the top level", input: 'a.com {\n}\n}\n', errors: [/^Caddyfile:3: unexpected '}'/] },
    { name: "unclosed '{' reports where it was opened", input: 'a.com {\n\tlog {\n\t\toutput stdout\n', errors: [/^Caddyfile:1: unclosed/, /^Caddyfile:2: unclosed '\{'.*line 2/] },
    { name: 'unclosed quote', input: 'a.com {\n\trespond "hi\n}\n', errors: [/^Caddyfile:1: unclosed '\{'/, /^Caddyfile:2: unclosed quote/] },
    { name: 'unclosed heredoc', input: 'a.com {\n\trespond <<EOF\n\thi\n}\n', errors: [/^Caddyfile:1: unclosed '\{'/, /^Caddyfile:2: unclosed heredoc/] },
    { name: "'{' in the middle of a line", input: 'a.com {\n\theader { X-A 1\n\t}\n}\n', errors: [/^Caddyfile:2: unexpected 'X-A' after '\{'/] },
    { name: "site content on the '{' line", input: 'a.com { respond hi\n}\n', errors: [/^Caddyfile:1: unexpected 'respond' after '\{'/] },
    { name: "'{' at the start of a line", input: 'a.com {\n\theader\n\t{\n\t\tX-A 1\n\t}\n}\n', errors: [/^Caddyfile:3: unexpected '\{' at the start of a line/] },
    { name: 'snippet defined inside a block', input: 'a.com {\n\t(s) {\n\t\tlog\n\t}\n}\n', errors: [/^Caddyfile:2: snippet \(s\) must be defined at the top level/] },
    { name: "'{}' at the end of a line", input: 'a.com {\n\tlog {}\n}\n', errors: [/^Caddyfile:2: unexpected '\{\}' at the end of a line/] },
    { name: "token after '}'", input: 'a.com {\n\tlog {\n\t} x\n}\n', errors: [/^Caddyfile:3: unexpected 'x' after '\}'/] },
    { name: "site block '}' after an argument", input: 'a.com {\n\tfile_server }\n', errors: [/^Caddyfile:1: unclosed/, /^Caddyfile:2: unexpected '\}'.*own line/] },
    { name: 'address glued to the brace', input: 'a.com{\n\trespond x\n}\n', errors: [/^Caddyfile:1: site address 'a.com\{' ends with '\{'/] },
    { name: 'addresses without a space after the comma', input: 'a.com,b.com {\n}\n', errors: [/^Caddyfile:1: site address 'a.com,b.com' contains a comma/] },
    { name: 'extra comma before the brace', input: 'a.com, {\n}\n', errors: [/^Caddyfile:1: expected another site address after ','/] },
    { name: 'trailing comma at the end of the file', input: 'a.com,\n', errors: [/^Caddyfile:1: expected another site address/] },
    { name: 'matcher at the top level', input: '@api path /api\n', errors: [/^Caddyfile:1: request matchers like '@api' must be defined inside a site block/] },
    {
      name: 'matcher block at the top level is skipped whole',
      input: '@api {\n\tpath /api\n}\na.com {\n}\n',
      errors: [/^Caddyfile:1: request matchers like '@api' must be defined inside a site block/],
    },
    { name: 'a second global options block', input: '{\n}\na.com {\n}\n{\n\tdebug\n}\n', errors: [/^Caddyfile:5: a block without site addresses is the global options block/] },
    { name: 'global options block after a site', input: 'a.com {\n}\n{\n\tdebug\n}\n', errors: [/^Caddyfile:3: .*global options block/] },
    { name: 'snippet without a block', input: '(s)\nrespond x\n', errors: [/^Caddyfile:1: snippet \(s\) must be followed by '\{'/] },
    { name: 'snippet without a name', input: '() {\n\tlog\n}\n', errors: [/^Caddyfile:1: a snippet needs a name/] },
    { name: 'snippet redeclared', input: '(s) {\n\tlog\n}\n(s) {\n\tlog\n}\n', errors: [/^Caddyfile:4: snippet \(s\) is already defined at Caddyfile:1/] },
    { name: 'import without a target', input: 'a.com {\n\timport\n}\n', errors: [/^Caddyfile:2: import needs a snippet name or a file path/] },
    { name: 'heredoc less indented than its marker', input: 'a.com {\n\trespond <<EOF\n\t\tok\n\tbad\n\t\tEOF\n}\n', errors: [/^Caddyfile:4: heredoc <<EOF: line 4 is indented less/] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const errors = errorsOf(() => parse(c.input));
      assert.equal(errors.length, c.errors.length, errors.join('\n'));
      c.errors.forEach((re, k) => assert.match(errors[k] as string, re));
    });
  }

  it('reports several errors at once, each with its line', () => {
    const input = [
      'a.com {', //            1
      '\theader { X 1', //     2: token after {
      '\t}', //                3
      '\t(s) {', //            4: snippet inside a block
      '\t}', //                5
      '}', //                  6
      '}', //                  7: unexpected }
      'b.com{', //             8: glued brace
      '}', //                  9
      '@m path /', //          10: matcher at top level
      'c.com {', //            11: unclosed
      '\trespond "x', //       12: unclosed quote
    ].join('\n');
    const errors = errorsOf(() => parse(input));
    assert.deepEqual(
      errors.map((e) => e.split(':').slice(0, 2).join(':')),
      ['Caddyfile:2', 'Caddyfile:4', 'Caddyfile:7', 'Caddyfile:8', 'Caddyfile:10', 'Caddyfile:11', 'Caddyfile:12'],
    );
  });

  it('the thrown ConfigErrors lists every error in its message', () => {
    try {
      parse('}\n}\n');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors);
      assert.equal(err.message, "Caddyfile:1: unexpected '}': no block is open\nCaddyfile:2: unexpected '}': no block is open");
    }
  });

  it('absurdly deep nesting is an error, not a stack overflow', () => {
    const depth = 20000;
    const input = 'a.com {\n' + 'x {\n'.repeat(depth) + '}\n'.repeat(depth + 1);
    const errors = errorsOf(() => parse(input));
    assert.deepEqual(errors, ['Caddyfile:65: blocks nested more than 64 deep']);
  });

  it('a snippet head glued to its brace is reported, and the snippet still defined', () => {
    const errors = errorsOf(() => parse('(s){\n\tlog\n}\na.com {\n\timport s\n}\n'));
    assert.deepEqual(errors, ["Caddyfile:1: site address '(s){' ends with '{': put a space between the address and the brace"]);
  });

  it('an import block needs named sub-blocks', () => {
    const errors = errorsOf(() => parse('(s) {\n\t{block}\n}\na.com {\n\timport s {\n\t\t{\n\t\t}\n\t}\n}\n'));
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /^Caddyfile:6: an import block holds named sub-blocks/);
  });

  it('stops after a bounded number of errors', () => {
    const errors = errorsOf(() => parse('}\n'.repeat(1000)));
    assert.ok(errors.length <= 101, String(errors.length));
    assert.match(errors.at(-1) as string, /too many errors/);
  });
});

describe('parser: snippets', () => {
  const cases: Array<{ name: string; input: string; sites: Array<{ keys: string[]; directives: Shape[] }> }> = [
    {
      name: 'arguments by index',
      input: '(proxy) {\n\treverse_proxy {args[0]} {\n\t\theader_up Host {args[1]}\n\t}\n}\na.com {\n\timport proxy app:80 a.internal\n}\n',
      sites: [{ keys: ['a.com'], directives: [['reverse_proxy app:80', ['header_up Host a.internal']]] }],
    },
    {
      name: 'arguments inside a larger token and the old {args.N} form',
      input: '(log) {\n\tlog {\n\t\toutput file /var/log/{args[0]}-{args.1}.log\n\t}\n}\na.com {\n\timport log site access\n}\n',
      sites: [{ keys: ['a.com'], directives: [['log', ['output file /var/log/site-access.log']]] }],
    },
    {
      name: 'all arguments with {args[:]}',
      input: '(up) {\n\treverse_proxy {args[:]}\n}\na.com {\n\timport up a:1 b:2 c:3\n}\n',
      sites: [{ keys: ['a.com'], directives: ['reverse_proxy a:1 b:2 c:3'] }],
    },
    {
      name: 'argument ranges',
      input: '(r) {\n\tx {args[1:]}\n\ty {args[:1]}\n\tz {args[1:2]}\n}\na.com {\n\timport r a b c\n}\n',
      sites: [{ keys: ['a.com'], directives: ['x b c', 'y a', 'z b'] }],
    },
    {
      name: 'an empty range gives no tokens, an out-of-range index stays as written (as in Caddy)',
      input: '(r) {\n\tx {args[3:]} end\n\ty {args[5]} {args[0:9]}\n}\na.com {\n\timport r a b c\n}\n',
      sites: [{ keys: ['a.com'], directives: ['x end', 'y {args[5]} {args[0:9]}'] }],
    },
    {
      name: 'a quoted argument stays quoted',
      input: '(r) {\n\trespond {args[0]} {args[1]}\n}\na.com {\n\timport r "{" "two words"\n}\n',
      sites: [{ keys: ['a.com'], directives: ['respond "{" "two words"'] }],
    },
    {
      name: 'a snippet used before its definition in the same file',
      input: 'a.com {\n\timport later\n}\n(later) {\n\ttls internal\n}\n',
      sites: [{ keys: ['a.com'], directives: ['tls internal'] }],
    },
    {
      name: 'a snippet importing another snippet, passing arguments on',
      input: '(inner) {\n\trespond {args[0]}\n}\n(outer) {\n\timport inner {args[1]}\n\tlog\n}\na.com {\n\timport outer x y\n}\n',
      sites: [{ keys: ['a.com'], directives: ['respond y', 'log'] }],
    },
    {
      name: 'a snippet imported at the top level defines sites',
      input: '(site) {\n\t{args[0]} {\n\t\trespond {args[1]}\n\t}\n}\nimport site a.com A\nimport site b.com B\n',
      sites: [
        { keys: ['a.com'], directives: ['respond A'] },
        { keys: ['b.com'], directives: ['respond B'] },
      ],
    },
    {
      name: 'snippet imported in nested blocks',
      input: '(hdr) {\n\tX-Frame-Options DENY\n}\na.com {\n\theader {\n\t\timport hdr\n\t\tX-B 1\n\t}\n}\n',
      sites: [{ keys: ['a.com'], directives: [['header', ['X-Frame-Options DENY', 'X-B 1']]] }],
    },
    {
      name: 'snippet providing a matcher and a block',
      input: '(api) {\n\t@api path /api/*\n\thandle @api {\n\t\treverse_proxy api:1\n\t}\n}\na.com {\n\timport api\n\tfile_server\n}\n',
      sites: [{ keys: ['a.com'], directives: ['@api path /api/*', ['handle @api', ['reverse_proxy api:1']], 'file_server'] }],
    },
    {
      name: '{block} and {blocks.name} (Caddy 2.9)',
      input:
        '(wrap) {\n\treverse_proxy {args[0]} {\n\t\t{block}\n\t}\n\theader {\n\t\t{blocks.headers}\n\t}\n}\n' +
        'a.com {\n\timport wrap app:80 {\n\t\tlb_policy first\n\t\theaders {\n\t\t\tX-A 1\n\t\t}\n\t}\n}\n',
      sites: [{ keys: ['a.com'], directives: [['reverse_proxy app:80', ['lb_policy first', ['headers', ['X-A 1']]]], ['header', ['X-A 1']]] }],
    },
    {
      name: 'the same snippet imported twice',
      input: '(s) {\n\tlog\n}\na.com {\n\timport s\n\timport s\n}\n',
      sites: [{ keys: ['a.com'], directives: ['log', 'log'] }],
    },
    {
      name: 'an empty snippet',
      input: '(none) {\n}\na.com {\n\timport none\n\tlog\n}\n',
      sites: [{ keys: ['a.com'], directives: ['log'] }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(sites(parse(c.input)), c.sites));
  }

  it('snippet tokens point at the snippet, argument values at the placeholder', () => {
    const d = parse('(s) {\n\trespond {args[0]}\n}\na.com {\n\timport s hello\n}\n').sites[0]?.directives[0];
    assert.deepEqual(d?.source, { file: FILE, line: 2 });
    assert.deepEqual(d?.args[0], tok('hello', 2));
  });

  it('import problems carry ERR_CONFIG_IMPORT, syntax problems ERR_CONFIG_SYNTAX', () => {
    try {
      parse('(a) {\n\timport a\n}\nx.com {\n\timport a\n\timport missing.caddy\n\tlog {\n}\n');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors);
      assert.deepEqual(
        err.errors.map((e) => [e.code, e.source]),
        [
          [ErrorCodes.ERR_CONFIG_IMPORT, { file: FILE, line: 2 }],
          [ErrorCodes.ERR_CONFIG_SYNTAX, { file: FILE, line: 4 }],
          [ErrorCodes.ERR_CONFIG_IMPORT, { file: FILE, line: 6 }],
        ],
      );
    }
  });

  it('a snippet importing itself is a cycle', () => {
    const errors = errorsOf(() => parse('(a) {\n\timport a\n}\nx.com {\n\timport a\n}\n'));
    assert.equal(errors.length, 1);
    assert.equal(errors[0], 'Caddyfile:2: import cycle: Caddyfile:5 imports snippet "a" → Caddyfile:2 imports snippet "a" (imported at Caddyfile:5)');
  });

  it('an indirect snippet cycle names the chain', () => {
    const input = '(a) {\n\timport b\n}\n(b) {\n\timport c\n}\n(c) {\n\timport a\n}\nx.com {\n\timport a\n}\n';
    const errors = errorsOf(() => parse(input));
    assert.equal(errors.length, 1);
    assert.match(
      errors[0] as string,
      /^Caddyfile:8: import cycle: Caddyfile:11 imports snippet "a" → Caddyfile:2 imports snippet "b" → Caddyfile:5 imports snippet "c" → Caddyfile:8 imports snippet "a"/,
    );
  });

  it('importing one snippet from two others is not a cycle', () => {
    const input = '(leaf) {\n\tlog\n}\n(l) {\n\timport leaf\n}\n(r) {\n\timport leaf\n}\nx.com {\n\timport l\n\timport r\n}\n';
    assert.deepEqual(sites(parse(input)), [{ keys: ['x.com'], directives: ['log', 'log'] }]);
  });

  it('an unknown snippet name is a missing file, reported at the import', () => {
    const errors = errorsOf(() => parse('a.com {\n\timport nosuch\n}\n'));
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /^Caddyfile:2: file to import not found: nosuch .*no snippet named nosuch/);
  });

  it('expansion that multiplies tokens without bound is stopped', () => {
    const levels = ['(s0) {\n\t' + 'x '.repeat(100) + '\n}'];
    for (let k = 1; k <= 4; k++) levels.push(`(s${k}) {\n` + `\timport s${k - 1}\n`.repeat(100) + '}');
    const errors = errorsOf(() => parse(levels.join('\n') + '\na.com {\n\timport s4\n}\n'));
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /imports expand to more than/);
  });
});

describe('parser: file imports', () => {
  let dir = '';
  const write = (rel: string, text: string): string => {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  };
  const parseFile = (rel: string, options: ParseOptions = {}): ParsedCaddyfile => {
    const file = path.join(dir, rel);
    return parseCaddyfile(fs.readFileSync(file, 'utf8'), file, { env: {}, ...options });
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-parser-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports a file relative to the importing file; its tokens keep their own file:line', () => {
    const common = write('basic/conf/common.caddy', '# shared\n\nencode gzip\nheader X-A {args[0]}\n');
    write('basic/Caddyfile', 'a.com {\n\timport conf/common.caddy one\n\tfile_server\n}\n');
    const site = parseFile('basic/Caddyfile').sites[0] as ServerBlock;
    assert.deepEqual(site.directives.map(shape), ['encode gzip', 'header X-A one', 'file_server']);
    assert.deepEqual(site.directives[0]?.source, { file: common, line: 3 });
    assert.deepEqual(site.directives[1]?.args[1], tok('one', 4, false, common));
    assert.deepEqual(site.directives[2]?.source, { file: path.join(dir, 'basic/Caddyfile'), line: 3 });
  });

  it('nested imports resolve relative to each importing file', () => {
    write('nested/sites/a.caddy', 'a.com {\n\timport ../snippets/tls.caddy\n}\n');
    write('nested/snippets/tls.caddy', 'tls internal\n');
    write('nested/Caddyfile', 'import sites/a.caddy\n');
    assert.deepEqual(sites(parseFile('nested/Caddyfile')), [{ keys: ['a.com'], directives: ['tls internal'] }]);
  });

  it('glob imports, in sorted order, skipping dotfiles', () => {
    write('glob/sites/b.caddy', 'b.com {\n\trespond b\n}\n');
    write('glob/sites/a.caddy', 'a.com {\n\trespond a\n}\n');
    write('glob/sites/.hidden.caddy', 'hidden.com {\n}\n');
    write('glob/sites/c.txt', 'c.com {\n}\n');
    write('glob/Caddyfile', '{\n\tdebug\n}\nimport sites/*.caddy\nz.com {\n}\n');
    const parsed = parseFile('glob/Caddyfile');
    assert.deepEqual(parsed.global?.directives.map(shape), ['debug']);
    assert.deepEqual(
      parsed.sites.map((s) => s.keys[0]?.text),
      ['a.com', 'b.com', 'z.com'],
    );
    assert.equal(parsed.sites[1]?.source.file, path.join(dir, 'glob/sites/b.caddy'));
  });

  it('a glob matching nothing is not an error', () => {
    write('empty-glob/Caddyfile', 'a.com {\n\timport extra/*.caddy\n\tlog\n}\n');
    assert.deepEqual(sites(parseFile('empty-glob/Caddyfile')), [{ keys: ['a.com'], directives: ['log'] }]);
  });

  it('a glob with more than one wildcard is refused', () => {
    write('wild/Caddyfile', 'import */*.caddy\n');
    const errors = errorsOf(() => parseFile('wild/Caddyfile'));
    assert.match(errors[0] as string, /Caddyfile:1: import pattern \*\/\*\.caddy may contain only one wildcard/);
  });

  it('a missing file is an error at the import line', () => {
    const main = write('missing/Caddyfile', 'a.com {\n\tlog\n\timport nope.caddy\n}\n');
    const errors = errorsOf(() => parseFile('missing/Caddyfile'));
    assert.equal(errors.length, 1);
    assert.ok((errors[0] as string).startsWith(`${main}:3: file to import not found: nope.caddy`), errors[0]);
  });

  it('errors inside an imported file carry that file and line', () => {
    const inc = write('errs/inc.caddy', 'log\nheader { X 1\n}\n');
    const main = write('errs/Caddyfile', 'a.com {\n\timport inc.caddy\n}\n}\n');
    const errors = errorsOf(() => parseFile('errs/Caddyfile'));
    assert.deepEqual(errors, [
      `${inc}:2: unexpected 'X' after '{': a block's content starts on the next line (imported at ${main}:2)`,
      `${main}:4: unexpected '}': no block is open`,
    ]);
  });

  it('a file importing itself is a cycle', () => {
    const main = write('self/Caddyfile', 'a.com {\n}\nimport Caddyfile\n');
    const errors = errorsOf(() => parseFile('self/Caddyfile'));
    assert.deepEqual(errors, [`${main}:3: import cycle: ${main}:3 imports ${main}`]);
  });

  it('an indirect file cycle names the chain', () => {
    const a = write('cycle/a.caddy', 'import b.caddy\n');
    const b = write('cycle/b.caddy', '\n\nimport a.caddy\n');
    const main = write('cycle/Caddyfile', 'import a.caddy\n');
    const errors = errorsOf(() => parseFile('cycle/Caddyfile'));
    assert.equal(errors.length, 1);
    assert.ok(
      (errors[0] as string).startsWith(`${b}:3: import cycle: ${main}:1 imports ${a} → ${a}:1 imports ${b} → ${b}:3 imports ${a}`),
      errors[0],
    );
  });

  it('a glob matching the importing file reports the cycle and imports the rest', () => {
    write('globself/x.caddy', 'x.com {\n}\n');
    const main = write('globself/main.caddy', 'import *.caddy\n');
    const errors = errorsOf(() => parseFile('globself/main.caddy'));
    assert.deepEqual(errors, [`${main}:1: import cycle: ${main}:1 imports ${main}`]);
  });

  it('a cycle through a file and a snippet', () => {
    write('mixed/snips.caddy', '(s) {\n\timport loop.caddy\n}\n');
    write('mixed/loop.caddy', 'import s\n');
    write('mixed/Caddyfile', 'import snips.caddy\na.com {\n\timport s\n}\n');
    const errors = errorsOf(() => parseFile('mixed/Caddyfile'));
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /import cycle: .*Caddyfile:3 imports snippet "s" → .*snips\.caddy:2 imports .*loop\.caddy → .*loop\.caddy:1 imports snippet "s"/);
  });

  it('a snippet defined in two files is a redeclaration', () => {
    const one = write('redecl/one.caddy', '(s) {\n\tlog\n}\n');
    const two = write('redecl/two.caddy', '\n(s) {\n\tlog\n}\n');
    write('redecl/Caddyfile', 'import one.caddy\nimport two.caddy\n');
    const errors = errorsOf(() => parseFile('redecl/Caddyfile'));
    assert.deepEqual(errors.length, 1);
    assert.ok((errors[0] as string).startsWith(`${two}:2: snippet (s) is already defined at ${one}:1`), errors[0]);
  });

  it('the same file imported twice is not a cycle', () => {
    write('twice/log.caddy', 'log\n');
    write('twice/Caddyfile', 'a.com {\n\timport log.caddy\n}\nb.com {\n\timport log.caddy\n}\n');
    assert.deepEqual(sites(parseFile('twice/Caddyfile')), [
      { keys: ['a.com'], directives: ['log'] },
      { keys: ['b.com'], directives: ['log'] },
    ]);
  });

  it('snippets defined in an imported file are usable after the import', () => {
    const snips = write('lib/snippets.caddy', '(sec) {\n\theader X-Frame-Options DENY\n}\n(up) {\n\treverse_proxy {args[:]}\n}\n');
    write('lib/Caddyfile', 'import snippets.caddy\na.com {\n\timport sec\n\timport up a:1 b:2\n}\n');
    const parsed = parseFile('lib/Caddyfile');
    assert.deepEqual(sites(parsed), [{ keys: ['a.com'], directives: ['header X-Frame-Options DENY', 'reverse_proxy a:1 b:2'] }]);
    assert.deepEqual(parsed.sites[0]?.directives[0]?.source, { file: snips, line: 2 });
  });

  it('placeholders in snippets defined by an imported file wait for the snippet import', () => {
    write('deferred/snips.caddy', '(r) {\n\trespond {args[0]}\n}\n');
    write('deferred/Caddyfile', 'import snips.caddy file-arg\na.com {\n\timport r snippet-arg\n}\n');
    assert.deepEqual(sites(parseFile('deferred/Caddyfile')), [{ keys: ['a.com'], directives: ['respond snippet-arg'] }]);
  });

  it('env placeholders in imported files are expanded', () => {
    write('env/inc.caddy', 'reverse_proxy {$UP:fallback:1}\n');
    write('env/Caddyfile', 'a.com {\n\timport inc.caddy\n}\n');
    assert.deepEqual(sites(parseFile('env/Caddyfile', { env: { UP: 'env:2' } }))[0]?.directives, ['reverse_proxy env:2']);
  });

  it('importing a directory is an error', () => {
    fs.mkdirSync(path.join(dir, 'dirimport/sub'), { recursive: true });
    write('dirimport/Caddyfile', 'import sub\n');
    const errors = errorsOf(() => parseFile('dirimport/Caddyfile'));
    assert.match(errors[0] as string, /Caddyfile:1: cannot import .*sub: it is a directory/);
  });
});

describe('parser: injected file system', () => {
  const files: Record<string, string> = {
    '/etc/portcullis/Caddyfile': 'import sites/*.caddy\nimport tls.caddy\n',
    '/etc/portcullis/sites/one.caddy': 'one.test {\n\timport tls\n}\n',
    '/etc/portcullis/tls.caddy': '(tls) {\n\ttls internal\n}\n',
  };
  const options: ParseOptions = {
    env: {},
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return text;
    },
    glob: (pattern) => {
      assert.equal(pattern, '/etc/portcullis/sites/*.caddy');
      return ['/etc/portcullis/sites/one.caddy'];
    },
  };

  it('reads imports through readFile and glob', () => {
    // tls.caddy is imported after the site that uses its snippet: the snippet is unknown at
    // that point, so `import tls` is a file import, as in Caddy.
    const errors = errorsOf(() => parseCaddyfile(files['/etc/portcullis/Caddyfile'] as string, '/etc/portcullis/Caddyfile', options));
    assert.deepEqual(errors, ['/etc/portcullis/sites/one.caddy:2: file to import not found: tls (/etc/portcullis/sites/tls) (no snippet named tls is defined either) (imported at /etc/portcullis/Caddyfile:1)']);
  });

  it('works once the snippet file comes first', () => {
    const text = 'import tls.caddy\nimport sites/*.caddy\n';
    const parsed = parseCaddyfile(text, '/etc/portcullis/Caddyfile', options);
    assert.deepEqual(sites(parsed), [{ keys: ['one.test'], directives: ['tls internal'] }]);
    assert.deepEqual(parsed.sites[0]?.directives[0]?.source, { file: '/etc/portcullis/tls.caddy', line: 2 });
  });
});
