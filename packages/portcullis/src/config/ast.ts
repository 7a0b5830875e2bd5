/**
 * The Caddyfile syntax tree: what the lexer and parser produce and the adapters consume.
 * Snippets, imports, `{args[N]}` and `{$ENV}` are already expanded here, and every token still
 * knows the file and line it came from (through imports too), so adapters can report errors
 * at the place the user wrote them.
 */
import type { SourceLocation } from '../kernel/errors.ts';

export interface Token {
  text: string;
  file: string;
  line: number;
  /** Written in "quotes", `backticks` or a heredoc: never a brace, matcher or directive. */
  quoted: boolean;
}

/** One directive line and, when it opens `{`, its block of nested directives. */
export interface Directive {
  /** First token of the line: a directive name, `@matcher`, or a subdirective name. */
  name: string;
  nameToken: Token;
  args: Token[];
  /** Nested directives when the line ended with `{`; null when it had no block. */
  block: Directive[] | null;
  source: SourceLocation;
}

/** A site block (`example.com, :8080 { ... }`) or the global options block (no keys). */
export interface ServerBlock {
  keys: Token[];
  directives: Directive[];
  source: SourceLocation;
}

export interface ParsedCaddyfile {
  /** The global options block: the first block, written with no keys; null when absent. */
  global: ServerBlock | null;
  sites: ServerBlock[];
}

export function locationOf(token: Token): SourceLocation {
  return { file: token.file, line: token.line };
}
