/**
 * Snippets: `(name) { ... }` definitions and what `import name args... { block }` puts in
 * their place: the snippet's tokens with `{args[N]}`, `{args[N:M]}` (Caddy 2.7+), the older
 * `{args.N}`, `{block}` and `{blocks.key}` (Caddy 2.9+) substituted. Substitution follows
 * Caddy's import code (caddyconfig/caddyfile/parse.go, importargs.go): a placeholder whose
 * index is out of range or malformed is left as written.
 */
import type { StreamToken } from './imports.ts';

export interface Snippet {
  name: string;
  /** The `(name)` token of the definition; identifies it, so a prescanned one is not "redeclared". */
  def: StreamToken;
  tokens: StreamToken[];
}

export function isBrace(token: StreamToken | undefined, brace: '{' | '}'): boolean {
  return token !== undefined && !token.quoted && token.text === brace;
}

/** `(name)` written unquoted: the head of a snippet definition. */
export function snippetName(token: StreamToken): string | null {
  const t = token.text;
  if (token.quoted || t.length < 2 || t.charCodeAt(0) !== 40 || t.charCodeAt(t.length - 1) !== 41) return null;
  return t.slice(1, -1);
}

/**
 * The index after the `}` matching the `{` at `open`, or -1 when the block never closes.
 * Quoted braces are text.
 */
export function matchingClose(tokens: StreamToken[], open: number): number {
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    const t = tokens[k] as StreamToken;
    if (t.quoted) continue;
    if (t.text === '{') depth++;
    else if (t.text === '}' && --depth === 0) return k + 1;
  }
  return -1;
}

/** Calls `visit` for each top-level `(name) {` of `tokens`, with the index of its `{`. */
function eachDefinition(tokens: StreamToken[], visit: (head: number, open: number) => void): void {
  let depth = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k] as StreamToken;
    if (depth === 0 && t.nl && snippetName(t) !== null && isBrace(tokens[k + 1], '{')) {
      const end = matchingClose(tokens, k + 1);
      visit(k, k + 1);
      if (end < 0) return;
      k = end - 1;
      continue;
    }
    if (t.quoted) continue;
    if (t.text === '{') depth++;
    else if (t.text === '}' && depth > 0) depth--;
  }
}

/**
 * The snippets a file defines at its top level, found before the file is parsed: Portcullis
 * lets a file use a snippet above its definition (Caddy needs the definition first).
 */
export function prescanSnippets(tokens: StreamToken[]): Snippet[] {
  const found: Snippet[] = [];
  eachDefinition(tokens, (head, open) => {
    const end = matchingClose(tokens, open);
    const name = snippetName(tokens[head] as StreamToken) as string;
    if (end < 0 || name === '') return;
    found.push({ name, def: tokens[head] as StreamToken, tokens: tokens.slice(open + 1, end - 1) });
  });
  return found;
}

