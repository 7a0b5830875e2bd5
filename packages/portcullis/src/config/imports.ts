/**
 * `import` of files and globs, and the provenance every imported token carries: which file or
 * snippet it came from and through which chain of import lines, so cycles are found exactly
 * (only a real recursion is a cycle) and reported with the whole chain.
 */
import path from 'node:path';
import type { SourceLocation } from '../kernel/errors.ts';
import type { LexToken } from './lexer.ts';

/** One `import` step: `importer` (a node) imported `target` at `at`. */
export interface ImportFrame {
  importer: string;
  target: string;
  /** How the target is named in messages: a file path or `snippet "name"`. */
  label: string;
  at: SourceLocation;
  parent: ImportFrame | null;
}

/** A token in the parser's stream: a lexed token plus where it was imported from. */
export interface StreamToken extends LexToken {
  /** The file (`file:/abs/path`) or snippet (`snippet:name`) the token was written in. */
  node: string;
  frame: ImportFrame | null;
}

export function fileNode(absPath: string): string {
  return `file:${absPath}`;
}

export function snippetNode(name: string): string {
  return `snippet:${name}`;
}

/** The nodes being imported at this token: its own and every importer up the chain. */
function activeNodes(token: StreamToken): string[] {
  const nodes = [token.node];
  for (let f = token.frame; f !== null; f = f.parent) nodes.push(f.importer);
  return nodes;
}

/**
 * When importing `target` at `token` would recurse, the message naming the chain
 * (`a:3 imports b → b:1 imports a`); null when it would not.
 */
export function cycleMessage(token: StreamToken, target: string, label: string): string | null {
  if (!activeNodes(token).includes(target)) return null;
  const steps: string[] = [];
  for (let f = token.frame; f !== null; f = f.parent) steps.unshift(`${f.at.file}:${f.at.line} imports ${f.label}`);
  steps.push(`${token.file}:${token.line} imports ${label}`);
  return `import cycle: ${steps.join(' → ')}`;
}

/** Where the token was imported from, for messages about imported tokens; '' when not imported. */
export function importedFrom(token: { frame: ImportFrame | null }): string {
  const f = token.frame;
  return f === null ? '' : ` (imported at ${f.at.file}:${f.at.line})`;
}

export interface ImportFiles {
  readFile: (path: string) => string;
  glob: (pattern: string) => string[];
}

export type ResolvedImport = { paths: string[] } | { error: string };

const GLOB_META = /[*?[\]]/;

/**
 * The files an `import <pattern>` names, as Caddy resolves them: relative to the importing
 * file's directory; a pattern with wildcards may match nothing (not an error) and is limited to
 * one `*` and one `?` and no `[...]` (Caddy issue #2096: many wildcards can take very long);
 * dotfiles are skipped when the last path segment starts with `*`.
 */
export function resolveImportPaths(pattern: string, fromFile: string, files: ImportFiles): ResolvedImport {
  const full = path.isAbsolute(pattern) ? path.normalize(pattern) : path.join(path.dirname(path.resolve(fromFile)), pattern);
  if (!GLOB_META.test(full)) return { paths: [full] };
  if (count(full, '*') > 1 || count(full, '?') > 1 || (full.includes('[') && full.includes(']'))) {
    return { error: `import pattern ${pattern} may contain only one wildcard (one '*' or '?', no '[...]')` };
  }
  let matches: string[];
  try {
    matches = files.glob(full).map((m) => path.resolve(m));
  } catch (err) {
    return { error: `cannot expand import pattern ${pattern}: ${(err as Error).message}` };
  }
  matches.sort();
  if (path.basename(full).startsWith('*')) matches = matches.filter((m) => !path.basename(m).startsWith('.'));
  return { paths: matches };
}

function count(text: string, ch: string): number {
  let total = 0;
  for (let k = text.indexOf(ch); k >= 0; k = text.indexOf(ch, k + 1)) total++;
  return total;
}

/** Reads one imported file; the error message names the pattern as the user wrote it. */
export function readImport(file: string, pattern: string, files: ImportFiles): { text: string } | { error: string } {
  try {
    return { text: files.readFile(file) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { error: `file to import not found: ${pattern} (${file})` };
    if (code === 'EISDIR') return { error: `cannot import ${file}: it is a directory` };
    return { error: `cannot import ${file}: ${(err as Error).message}` };
  }
}
