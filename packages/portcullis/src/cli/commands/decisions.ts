/** `portcullis decisions`: every decision in force (bans, throttles, challenges), whoever made it. */
import { Command } from 'commander';
import { addConfigOptions, type ConfigOptions } from '../config-option.ts';
import { printDecisions, withGuardAdmin } from './bans.ts';
import { run } from './user.ts';

export function decisionsCommand(): Command {
  return addConfigOptions(new Command('decisions').description('list the guard decisions in force: kind, address, origin, expiry, reason'))
    .option('--json', 'print JSON')
    .action((options: ConfigOptions & { json?: boolean }) =>
      run(async () => printDecisions(await withGuardAdmin(options, (admin) => admin.list()), options.json === true, 'no decisions')),
    );
}
