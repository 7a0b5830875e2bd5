/** `portcullis run`: serve until SIGTERM/SIGINT; SIGUSR1 reloads the config file. */
import { Command } from 'commander';
import { start } from '../../main.ts';
import { createLogger } from '../../kernel/logger.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

export function runCommand(): Command {
  return addConfigOptions(new Command('run').description('start serving with a config file')).action(async (options: ConfigOptions) => {
    const logger = createLogger();
    let instance;
    try {
      const adapter = adapterOf(options);
      instance = await start({ configFile: configPath(options), logger, ...(adapter ? { adapter } : {}) });
    } catch (error) {
      reportError(error);
      return;
    }
    process.on('SIGUSR1', () => {
      instance.reload().then(
        () => logger.info('reloaded on SIGUSR1'),
        (error: unknown) => {
          logger.error({ err: error }, 'reload failed; the previous config keeps serving');
          reportError(error);
          process.exitCode = 0;
        },
      );
    });
    let signals = 0;
    const stop = (signal: string) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      logger.info({ signal }, 'shutting down gracefully');
      void instance.stop();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    await instance.stopped;
    logger.flush();
  });
}
