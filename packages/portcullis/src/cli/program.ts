/** Command table: each command is one small file under commands/. */
import { Command } from 'commander';
import { VERSION } from './version.ts';
import { runCommand } from './commands/run.ts';
import { validateCommand } from './commands/validate.ts';
import { adaptCommand } from './commands/adapt.ts';
import { fmtCommand } from './commands/fmt.ts';
import { reloadCommand } from './commands/reload.ts';
import { trustCommand } from './commands/trust.ts';
import { userCommand } from './commands/user.ts';
import { groupCommand } from './commands/group.ts';
import { clientCommand } from './commands/client.ts';
import { keysCommand } from './commands/keys.ts';
import { bansCommand } from './commands/bans.ts';
import { decisionsCommand } from './commands/decisions.ts';

export function createProgram(): Command {
  const program = new Command('portcullis')
    .description('Reverse proxy, identity provider and guard in one program, configured in Caddyfile syntax')
    .version(VERSION, '-v, --version')
    .showHelpAfterError();
  program.addCommand(runCommand());
  program.addCommand(validateCommand());
  program.addCommand(adaptCommand());
  program.addCommand(fmtCommand());
  program.addCommand(reloadCommand());
  program.addCommand(trustCommand());
  program.addCommand(userCommand());
  program.addCommand(groupCommand());
  program.addCommand(clientCommand());
  program.addCommand(keysCommand());
  program.addCommand(bansCommand());
  program.addCommand(decisionsCommand());
  program
    .command('version')
    .description('print the version')
    .action(() => void process.stdout.write(`portcullis ${VERSION} (node ${process.version})\n`));
  return program;
}
