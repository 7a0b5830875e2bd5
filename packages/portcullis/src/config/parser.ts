/**
 * The Caddyfile parser: tokens -> global options block and site blocks of nested directives,
 * with `import` (snippets, files, globs), snippet arguments and `{$ENV}` expanded. It follows
 * Caddy v2's caddyconfig/caddyfile/parse.go; where Portcullis differs it says why below.
 *
 * Imports are expanded lazily, like Caddy's token splicing, but without copying the stream:
 * the parser reads from a stack of token sources and an import pushes one. Every error is
 * collected (with the file and line the user wrote) and thrown once as ConfigErrors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, ErrorList } from '../kernel/errors.ts';
import type { ErrorCode, PortcullisError, SourceLocation } from '../kernel/errors.ts';
import type { Directive, ParsedCaddyfile, ServerBlock, Token } from './ast.ts';
import { expandEnv } from './env.ts';
import { lex } from './lexer.ts';
import {
  cycleMessage,
  fileNode,
  importedFrom,
  readImport,
  resolveImportPaths,
  snippetNode,
} from './imports.ts';
import type { ImportFiles, ImportFrame, StreamToken } from './imports.ts';
import { blockMapping, isBrace, prescanSnippets, snippetName, substituteImport } from './snippets.ts';
import type { Snippet } from './snippets.ts';

export interface ParseOptions {
  /** Environment for {$VAR} / {$VAR:default}; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Reads an imported file (absolute path) as text; defaults to fs.readFileSync utf8. Throws when missing. */
  readFile?: (path: string) => string;
  /** Expands a glob relative to nothing (absolute pattern) into sorted absolute paths; default uses fs.globSync (Node 22+). */
  glob?: (pattern: string) => string[];
}

/** Imports may multiply tokens (a snippet importing another twice, ten levels deep): cap the total. */
const MAX_EXPANDED_TOKENS = 1_000_000;
/** Deeper blocks are refused (parsing them recursively could overflow the stack). */
const MAX_DEPTH = 64;
/** Past this many errors the rest is likely noise caused by the first ones. */
const MAX_ERRORS = 100;

interface Source {
  tokens: StreamToken[];
  next: number;
}

interface State {
  stack: Source[];
  snippets: Map<string, Snippet>;
  errors: ErrorList;
  env: Record<string, string | undefined>;
  files: ImportFiles;
  expanded: number;
  budgetReported: boolean;
  /** Definitions already reported as redeclared (prescan and parse both meet them). */
  redeclared: Set<StreamToken>;
}

/** Parses a whole Caddyfile; throws ConfigErrors (kernel/errors.ts) with every error found, each with file:line. */
export function parseCaddyfile(text: string, file: string, options: ParseOptions = {}): ParsedCaddyfile {
  const state: State = {
    stack: [],
    snippets: new Map(),
    errors: new ErrorList(),
    env: options.env ?? process.env,
    files: {
      readFile: options.readFile ?? ((p) => fs.readFileSync(p, 'utf8')),
      glob: options.glob ?? ((pattern) => fs.globSync(pattern).map((m) => path.resolve(m)).sort()),
    },
    expanded: 0,
    budgetReported: false,
    redeclared: new Set(),
  };
  const tokens = lexFile(state, text, file, fileNode(path.resolve(file)), null);
  registerPrescanned(state, tokens);
  state.stack.push({ tokens, next: 0 });
  const parsed = parseTopLevel(state);
  sortErrors(state.errors);
  state.errors.throwIfAny();
  return parsed;
}

/**
 * Errors by file (in the order files first show up among them), then line: lexing a file
 * finds its quote and heredoc errors before the parser finds the rest, and an unclosed block
 * is only known at the end.
 */
function sortErrors(list: ErrorList): void {
  const rank = new Map<string, number>();
  const key = (e: PortcullisError): [number, number] => {
    const file = e.source?.file ?? '';
    if (!rank.has(file)) rank.set(file, rank.size);
    return [rank.get(file) as number, e.source?.line ?? 0];
  };
  const last = list.errors.at(-1);
  const capped = list.errors.length > MAX_ERRORS && last !== undefined;
  const body = capped ? list.errors.slice(0, -1) : list.errors.slice();
  const keyed = body.map((e) => ({ e, k: key(e) }));
  keyed.sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1]);
  list.errors.length = 0;
  for (const { e } of keyed) list.errors.push(e);
  if (capped) list.errors.push(last);
}

