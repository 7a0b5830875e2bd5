// How bench/ starts Portcullis: the bundled CLI with the Node flags of the `portcullis`
// shim's shebang (packages/portcullis/bin/portcullis.js), on the Node running the bench, so
// the figures are those of `npx portcullis`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PORTCULLIS_BUNDLE = fileURLToPath(new URL('../../packages/portcullis/dist/bundle/portcullis.js', import.meta.url));
const SHIM = fileURLToPath(new URL('../../packages/portcullis/bin/portcullis.js', import.meta.url));

/** The flags after `node` on the shim's `#!/usr/bin/env -S node ...` line. */
export function shimNodeFlags() {
  const first = readFileSync(SHIM, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\S*env\s+(?:-S\s+)?node\b(.*)$/.exec(first);
  if (!match) throw new Error(`${SHIM}: unexpected first line ${JSON.stringify(first)}`);
  return match[1].trim().split(/\s+/).filter((f) => f !== '');
}
