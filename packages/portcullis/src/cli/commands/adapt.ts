/** `portcullis adapt`: print the adapted JSON config. */
import { Command } from 'commander';
import { loadConfig, redactSecrets } from '../../config/index.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

export function adaptCommand(): Command {
  return addConfigOptions(new Command('adapt').description('print the config as JSON'))
    .option('--compact', 'one line instead of indented JSON')
    .action((options: ConfigOptions & { compact?: boolean }) => {
      try {
        const adapter = adapterOf(options);
        const config = loadConfig(configPath(options), adapter ? { adapter } : {});
        process.stdout.write(JSON.stringify(redactSecrets(config), null, options.compact ? undefined : 2) + '\n');
      } catch (error) {
        reportError(error);
      }
    });
}