// ---------------------------------------------------------------------------------------------
// Token stream

function peek(state: State): StreamToken | undefined {
  const stack = state.stack;
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Source;
    if (top.next < top.tokens.length) return top.tokens[top.next];
    stack.pop();
  }
  return undefined;
}

function advance(state: State): StreamToken | undefined {
  const t = peek(state);
  if (t !== undefined) (state.stack[state.stack.length - 1] as Source).next++;
  return t;
}

/** Consumes the rest of the current line (after an error), so parsing resumes at the next one. */
function skipLine(state: State): void {
  for (let t = peek(state); t !== undefined && !t.nl; t = peek(state)) advance(state);
}

/** Consumes the rest of the line and the block it opens, if any (after an error). */
function skipStatement(state: State): void {
  for (let t = peek(state); t !== undefined && !t.nl; t = peek(state)) {
    advance(state);
    if (isBrace(t, '{')) {
      collectBlock(state, t);
      return;
    }
  }
}

function tooManyErrors(state: State): boolean {
  return state.errors.errors.length >= MAX_ERRORS;
}

function fail(state: State, at: StreamToken, message: string, code: ErrorCode = ErrorCodes.ERR_CONFIG_SYNTAX): void {
  if (tooManyErrors(state)) return;
  state.errors.add(code, message + importedFrom(at), { file: at.file, line: at.line });
  if (tooManyErrors(state)) {
    state.errors.add(code, `too many errors (${MAX_ERRORS}); stopped here`, { file: at.file, line: at.line });
  }
}

function describe(token: StreamToken): string {
  return token.quoted ? JSON.stringify(token.text) : `'${token.text}'`;
}

// ---------------------------------------------------------------------------------------------
// Lexing files

function lexFile(state: State, text: string, file: string, node: string, frame: ImportFrame | null): StreamToken[] {
  const { text: expanded, injectedNewlines } = expandEnv(text, state.env);
  const result = lex(expanded, file, { injectedNewlines });
  for (const e of result.errors) {
    if (!tooManyErrors(state)) state.errors.add(ErrorCodes.ERR_CONFIG_SYNTAX, e.message, { file, line: e.line });
  }
  return result.tokens.map((t) => ({
    text: t.text,
    file: t.file,
    line: t.line,
    quoted: t.quoted,
    nl: t.nl,
    kind: t.kind,
    start: t.start,
    end: t.end,
    gapLines: t.gapLines,
    continued: t.continued,
    node,
    frame,
  }));
}

function registerPrescanned(state: State, tokens: StreamToken[]): void {
  for (const snippet of prescanSnippets(tokens)) registerSnippet(state, snippet);
}

function registerSnippet(state: State, snippet: Snippet): void {
  const existing = state.snippets.get(snippet.name);
  if (existing !== undefined) {
    if (existing.def !== snippet.def && !state.redeclared.has(snippet.def)) {
      state.redeclared.add(snippet.def);
      fail(state, snippet.def, `snippet (${snippet.name}) is already defined at ${existing.def.file}:${existing.def.line}`);
    }
    return;
  }
  const node = snippetNode(snippet.name);
  state.snippets.set(snippet.name, { ...snippet, tokens: snippet.tokens.map((t) => ({ ...t, node })) });
}

// ---------------------------------------------------------------------------------------------
// Top level: global options, site blocks, snippet definitions

function parseTopLevel(state: State): ParsedCaddyfile {
  const parsed: ParsedCaddyfile = { global: null, sites: [] };
  let blocks = 0;
  for (let t = peek(state); t !== undefined && !tooManyErrors(state); t = peek(state)) {
    if (isImport(t)) {
      advance(state);
      doImport(state, t, true);
      continue;
    }
    if (isBrace(t, '}')) {
      fail(state, t, "unexpected '}': no block is open");
      advance(state);
      continue;
    }
    let keys: StreamToken[] = [];
    let head = t;
    let glued = false;
    if (!isBrace(t, '{')) {
      const read = readKeys(state);
      if (read === null) continue;
      keys = read.keys;
      glued = read.glued;
      head = keys[0] as StreamToken;
      const name = keys.length === 1 ? snippetName(head) : null;
      if (name !== null) {
        defineSnippet(state, head, name, glued);
        continue;
      }
    }
    const block = parseServerBlock(state, keys, head, glued);
    blocks++;
    if (keys.length > 0) {
      parsed.sites.push(block);
    } else if (blocks === 1) {
      parsed.global = block;
    } else {
      fail(state, head, 'a block without site addresses is the global options block, which must be the first block in the Caddyfile');
    }
  }
  return parsed;
}

