import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lex } from './lexer.ts';
import type { LexToken } from './lexer.ts';
import { expandEnv } from './env.ts';

/** [text, line, flags]: flags holds 'q' for quoted, 'n' for starts-a-line, 'c' for continued. */
type Expected = [string, number, string];

function brief(tokens: LexToken[]): Expected[] {
  return tokens.map((t) => [t.text, t.line, (t.quoted ? 'q' : '') + (t.nl ? 'n' : '') + (t.continued ? 'c' : '')]);
}

function lexOk(input: string): Expected[] {
  const result = lex(input, 'Caddyfile');
  assert.deepEqual(result.errors, [], `unexpected lex errors for ${JSON.stringify(input)}`);
  return brief(result.tokens);
}

describe('lexer: tokens', () => {
  const cases: Array<{ name: string; input: string; tokens: Expected[] }> = [
    { name: 'empty input', input: '', tokens: [] },
    { name: 'only whitespace and comments', input: '  \n\t# hello\n\n', tokens: [] },
    {
      name: 'words split on spaces and tabs, newline starts a line',
      input: 'a.com  b\tc\nroot * /srv',
      tokens: [['a.com', 1, 'n'], ['b', 1, ''], ['c', 1, ''], ['root', 2, 'n'], ['*', 2, ''], ['/srv', 2, '']],
    },
    {
      name: 'braces are ordinary tokens when separated',
      input: 'a {\n\tb\n}',
      tokens: [['a', 1, 'n'], ['{', 1, ''], ['b', 2, 'n'], ['}', 3, 'n']],
    },
    {
      name: 'comment at token start runs to the end of the line',
      input: 'a # comment "x" {\nb',
      tokens: [['a', 1, 'n'], ['b', 2, 'n']],
    },
    { name: '# inside a token is text', input: 'a#b c#', tokens: [['a#b', 1, 'n'], ['c#', 1, '']] },
    { name: 'comment right after a quoted token', input: '"x"#c\ny', tokens: [['x', 1, 'qn'], ['y', 2, 'n']] },
    {
      name: 'a backslash inside a comment does not continue the line',
      input: 'a # C:\\dir\\\nb',
      tokens: [['a', 1, 'n'], ['b', 2, 'n']],
    },
    { name: 'double quotes keep spaces', input: 'respond "hello world" 200', tokens: [['respond', 1, 'n'], ['hello world', 1, 'q'], ['200', 1, '']] },
    { name: 'empty quoted string is a token', input: 'a "" b', tokens: [['a', 1, 'n'], ['', 1, 'q'], ['b', 1, '']] },
    { name: 'escaped quote inside quotes', input: '"say \\"hi\\""', tokens: [['say "hi"', 1, 'qn']] },
    {
      name: 'other backslashes inside quotes stay',
      input: '"a\\nb\\\\c"',
      tokens: [['a\\nb\\\\c', 1, 'qn']],
    },
    {
      name: 'quoted text may span lines and lines keep counting',
      input: 'a "x\ny"\nb',
      tokens: [['a', 1, 'n'], ['x\ny', 1, 'q'], ['b', 3, 'n']],
    },
    { name: 'quoted braces are text', input: '"{" "}" "{}"', tokens: [['{', 1, 'qn'], ['}', 1, 'q'], ['{}', 1, 'q']] },
    { name: 'a quote in the middle of a word is text', input: 'a"b c"', tokens: [['a"b', 1, 'n'], ['c"', 1, '']] },
    { name: 'a closing quote ends the token', input: '"a"b', tokens: [['a', 1, 'qn'], ['b', 1, '']] },
    { name: 'backticks have no escapes', input: '`{"a": "\\n"}` x', tokens: [['{"a": "\\n"}', 1, 'qn'], ['x', 1, '']] },
    { name: 'backtick ending in a backslash', input: '`a\\` b', tokens: [['a\\', 1, 'qn'], ['b', 1, '']] },
    {
      name: 'line continuation joins the next line',
      input: 'reverse_proxy a:1 \\\n\tb:2 \\\n\tc:3\nnext',
      tokens: [['reverse_proxy', 1, 'n'], ['a:1', 1, ''], ['b:2', 2, 'c'], ['c:3', 3, 'c'], ['next', 4, 'n']],
    },
    {
      name: 'continuation right after a word, and with trailing spaces',
      input: 'a\\\nb \\  \nc',
      tokens: [['a', 1, 'n'], ['b', 2, 'c'], ['c', 3, 'c']],
    },
    { name: 'backslash before other characters stays', input: 'a\\"b \\d \\\\', tokens: [['a\\"b', 1, 'n'], ['\\d', 1, ''], ['\\\\', 1, '']] },
    { name: 'a backslash before a space is dropped', input: 'a\\ b', tokens: [['a', 1, 'n'], ['b', 1, '']] },
    { name: 'CRLF line ends', input: 'a b\r\nc\r\n', tokens: [['a', 1, 'n'], ['b', 1, ''], ['c', 2, 'n']] },
    { name: 'byte order mark is ignored', input: '\uFEFFa', tokens: [['a', 1, 'n']] },
    { name: 'unicode spaces split tokens', input: 'a\u00A0b\u3000c', tokens: [['a', 1, 'n'], ['b', 1, ''], ['c', 1, '']] },
    { name: 'placeholders are plain text', input: '{host} {http.request.header.X} {args[0]}', tokens: [['{host}', 1, 'n'], ['{http.request.header.X}', 1, ''], ['{args[0]}', 1, '']] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(lexOk(c.input), c.tokens));
  }
});

