import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatCaddyfile } from './fmt.ts';
import { lex } from './lexer.ts';
import { parseCaddyfile } from './parser.ts';

const ENV = { DOMAIN: 'example.org', UPSTREAMS: 'a:1 b:2' };

/** The parse without line numbers: formatting may move lines, never meaning. */
function meaning(text: string): unknown {
  const parsed = parseCaddyfile(text, 'Caddyfile', { env: ENV });
  return JSON.parse(JSON.stringify(parsed, (key, value: unknown) => (key === 'line' || key === 'source' ? undefined : value)));
}

describe('fmt: layout', () => {
  const cases: Array<{ name: string; input: string; output: string }> = [
    { name: 'empty input', input: '', output: '\n' },
    { name: 'already canonical', input: 'a.com {\n\trespond hi\n}\n', output: 'a.com {\n\trespond hi\n}\n' },
    {
      name: 'spaces become tabs by depth',
      input: 'a.com {\n    reverse_proxy b:1 {\n          health_uri /h\n    }\n}',
      output: 'a.com {\n\treverse_proxy b:1 {\n\t\thealth_uri /h\n\t}\n}\n',
    },
    { name: 'one space between tokens', input: 'a.com   {\n\troot   *\t/srv\n}\n', output: 'a.com {\n\troot * /srv\n}\n' },
    {
      name: 'runs of blank lines collapse to one',
      input: 'a.com {\n\tlog\n\n\n\n\tfile_server\n}\n',
      output: 'a.com {\n\tlog\n\n\tfile_server\n}\n',
    },
    { name: 'no blank line before a closing brace', input: 'a.com {\n\tlog\n\n}\n', output: 'a.com {\n\tlog\n}\n' },
    {
      name: 'leading and trailing blank lines go',
      input: '\n\n\na.com {\n}\n\n\n',
      output: 'a.com {\n}\n',
    },
    {
      name: 'a blank line between top-level blocks',
      input: '{\n\tdebug\n}\na.com {\n}\nb.com {\n}\n(s) {\n\tlog\n}\n',
      output: '{\n\tdebug\n}\n\na.com {\n}\n\nb.com {\n}\n\n(s) {\n\tlog\n}\n',
    },
    { name: 'brace joins the line it opens', input: 'a.com\n{\n\tlog\n}\n', output: 'a.com {\n\tlog\n}\n' },
    {
      name: 'content after an opening brace moves to the next line',
      input: 'a.com { respond hi\n}\n',
      output: 'a.com {\n\trespond hi\n}\n',
    },
    {
      name: 'closing braces go on their own line',
      input: 'a.com {\n\theader {\n\t\tX-A 1 }\n}\n',
      output: 'a.com {\n\theader {\n\t\tX-A 1\n\t}\n}\n',
    },
    {
      name: 'comments are kept, own-line ones indented',
      input: '# top\na.com {   # site\n      # inside\n\tlog    # trailing\n  # before close\n}  # after\n# end\n',
      output: '# top\na.com { # site\n\t# inside\n\tlog # trailing\n\t# before close\n} # after\n\n# end\n',
    },
    {
      name: 'a brace after a comment line stays on its own line',
      input: 'a.com # note\n{\n\tlog\n}\n',
      output: 'a.com # note\n{\n\tlog\n}\n',
    },
    {
      name: 'a global options block after a top-level import stays separate',
      input: 'import common.caddy\n{\n\tdebug\n}\n',
      output: 'import common.caddy\n{\n\tdebug\n}\n',
    },
    {
      name: 'quotes, backticks and placeholders are written as they were',
      input: 'a.com {\n  respond   "a  \\"b\\"  c"   `x  y`  {host}  {$DOMAIN:d}\n}\n',
      output: 'a.com {\n\trespond "a  \\"b\\"  c" `x  y` {host} {$DOMAIN:d}\n}\n',
    },
    {
      name: 'multi-line quoted strings are kept',
      input: 'a.com {\n    respond "line one\n  line two"   200\n}\n',
      output: 'a.com {\n\trespond "line one\n  line two" 200\n}\n',
    },
    {
      name: 'heredocs are kept verbatim, arguments after them stay on their line',
      input: 'a.com {\n  respond <<HTML\n    <p>hi</p>\n    HTML    200\n    log\n}\n',
      output: 'a.com {\n\trespond <<HTML\n    <p>hi</p>\n    HTML 200\n\tlog\n}\n',
    },
    {
      name: 'line continuations get a hanging indent',
      input: 'a.com {\n  reverse_proxy a:1 \\\n b:2   \\\n       c:3\n}\n',
      output: 'a.com {\n\treverse_proxy a:1 \\\n\t\tb:2 \\\n\t\tc:3\n}\n',
    },
    {
      name: 'addresses over several lines keep their breaks',
      input: 'a.com,\n     b.com {\n}\n',
      output: 'a.com,\nb.com {\n}\n',
    },
    { name: 'CRLF becomes LF', input: 'a.com {\r\n\tlog\r\n}\r\n', output: 'a.com {\n\tlog\n}\n' },
    { name: 'site without braces', input: '  localhost\n\n\n   respond   hi\n', output: 'localhost\n\nrespond hi\n' },
    {
      name: 'nesting deeper than the parser accepts is left as written',
      input: 'a {\n' + 'b {\n'.repeat(70) + '}\n'.repeat(71),
      output: 'a {\n' + 'b {\n'.repeat(70) + '}\n'.repeat(71),
    },
    {
      name: 'text that does not lex is left as written',
      input: '\n  a.com {\n   respond "unclosed\n}\n\n',
      output: 'a.com {\n   respond "unclosed\n}\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(formatCaddyfile(c.input), c.output));
  }
});

const FIXTURES: Record<string, string> = {
  issue: readFileSync(new URL('../../test/fixtures/issue-snippet.caddyfile', import.meta.url), 'utf8'),
  messy: `
      {
  debug
      email   admin@example.org   # who to tell
}


a.com,
   b.com   c.com
{
  @api   path /api/*   # api
    handle @api {
  reverse_proxy {$UPSTREAMS} {
      lb_policy first
        }
    }


  respond "{" 200
  header X "{}" {
"}" x   }
}
`,
  snippets: `(proxy) {
    reverse_proxy {args[0]} {
        header_up Host {args[1]}
    }
}
(all) {
  respond {args[:]}
}
a.com {
  import proxy app:80 a.internal
      import all "one two" three
}
import proxy
`.replace('import proxy\n', ''),
  heredocs: `a.com {
		respond <<EOF
			<html>
			  <body>hi</body>
			</html>
			EOF 200
    respond /x <<X
X
  log
}
`,
  continuations: `a.com {
  reverse_proxy a:1 \\
      b:2 \\
c:3
  file_server
}
`,
  braceless: `localhost

respond "hi there"
   file_server   browse
`,
  comments: `# a file
# with comments

a.com { # here
	# inside
	log # trailing

	# own
} # closing
# last
`,
  importBlock: `(wrap) {
	reverse_proxy {args[0]} {
		{block}
	}
}
a.com {
	import wrap app:1 {
		lb_policy first
	}
}
`,
  escapes: `a.com {
	respond \\<<EOF a\\"b "c\\\\d" \`e\\\`
	header X-Y a#b
}
`,
  namedMatchers: `a.com {
  @post {
    method POST
      path /submit
  }
  @ws header Connection *Upgrade*
  reverse_proxy @ws ws:1
  respond @post 201
}
`,
};

describe('fmt: safe on every fixture', () => {
  for (const [name, text] of Object.entries(FIXTURES)) {
    it(`${name}: parses the same after formatting`, () => {
      assert.deepEqual(meaning(formatCaddyfile(text)), meaning(text));
    });
    it(`${name}: formatting is idempotent`, () => {
      const once = formatCaddyfile(text);
      assert.equal(formatCaddyfile(once), once);
    });
  }

  it('the messy fixture comes out canonical', () => {
    assert.equal(
      formatCaddyfile(FIXTURES.messy as string),
      `{
	debug
	email admin@example.org # who to tell
}

a.com,
b.com c.com {
	@api path /api/* # api
	handle @api {
		reverse_proxy {$UPSTREAMS} {
			lb_policy first
		}
	}

	respond "{" 200
	header X "{}" {
		"}" x
	}
}
`,
    );
  });

  it('every fixture, re-indented and spread out, formats back to the same meaning', () => {
    for (const text of Object.values(FIXTURES)) {
      const canonical = formatCaddyfile(text);
      // Lines inside heredocs, multi-line strings and continuations are not layout.
      if (canonical.includes('\\\n') || lex(canonical, 'f').tokens.some((t) => canonical.slice(t.start, t.end).includes('\n'))) continue;
      // Re-indent with spaces and pad token gaps: only layout changes, never tokens.
      const worse = canonical
        .split('\n')
        .map((l) => (l.startsWith('\t') ? '   ' + l.replace(/^\t+/, (tabs) => '  '.repeat(tabs.length)) : l))
        .join('\n\n');
      const again = formatCaddyfile(worse);
      assert.deepEqual(meaning(again), meaning(text));
      assert.equal(formatCaddyfile(again), again);
    }
  });
});