function isImport(t: StreamToken): boolean {
  return !t.quoted && t.text === 'import';
}

/**
 * Site addresses up to `{` or the end of the line; a trailing comma continues the list on
 * the next line. Returns null when nothing usable was read (errors are recorded). `glued`
 * when the last address was written `addr{` (an error, but the block is still parsed).
 */
function readKeys(state: State): { keys: StreamToken[]; glued: boolean } | null {
  const keys: StreamToken[] = [];
  let glued = false;
  let expectingAnother = false;
  let last: StreamToken | undefined;
  for (let t = peek(state); t !== undefined; t = peek(state)) {
    if (last !== undefined && t.nl && !expectingAnother) break;
    if (last !== undefined && t.nl && isImport(t)) {
      // `a.com,` then `import more-addresses` on the next line (Caddy allows it).
      advance(state);
      doImport(state, t, true);
      continue;
    }
    if (isBrace(t, '{')) {
      if (expectingAnother) fail(state, t, "expected another site address after ',' but found '{' (check for an extra comma)");
      break;
    }
    advance(state);
    last = t;
    if (isBrace(t, '}')) {
      fail(state, t, "unexpected '}': no block is open");
      continue;
    }
    let text = t.text;
    if (!t.quoted) {
      if (text.length > 1 && text.endsWith('{')) {
        fail(state, t, `site address ${describe(t)} ends with '{': put a space between the address and the brace`);
        keys.push({ ...t, text: text.slice(0, -1) });
        glued = true;
        break;
      }
      if (text.startsWith('@')) {
        fail(state, t, `request matchers like ${describe(t)} must be defined inside a site block`);
        skipStatement(state);
        return null;
      }
    }
    expectingAnother = text.endsWith(',');
    if (expectingAnother) text = text.slice(0, -1);
    if (text.includes(',')) {
      fail(state, t, `site address ${describe(t)} contains a comma: separate addresses with ', ' or spaces`);
      continue;
    }
    if (text !== '') keys.push(text === t.text ? t : { ...t, text });
  }
  if (expectingAnother && peek(state) === undefined && last !== undefined) {
    fail(state, last, "expected another site address after ','");
  }
  return keys.length > 0 ? { keys, glued } : null;
}

/** `(name) { ... }` at the top level: the tokens are kept raw until an import uses them. */
function defineSnippet(state: State, head: StreamToken, name: string, glued: boolean): void {
  let open = head;
  if (!glued) {
    const next = peek(state);
    if (!isBrace(next, '{')) {
      fail(state, head, `snippet (${name}) must be followed by '{'`);
      return;
    }
    advance(state);
    open = next as StreamToken;
  }
  const body = collectBlock(state, open);
  if (body === null) return;
  if (name === '') {
    fail(state, head, 'a snippet needs a name: (name) { ... }');
    return;
  }
  registerSnippet(state, { name, def: head, tokens: body });
}

/** Tokens up to the `}` matching the already-consumed `open`, braces excluded; null if unclosed. */
function collectBlock(state: State, open: StreamToken): StreamToken[] | null {
  const body: StreamToken[] = [];
  let depth = 1;
  for (let t = advance(state); t !== undefined; t = advance(state)) {
    if (isBrace(t, '{')) depth++;
    else if (isBrace(t, '}') && --depth === 0) {
      expectLineEnd(state, t);
      return body;
    }
    body.push(t);
  }
  fail(state, open, `unclosed '{': the block opened on line ${open.line} never ends`);
  return null;
}

/** After a closing `}` only another `}` may follow on the same line. */
function expectLineEnd(state: State, close: StreamToken): void {
  const next = peek(state);
  if (next === undefined || next.nl || isBrace(next, '}')) return;
  fail(state, next, `unexpected ${describe(next)} after '}': a closing brace ends its line`);
  skipLine(state);
}

function parseServerBlock(state: State, keys: StreamToken[], head: StreamToken, glued: boolean): ServerBlock {
  const source = location(head);
  const open = peek(state);
  let directives: Directive[];
  if (glued) {
    expectNewLineAfterOpen(state);
    directives = parseBlockBody(state, keys[keys.length - 1] as StreamToken, 0);
  } else if (isBrace(open, '{')) {
    advance(state);
    expectNewLineAfterOpen(state);
    directives = parseBlockBody(state, open as StreamToken, 0);
  } else if (open === undefined) {
    // A Caddyfile that is only an address line: a site with no directives.
    directives = [];
  } else {
    // One site, written without braces: everything that follows is its directives (Caddy).
    directives = parseBlockBody(state, null, 0);
  }
  return { keys: keys.map(toToken), directives, source };
}

