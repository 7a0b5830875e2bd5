/**
 * `file_server [<matcher>] [browse] { root <path>; index <names...>; browse; hide <names...>;
 * precompressed [br|zstd|gzip...]; status <code>; pass_thru }`: serves static files from the
 * site root (the `root` directive) or its own root.
 */
import type { FileServerHandler, RouteConfig } from '../types.ts';
import { argCount, eachSubdirective, flag, noBlock, singleArg } from '../dispenser.ts';
import { matcherAndArgs, parseStatus, routeOf, type DirectiveInput } from './common.ts';

type Precompressed = FileServerHandler['precompressed'][number];

export function adaptFileServer(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  let good = ok;
  if (!argCount(disp, d, args, 0, 1, 'file_server [<matcher>] [browse]')) return null;
  const handler: FileServerHandler = {
    handler: 'file_server',
    index_names: ['index.html', 'index.txt'],
    browse: null,
    hide: [],
    precompressed: [],
    pass_thru: false,
  };
  if (args[0] !== undefined) {
    if (args[0].text === 'browse') handler.browse = { enabled: true };
    else {
      disp.error(args[0], `unknown argument ${JSON.stringify(args[0].text)} (the only one is browse)`);
      good = false;
    }
  }
  eachSubdirective(
    disp,
    d,
    {
      root: (sub) => {
        const t = singleArg(disp, sub, 'root <path>');
        if (t === null) good = false;
        else handler.root = t.text;
      },
      index: (sub) => {
        noBlock(disp, sub);
        // No names: directories have no index file.
        handler.index_names = sub.args.map((t) => t.text);
      },
      browse: (sub) => {
        if (sub.args.length > 0) {
          disp.error(sub, 'browse: custom templates are not supported yet');
          good = false;
        }
        if (sub.block !== null) {
          disp.error(sub, 'browse: options (reveal_symlinks, sort, file_limit) are not supported yet');
          good = false;
        }
        handler.browse = { enabled: true };
      },
      hide: (sub) => {
        noBlock(disp, sub);
        if (argCount(disp, sub, sub.args, 1, Infinity, 'hide <paths...>')) handler.hide.push(...sub.args.map((t) => t.text));
        else good = false;
      },
      precompressed: (sub) => {
        noBlock(disp, sub);
        const formats: Precompressed[] = [];
        for (const t of sub.args) {
          if (t.text !== 'br' && t.text !== 'zstd' && t.text !== 'gzip') {
            disp.error(t, `precompressed: unknown format ${JSON.stringify(t.text)} (expected br, zstd or gzip)`);
            good = false;
          } else if (formats.includes(t.text)) {
            disp.error(t, `precompressed: ${t.text} is listed twice`);
            good = false;
          } else formats.push(t.text);
        }
        handler.precompressed = sub.args.length === 0 ? ['br', 'zstd', 'gzip'] : formats;
      },
      status: (sub) => {
        const t = singleArg(disp, sub, 'status <code>');
        const status = t && parseStatus(disp, t, 'status', { min: 100, max: 599, placeholder: false });
        if (typeof status === 'number') handler.status_code = status;
        else good = false;
      },
      pass_thru: (sub) => {
        if (flag(disp, sub)) handler.pass_thru = true;
        else good = false;
      },
    },
    {
      fs: 'virtual file systems are not supported',
      disable_canonical_uris: 'not supported yet (directory requests without a trailing slash are redirected to add one)',
      etag_file_extensions: 'not supported yet',
    },
  );
  return good ? routeOf(match, handler, d) : null;
}