describe('lexer: heredocs', () => {
  const cases: Array<{ name: string; input: string; tokens: Expected[] }> = [
    {
      name: 'content between the markers',
      input: 'respond <<EOF\nhello\nEOF\nnext',
      tokens: [['respond', 1, 'n'], ['hello', 1, 'q'], ['next', 4, 'n']],
    },
    {
      name: "the closing marker's indentation is stripped from every line",
      input: 'respond <<HTML\n\t\t<p>\n\t\t  x\n\t\t</p>\n\t\tHTML\n',
      tokens: [['respond', 1, 'n'], ['<p>\n  x\n</p>', 1, 'q']],
    },
    {
      name: 'tokens after the closing marker continue the line',
      input: 'respond <<EOF\n  hi\n  EOF 200\nnext',
      tokens: [['respond', 1, 'n'], ['hi', 1, 'q'], ['200', 3, ''], ['next', 4, 'n']],
    },
    {
      name: 'blank lines inside are kept and need no indentation',
      input: 'a <<EOF\n  x\n\n  y\n  EOF',
      tokens: [['a', 1, 'n'], ['x\n\ny', 1, 'q']],
    },
    { name: 'empty heredoc', input: 'a <<EOF\nEOF', tokens: [['a', 1, 'n'], ['', 1, 'q']] },
    {
      name: 'the marker inside a line does not close it',
      input: 'a <<END\n  not END here\n  ENDING\n  END\n',
      tokens: [['a', 1, 'n'], ['not END here\nENDING', 1, 'q']],
    },
    {
      name: 'quotes, braces and comments inside are text',
      input: 'a <<X\n"q" { # c\nX',
      tokens: [['a', 1, 'n'], ['"q" { # c', 1, 'q']],
    },
    { name: 'CRLF heredoc', input: 'a <<EOF\r\n  x\r\n  EOF\r\nb', tokens: [['a', 1, 'n'], ['x', 1, 'q'], ['b', 4, 'n']] },
    { name: '<< followed by a space is a word', input: 'a <<EOF b', tokens: [['a', 1, 'n'], ['<<EOF', 1, ''], ['b', 1, '']] },
    { name: 'an escaped << is a word', input: 'a \\<<EOF\nb', tokens: [['a', 1, 'n'], ['<<EOF', 1, ''], ['b', 2, 'n']] },
    { name: '<< at the end of the input is a word', input: 'a <<EOF', tokens: [['a', 1, 'n'], ['<<EOF', 1, '']] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(lexOk(c.input), c.tokens));
  }
});