// ---------------------------------------------------------------------------------------------
// Blocks and directives

/**
 * Directive lines up to the `}` closing `open` (or the end of input when `open` is null, for a
 * site written without braces). `depth` 0 is a site or global block, whose `}` must sit on its
 * own line; inside a directive's block Caddy also accepts `last-arg }`.
 */
function parseBlockBody(state: State, open: StreamToken | null, depth: number): Directive[] {
  const directives: Directive[] = [];
  for (let t = peek(state); t !== undefined && !tooManyErrors(state); t = peek(state)) {
    if (isBrace(t, '}')) {
      advance(state);
      if (open === null) {
        fail(state, t, "unexpected '}': no block is open");
        continue;
      }
      if (!t.nl && depth === 0) {
        fail(state, t, "unexpected '}': the closing brace of a site block must be on its own line");
        continue;
      }
      expectLineEnd(state, t);
      return directives;
    }
    if (isImport(t)) {
      advance(state);
      doImport(state, t, false);
      continue;
    }
    const directive = parseDirective(state, depth);
    if (directive !== null) directives.push(directive);
  }
  if (open !== null) fail(state, open, `unclosed '{': the block opened on line ${open.line} never ends`);
  return directives;
}

/** One directive line: name, arguments up to the end of the line, and its block if it ends with `{`. */
function parseDirective(state: State, depth: number): Directive | null {
  const nameToken = advance(state) as StreamToken;
  if (isBrace(nameToken, '{')) {
    fail(state, nameToken, "unexpected '{' at the start of a line: put it at the end of the line it opens");
    parseNested(state, nameToken, depth);
    return null;
  }
  const args: StreamToken[] = [];
  let block: Directive[] | null = null;
  for (let t = peek(state); t !== undefined && !t.nl; t = peek(state)) {
    if (isBrace(t, '}')) break; // `arg }` closes the enclosing block (Caddy accepts it)
    advance(state);
    if (isBrace(t, '{')) {
      expectNewLineAfterOpen(state);
      block = parseNested(state, t, depth);
      break;
    }
    if (!t.quoted && t.text === '{}') {
      const next = peek(state);
      if (next === undefined || next.nl) {
        fail(state, t, "unexpected '{}' at the end of a line: write an empty block as '{' and '}' on two lines");
        continue;
      }
    }
    args.push(t);
  }
  const name = snippetName(nameToken);
  if (name !== null && block !== null) {
    fail(state, nameToken, `snippet (${name}) must be defined at the top level, not inside a block`);
    return null;
  }
  return {
    name: nameToken.text,
    nameToken: toToken(nameToken),
    args: args.map(toToken),
    block,
    source: location(nameToken),
  };
}

/** The block of a directive in a block at `depth`; skipped with an error when nested absurdly deep. */
function parseNested(state: State, open: StreamToken, depth: number): Directive[] {
  if (depth + 1 < MAX_DEPTH) return parseBlockBody(state, open, depth + 1);
  // Recursion this deep would overflow the stack; no real directive nests like this.
  fail(state, open, `blocks nested more than ${MAX_DEPTH} deep`);
  collectBlock(state, open);
  return [];
}

/** A block's content starts on the line after its `{` (Caddy: "Unexpected next token after '{' on same line"). */
function expectNewLineAfterOpen(state: State): void {
  const next = peek(state);
  if (next !== undefined && !next.nl) {
    fail(state, next, `unexpected ${describe(next)} after '{': a block's content starts on the next line`);
  }
}

// ---------------------------------------------------------------------------------------------
// import

/**
 * `import <snippet|file|glob> [args...] [{ block }]`, `importToken` already consumed: reads
 * the rest of the statement and pushes what it imports onto the stream. `topLevel` is true
 * outside any block, where imported files may define snippets of their own.
 */