/** Indexes of tokens inside top-level snippet definitions: their placeholders wait for their own import. */
function definitionRanges(tokens: StreamToken[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  eachDefinition(tokens, (head, open) => {
    const end = matchingClose(tokens, open);
    ranges.push([head, end < 0 ? tokens.length : end]);
  });
  return ranges;
}

/**
 * `import x { key args { ... } ... }`: each line of the import's block by its first token,
 * mapping to the rest of that line and the contents of the line's own block ({blocks.key}).
 */
export function blockMapping(block: StreamToken[]): { map: Map<string, StreamToken[]>; anonymous: StreamToken | null } {
  const map = new Map<string, StreamToken[]>();
  let k = 0;
  while (k < block.length) {
    const key = block[k] as StreamToken;
    if (isBrace(key, '{')) return { map, anonymous: key };
    const value: StreamToken[] = [];
    k++;
    while (k < block.length && !(block[k] as StreamToken).nl) {
      const t = block[k] as StreamToken;
      if (isBrace(t, '{')) {
        const end = matchingClose(block, k);
        const stop = end < 0 ? block.length : end;
        value.push(...block.slice(k + 1, end < 0 ? block.length : end - 1));
        k = stop;
        break;
      }
      value.push(t);
      k++;
    }
    map.set(key.text, value);
  }
  return { map, anonymous: null };
}

export interface ImportArguments {
  args: StreamToken[];
  block: StreamToken[];
  blocks: Map<string, StreamToken[]>;
}

/**
 * The tokens that replace an import: `tokens` with placeholders substituted (except inside
 * top-level snippet definitions when `topLevel`, as Caddy does). Replacement tokens keep the
 * placeholder's file and line, and the first of several takes its place at a line start.
 */
export function substituteImport(tokens: StreamToken[], input: ImportArguments, topLevel: boolean): StreamToken[] {
  const skip = topLevel ? definitionRanges(tokens) : [];
  const out: StreamToken[] = [];
  let r = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k] as StreamToken;
    while (r < skip.length && k >= (skip[r] as [number, number])[1]) r++;
    const range = skip[r];
    if (range !== undefined && k >= range[0]) {
      out.push(t);
      continue;
    }
    if (t.text.indexOf('{') < 0) {
      out.push(t);
      continue;
    }
    if (t.text === '{block}') {
      placeFirst(out, input.block, t);
      continue;
    }
    if (t.text.startsWith('{blocks.') && t.text.endsWith('}')) {
      placeFirst(out, input.blocks.get(t.text.slice(8, -1)) ?? [], t);
      continue;
    }
    const range2 = variadicRange(t.text, input.args.length);
    if (range2 !== null) {
      const spread = input.args.slice(range2[0], range2[1]).map((a) => ({ ...t, text: a.text, quoted: a.quoted, kind: a.kind }));
      placeFirst(out, spread, t);
      continue;
    }
    out.push(replaceArgs(t, input.args));
  }
  return out;
}

/** Appends `replacement`, whose first token takes `placeholder`'s place at the start of a line. */
function placeFirst(out: StreamToken[], replacement: StreamToken[], placeholder: StreamToken): void {
  for (let k = 0; k < replacement.length; k++) {
    const t = replacement[k] as StreamToken;
    out.push(k === 0 ? { ...t, nl: placeholder.nl } : t);
  }
}

const DIGITS = /^\d+$/;

/** `{args[N:M]}` (either bound optional) spanning the whole token: [start, end) or null. */
function variadicRange(text: string, count: number): [number, number] | null {
  if (!text.startsWith('{args[') || !text.endsWith(']}')) return null;
  const spec = text.slice(6, -2);
  const colon = spec.indexOf(':');
  if (colon < 0) return null;
  const a = spec.slice(0, colon);
  const b = spec.slice(colon + 1);
  if ((a !== '' && !DIGITS.test(a)) || (b !== '' && !DIGITS.test(b))) return null;
  const start = a === '' ? 0 : Number(a);
  const end = b === '' ? count : Number(b);
  if (start > end || end > count) return null;
  return [start, end];
}

/** Replaces `{args[N]}` and `{args.N}` inside a token's text. */
function replaceArgs(token: StreamToken, args: StreamToken[]): StreamToken {
  const text = token.text;
  let out = '';
  let copied = 0;
  let whole: StreamToken | null = null;
  for (let open = text.indexOf('{'); open >= 0; open = text.indexOf('{', open + 1)) {
    const close = text.indexOf('}', open + 1);
    if (close < 0) break;
    const index = argIndex(text.slice(open + 1, close));
    if (index === null || index >= args.length) continue;
    const arg = args[index] as StreamToken;
    if (open === 0 && close === text.length - 1) whole = arg;
    out += text.slice(copied, open) + arg.text;
    copied = close + 1;
    open = close;
  }
  if (copied === 0) return token;
  // A token that was only `{args[N]}` takes the argument's quoting: `import s "{"` stays text.
  return { ...token, text: out + text.slice(copied), quoted: token.quoted || (whole !== null && whole.quoted) };
}

function argIndex(key: string): number | null {
  let digits: string;
  if (key.startsWith('args[') && key.endsWith(']')) digits = key.slice(5, -1);
  else if (key.startsWith('args.')) digits = key.slice(5);
  else return null;
  return DIGITS.test(digits) ? Number(digits) : null;
}
