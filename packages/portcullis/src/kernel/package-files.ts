/**
 * Files shipped with the package (data/, package.json), found from this module's own place.
 * It sits two levels below the package root however Portcullis runs: src/kernel/ from source
 * (tests), dist/kernel/ compiled (the library export), dist/bundle/ bundled (the CLI, where
 * every module shares the URL of the chunk it landed in). So every path to a shipped file is
 * made here, and the bundler moving a module cannot break one.
 */
import { fileURLToPath } from 'node:url';

/** The absolute path of `relative` (e.g. `data/rules/`) under the package root. */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}