function doImport(state: State, importToken: StreamToken, topLevel: boolean): void {
  const args: StreamToken[] = [];
  let block: StreamToken[] = [];
  for (let t = peek(state); t !== undefined && !t.nl; t = peek(state)) {
    advance(state);
    if (isBrace(t, '{')) {
      expectNewLineAfterOpen(state);
      block = collectBlock(state, t) ?? [];
      break;
    }
    args.push(t);
  }
  const target = args[0];
  if (target === undefined || target.text === '') {
    fail(state, importToken, 'import needs a snippet name or a file path', ErrorCodes.ERR_CONFIG_IMPORT);
    return;
  }
  const mapping = blockMapping(block);
  if (mapping.anonymous !== null) {
    fail(state, mapping.anonymous, 'an import block holds named sub-blocks ({blocks.name}); anonymous blocks are not supported', ErrorCodes.ERR_CONFIG_IMPORT);
    return;
  }
  const input = { args: args.slice(1), block, blocks: mapping.map };
  const snippet = state.snippets.get(target.text);
  if (snippet !== undefined) {
    const node = snippetNode(snippet.name);
    const label = `snippet "${snippet.name}"`;
    const frame = enter(state, importToken, node, label);
    if (frame === null || !withinBudget(state, importToken, snippet.tokens.length + input.block.length)) return;
    const tokens = substituteImport(snippet.tokens.map((t) => ({ ...t, frame })), input, topLevel);
    push(state, importToken, tokens);
    return;
  }
  importFiles(state, importToken, target.text, input, topLevel);
}

/** A new frame for importing `node` at `importToken`, or null (error recorded) if it would recurse. */
function enter(state: State, importToken: StreamToken, node: string, label: string): ImportFrame | null {
  const cycle = cycleMessage(importToken, node, label);
  if (cycle !== null) {
    fail(state, importToken, cycle, ErrorCodes.ERR_CONFIG_IMPORT);
    return null;
  }
  return { importer: importToken.node, target: node, label, at: location(importToken), parent: importToken.frame };
}

function importFiles(
  state: State,
  importToken: StreamToken,
  pattern: string,
  input: Parameters<typeof substituteImport>[1],
  topLevel: boolean,
): void {
  const resolved = resolveImportPaths(pattern, importToken.file, state.files);
  if ('error' in resolved) {
    fail(state, importToken, resolved.error, ErrorCodes.ERR_CONFIG_IMPORT);
    return;
  }
  const all: StreamToken[] = [];
  for (const file of resolved.paths) {
    const frame = enter(state, importToken, fileNode(file), file);
    if (frame === null) continue;
    const read = readImport(file, pattern, state.files);
    if ('error' in read) {
      // A file named without wildcards that does not exist: "snippet or file?" is the usual mistake.
      const hint = resolved.paths.length === 1 && !state.snippets.has(pattern) && !pattern.includes('/') && !pattern.includes('.')
        ? ` (no snippet named ${pattern} is defined either)`
        : '';
      fail(state, importToken, read.error + hint, ErrorCodes.ERR_CONFIG_IMPORT);
      continue;
    }
    const lexed = lexFile(state, read.text, file, fileNode(file), frame);
    if (!withinBudget(state, importToken, lexed.length)) return;
    const tokens = substituteImport(lexed, input, topLevel);
    registerPrescanned(state, tokens);
    for (const t of tokens) all.push(t);
  }
  push(state, importToken, all);
}

/** Whether `count` more imported tokens fit the budget; reports once when they do not. */
function withinBudget(state: State, importToken: StreamToken, count: number): boolean {
  if (state.expanded + count <= MAX_EXPANDED_TOKENS) return true;
  if (!state.budgetReported) {
    state.budgetReported = true;
    fail(state, importToken, `imports expand to more than ${MAX_EXPANDED_TOKENS} tokens; stopped expanding`, ErrorCodes.ERR_CONFIG_IMPORT);
  }
  return false;
}

/** Puts imported tokens in the stream where the import statement was. */
function push(state: State, importToken: StreamToken, tokens: StreamToken[]): void {
  if (tokens.length === 0 || !withinBudget(state, importToken, tokens.length)) return;
  state.expanded += tokens.length;
  // Imported tokens start a line of their own: they come from another file or snippet.
  const first = tokens[0] as StreamToken;
  if (!first.nl) tokens[0] = { ...first, nl: true };
  state.stack.push({ tokens, next: 0 });
}

// ---------------------------------------------------------------------------------------------
// AST

function toToken(t: StreamToken): Token {
  return { text: t.text, file: t.file, line: t.line, quoted: t.quoted };
}

function location(t: StreamToken): SourceLocation {
  return { file: t.file, line: t.line };
}
