/** `portcullis validate`: load the config, get its certificates and compile it, without serving. */
import { Command } from 'commander';
import { checkConfig } from '../../main.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

export function validateCommand(): Command {
  return addConfigOptions(new Command('validate').description('check a config file and report every error')).action(async (options: ConfigOptions) => {
    try {
      const file = configPath(options);
      const adapter = adapterOf(options);
      const config = await checkConfig({ configFile: file, logger: silentLogger(), ...(adapter ? { adapter } : {}) });
      process.stdout.write(`${file}: valid config (${config.sites.length} site${config.sites.length === 1 ? '' : 's'})\n`);
    } catch (error) {
      reportError(error);
    }
  });
}
