/**
 * `portcullis keys rotate`: a new signing key per algorithm in use (and a new cookie key); the
 * old ones stop signing and stay in the JWKS until every token they signed has expired. A
 * running instance picks the new keys up on reload.
 */
import { Command } from 'commander';
import { systemClock } from '../../kernel/clock.ts';
import { openIdentityAdmin } from '../../main.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

export function keysCommand(): Command {
  const keys = new Command('keys').description('manage the signing keys of the identity provider');
  addConfigOptions(keys.command('rotate').description('add new signing keys and retire the current ones')).action(async (options: ConfigOptions) => {
    try {
      const adapter = adapterOf(options);
      const { store, close } = await openIdentityAdmin({ configFile: configPath(options), ...(adapter ? { adapter } : {}) });
      try {
        const { rotateKeys } = await import('../../identity/index.ts');
        const added = await rotateKeys(store.keys, systemClock);
        process.stdout.write(`new keys: ${added.join(', ')}\nreload the running instance (portcullis reload) to sign with them\n`);
      } finally {
        await close();
      }
    } catch (error) {
      reportError(error);
    }
  });
  return keys;
}