describe('lexer: errors', () => {
  const cases: Array<{ name: string; input: string; line: number; message: RegExp }> = [
    { name: 'unclosed double quote', input: 'a\nrespond "hello\n\n', line: 2, message: /unclosed quote/ },
    { name: 'unclosed backtick', input: 'a `x', line: 1, message: /unclosed quote/ },
    { name: 'unclosed heredoc', input: 'a\nb <<EOF\nx\n', line: 2, message: /unclosed heredoc.*<<EOF/ },
    { name: 'heredoc line less indented than the marker', input: 'a <<EOF\n\t\tx\n\ty\n\t\tEOF', line: 3, message: /indented less/ },
    { name: 'heredoc without a marker', input: 'a <<\nb', line: 1, message: /needs a marker/ },
    { name: 'heredoc with three <', input: 'a <<<EOF\nb', line: 1, message: /too many '<'/ },
    { name: 'heredoc marker with bad characters', input: 'a <<E.F\nb\nE.F', line: 1, message: /may only contain/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { errors } = lex(c.input, 'Caddyfile');
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]?.line, c.line);
      assert.match(errors[0]?.message ?? '', c.message);
    });
  }

  it('keeps scanning after an error and reports each', () => {
    const { errors, tokens } = lex('a <<EOF\n\t\tx\n y\n\t\tEOF\nb `c', 'f');
    assert.deepEqual(
      errors.map((e) => e.line),
      [3, 5],
    );
    assert.deepEqual(
      tokens.map((t) => t.text),
      ['a', 'x\ny', 'b', 'c'],
    );
  });
});

describe('lexer: verbatim source for the formatter', () => {
  it('raw keeps quotes, escapes and heredoc markers; comments are tokens on request', () => {
    const input = 'a "x\\"y" `z` \\<<E w\\"v <<EOF\n  body\n  EOF # note  \n';
    const { tokens } = lex(input, 'f', { comments: true });
    assert.deepEqual(
      tokens.map((t) => [t.kind, input.slice(t.start, t.end)]),
      [
        ['word', 'a'],
        ['quote', '"x\\"y"'],
        ['backtick', '`z`'],
        ['word', '\\<<E'],
        ['word', 'w\\"v'],
        ['heredoc', '<<EOF\n  body\n  EOF'],
        ['comment', '# note'],
      ],
    );
  });

  it('counts blank lines between tokens', () => {
    const { tokens } = lex('a\n\n\nb\nc', 'f');
    assert.deepEqual(
      tokens.map((t) => t.gapLines),
      [0, 3, 1],
    );
  });

  it('a word before a continuation does not include the backslash', () => {
    const input = 'a\\\nb';
    const { tokens } = lex(input, 'f');
    assert.deepEqual(
      tokens.map((t) => input.slice(t.start, t.end)),
      ['a', 'b'],
    );
  });
});

describe('env expansion before lexing', () => {
  const cases: Array<{ name: string; input: string; env: Record<string, string | undefined>; out: string }> = [
    { name: 'whole token', input: '{$HOST} {', env: { HOST: 'a.com' }, out: 'a.com {' },
    { name: 'inside a token', input: 'rss.{$DOMAIN}:443', env: { DOMAIN: 'example.org' }, out: 'rss.example.org:443' },
    { name: 'default when unset', input: '{$PORT:8080}', env: {}, out: '8080' },
    { name: 'default may hold colons', input: '{$UP:localhost:3000}', env: {}, out: 'localhost:3000' },
    { name: 'set wins over default', input: '{$PORT:8080}', env: { PORT: '9' }, out: '9' },
    { name: 'set but empty stays empty', input: 'x{$E:d}y', env: { E: '' }, out: 'xy' },
    { name: 'unset without default is empty', input: 'a{$NOPE}b', env: {}, out: 'ab' },
    { name: 'undefined counts as unset', input: '{$U:d}', env: { U: undefined }, out: 'd' },
    { name: 'inside quotes too', input: '"{$A}"', env: { A: 'x y' }, out: '"x y"' },
    { name: 'values are not expanded again', input: '{$A}', env: { A: '{$B}', B: 'no' }, out: '{$B}' },
    { name: 'empty name is left alone', input: '{$} {$A}', env: { A: '1' }, out: '{$} 1' },
    { name: 'unclosed on its line is left alone', input: '{$A\n}', env: { A: '1' }, out: '{$A\n}' },
    { name: 'prototype names are not variables', input: '{$constructor:d}', env: {}, out: 'd' },
    { name: 'runtime placeholders are untouched', input: '{host} {env.X}', env: { host: 'no' }, out: '{host} {env.X}' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(expandEnv(c.input, c.env).text, c.out));
  }

  it('a value may hold several tokens and lines without shifting line numbers', () => {
    const { text, injectedNewlines } = expandEnv('a {$V}\nb', { V: 'x y\nz' });
    assert.equal(text, 'a x y\nz\nb');
    const { tokens } = lex(text, 'f', { injectedNewlines });
    assert.deepEqual(brief(tokens), [
      ['a', 1, 'n'],
      ['x', 1, ''],
      ['y', 1, ''],
      ['z', 1, 'n'],
      ['b', 2, 'n'],
    ]);
  });
});
