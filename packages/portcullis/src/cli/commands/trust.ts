/**
 * `portcullis trust`: print where the internal CA's root certificate is, and install it into
 * the system trust store when it can (Debian's /usr/local/share/ca-certificates, as root).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { systemClock } from '../../kernel/clock.ts';
import { silentLogger } from '../../kernel/logger.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

const SYSTEM_STORE = '/usr/local/share/ca-certificates';

export function trustCommand(): Command {
  return addConfigOptions(new Command('trust').description("print the internal CA's root certificate path and install it where possible"))
    .option('--no-install', 'only print the path')
    .action(async (options: ConfigOptions & { install: boolean }) => {
      try {
        const adapter = adapterOf(options);
        const file = configPath(options);
        const storage = existsSync(file) ? loadConfig(file, adapter ? { adapter } : {}).tls : { storage: null, localCerts: false };
        const tls = await import('../../tls/index.ts');
        const manager = await tls.createCertificateManager({ storage: storage.storage, global: storage, logger: silentLogger(), clock: systemClock });
        const root = await manager.ensureRootCertificate();
        await manager.close();
        process.stdout.write(`${root}\n`);
        if (!options.install) return;
        const updater = ['/usr/sbin/update-ca-certificates', '/usr/bin/update-ca-certificates'].find((p) => existsSync(p));
        if (process.getuid?.() === 0 && updater !== undefined && existsSync(SYSTEM_STORE)) {
          copyFileSync(root, `${SYSTEM_STORE}/portcullis-local-root.crt`);
          execFileSync(updater, { stdio: 'ignore', timeout: 60_000 });
          process.stderr.write(`installed into the system trust store (${SYSTEM_STORE})\n`);
        } else {
          process.stderr.write(
            `not installed: run as root on a system with update-ca-certificates, or add ${root} to your browser's or system's trusted authorities\n`,
          );
        }
      } catch (error) {
        reportError(error);
      }
    });
}
