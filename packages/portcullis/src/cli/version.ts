import { readFileSync } from 'node:fs';
import { packageFile } from '../kernel/package-files.ts';

/** The package version, read from the package's package.json. */
export const VERSION: string = (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
