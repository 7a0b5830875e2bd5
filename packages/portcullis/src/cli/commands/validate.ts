/** `portcullis validate`: load and compile the config without serving it. */
import { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { systemClock } from '../../kernel/clock.ts';
import { EventBus } from '../../kernel/events.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { buildRuntime, configUsesMetrics } from '../../proxy/index.ts';
import { loadMetricsKit } from '../../kernel/metrics.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

export function validateCommand(): Command {
  return addConfigOptions(new Command('validate').description('check a config file and report every error')).action(async (options: ConfigOptions) => {
    try {
      const file = configPath(options);
      const adapter = adapterOf(options);
      const config = loadConfig(file, adapter ? { adapter } : {});
      // Compiling catches what adapting cannot: regexps, CIDRs, listener conflicts.
      const runtime = buildRuntime(config, { logger: silentLogger(), events: new EventBus(), clock: systemClock, metrics: configUsesMetrics(config) ? await loadMetricsKit() : null, configFile: file });
      await runtime.dispose();
      process.stdout.write(`${file}: valid config (${config.sites.length} site${config.sites.length === 1 ? '' : 's'})\n`);
    } catch (error) {
      reportError(error);
    }
  });
}
