/**
 * `encode [<matcher>] [<formats...>] { gzip [<level>]; zstd [<level>]; br [<level>];
 * minimum_length <bytes> }`: compresses responses the client accepts compressed. With no
 * format named, zstd and gzip (Caddy's default since 2.6); preference follows the written order.
 */
import type { Directive, Token } from '../ast.ts';
import type { EncodeHandler, RouteConfig } from '../types.ts';
import { argCount, eachSubdirective, intArg, noBlock, type Dispenser } from '../dispenser.ts';
import { matcherAndArgs, routeOf, type DirectiveInput } from './common.ts';

type Format = EncodeHandler['encodings'][number];

const FORMATS: readonly Format[] = ['gzip', 'zstd', 'br'];

/** Caddy's zstd level names, mapped to zstd's numeric levels. */
const ZSTD_NAMES: Record<string, number> = { fastest: 1, default: 3, better: 7, best: 11 };

const LEVELS: Record<Format, { min: number; max: number }> = {
  gzip: { min: 1, max: 9 },
  zstd: { min: 1, max: 22 },
  br: { min: 0, max: 11 },
};

function parseLevel(disp: Dispenser, format: Format, token: Token): number | null {
  if (format === 'zstd' && Object.hasOwn(ZSTD_NAMES, token.text)) return ZSTD_NAMES[token.text]!;
  const { min, max } = LEVELS[format];
  return intArg(disp, token, `${format} level`, min, max);
}

export function adaptEncode(input: DirectiveInput): RouteConfig | null {
  const { d, disp } = input;
  const { match, args, ok } = matcherAndArgs(input);
  let good = ok;
  const encodings: Format[] = [];
  const levels: Partial<Record<Format, number>> = {};
  const add = (name: Token | Directive, format: string): Format | null => {
    if (!FORMATS.includes(format as Format)) {
      disp.error(name, `unknown encoding ${JSON.stringify(format)} (expected gzip, zstd or br)`);
      good = false;
      return null;
    }
    if (encodings.includes(format as Format)) {
      disp.error(name, `${format} is listed twice`);
      good = false;
      return null;
    }
    encodings.push(format as Format);
    return format as Format;
  };
  for (const t of args) add(t, t.text);
  let minimumLength = 512;
  const inBlock = new Set<string>();
  const formatSub = (sub: Directive) => {
    noBlock(disp, sub);
    if (!argCount(disp, sub, sub.args, 0, 1, `${sub.name} [<level>]`)) return void (good = false);
    if (inBlock.has(sub.name)) {
      disp.error(sub, `${sub.name} is listed twice`);
      return void (good = false);
    }
    inBlock.add(sub.name);
    // `encode gzip { gzip 6 }`: the block sets the level of a format named on the first line.
    const format = encodings.includes(sub.name as Format) ? (sub.name as Format) : add(sub, sub.name);
    if (format === null || sub.args[0] === undefined) return;
    const level = parseLevel(disp, format, sub.args[0]);
    if (level === null) good = false;
    else levels[format] = level;
  };
  eachSubdirective(
    disp,
    d,
    {
      gzip: formatSub,
      zstd: formatSub,
      br: formatSub,
      minimum_length: (sub) => {
        noBlock(disp, sub);
        if (!argCount(disp, sub, sub.args, 1, 1, 'minimum_length <bytes>')) return void (good = false);
        const n = intArg(disp, sub.args[0]!, 'minimum_length', 0, Number.MAX_SAFE_INTEGER);
        if (n === null) good = false;
        else minimumLength = n;
      },
    },
    { match: 'response matchers for encode are not supported yet (text-like content types are compressed)' },
  );
  if (encodings.length === 0) encodings.push('zstd', 'gzip');
  const handler: EncodeHandler = { handler: 'encode', encodings, minimum_length: minimumLength };
  if (Object.keys(levels).length > 0) handler.levels = levels;
  return good ? routeOf(match, handler, d) : null;
}
