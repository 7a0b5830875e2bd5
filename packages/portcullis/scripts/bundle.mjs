// Bundles the CLI (what `npx portcullis` runs) into dist/bundle/ with esbuild.
//
// Why: Node keeps a lot of memory per ES module it loads (measured here: Kysely as its 257
// modules costs ~26 MB of resident memory, bundled ~5 MB), and Portcullis with its libraries
// is about 700 modules. Bundled, the identity provider's idle RSS drops by ~20 MB and it
// starts faster. Features loaded on demand (reverse_proxy's undici, ACME, the internal CA)
// stay in chunks of their own, loaded by the same dynamic imports as from source.
//
// tsc still typechecks and emits dist/ (the library export, `dist/main.js`); tests run from
// src/. Every path to a shipped file goes through src/kernel/package-files.ts, which sits two
// levels under the package root like dist/bundle/ does.
import { build, transform } from 'esbuild';
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });

/**
 * oidc-provider names its models, TTLs and adapter calls after its classes' `.name`
 * (`AccessToken`, `Session`): a bundler that renames a class to avoid a clash with another
 * module's would break them silently, so the libraries' names are kept, as esbuild's keepNames
 * does. Not in Portcullis's own sources: keepNames wraps every named closure in a call that
 * redefines its `name`, once per creation, and the request path creates closures per request
 * (measured: about 6 % of proxy throughput). Nothing in src/ reads a function's or class's name.
 */
const keepLibraryNames = {
  name: 'keep-library-names',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]node_modules[\\/].*\.(?:c|m)?js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const { code } = await transform(source, { loader: 'js', keepNames: true, sourcefile: args.path });
      return { contents: code, loader: 'js' };
    });
  },
};

/**
 * Node's built-in modules whose ES module form costs memory for nothing: importing a builtin as
 * an ES module reads every export once, and `node:http`'s lazy `WebSocket`, `CloseEvent` and
 * `MessageEvent` exports then load Node's internal copy of undici (measured: +13 MiB resident
 * for `import 'node:http'` against `require('node:http')`; `node:util` and `node:fs` +3 MiB
 * each). These are required as CommonJS instead, whose exports are read only when used.
 */
const REQUIRED_BUILTINS = /^(?:node:)?(?:http|util|fs)$/;
const requireBuiltins = {
  name: 'require-builtins',
  setup(builder) {
    builder.onResolve({ filter: REQUIRED_BUILTINS }, (args) =>
      // The wrapper's own require() is the real builtin, left to Node.
      args.namespace === 'required-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'required-builtin' },
    );
    builder.onLoad({ filter: /.*/, namespace: 'required-builtin' }, (args) => ({ contents: `module.exports = require('node:${args.path}');`, loader: 'js' }));
  },
};

await build({
  absWorkingDir: root,
  entryPoints: { portcullis: 'src/cli/bin.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22.16',
  // ES module builds first where a package has both (@peculiar/x509 and its asn1 helpers): a
  // dynamic import() of a CommonJS build comes out of a split bundle with only a `default`
  // export, and the internal CA's `x509.X509CertificateGenerator` was undefined.
  mainFields: ['module', 'main'],
  // Chunks beside the entry: every module must sit two levels under the package root.
  chunkNames: 'chunk-[hash]',
  // Loaded from node_modules at run time, as from source:
  // - pino starts pino-pretty in a worker thread by resolving files of its own package;
  // - CommonJS packages that Portcullis loads with a dynamic import() (prom-client for
  //   metrics, acme-client for ACME, undici for reverse_proxy and `portcullis reload`): in a
  //   split bundle such an import yields only a `default` export, where Node's own loader
  //   gives the named ones. test/bundle.test.ts fails on any chunk of that shape.
  external: ['pino', 'pino-pretty', 'prom-client', 'acme-client', 'undici'],
  // Bundled CommonJS (koa and friends) calls require() for Node's built-in modules.
  banner: { js: "import { createRequire as __portcullisRequire } from 'node:module';\nconst require = __portcullisRequire(import.meta.url);" },
  // Names are kept in the libraries only (see keepLibraryNames), not in Portcullis's own code.
  keepNames: false,
  plugins: [keepLibraryNames, requireBuiltins],
  // Whitespace only: V8 keeps every script's source in memory; identifiers stay as written.
  minifyWhitespace: true,
  legalComments: 'linked',
  sourcemap: 'linked',
  logLevel: 'warning',
});
