/** `portcullis group add|delete|list` and `group member add|remove`: groups in the database. */
import { Command } from 'commander';
import { addConfigOptions, type ConfigOptions } from '../config-option.ts';
import { printJson, printTable, run, withIdentityAdmin } from './user.ts';

export function groupCommand(): Command {
  const group = new Command('group').description('manage groups and their members');

  addConfigOptions(group.command('add').description('create a group'))
    .argument('<name>', 'group name as it appears in tokens: letters, digits, ".", "_" or "-"')
    .option('--description <text>', 'what the group is for')
    .action((name: string, options: ConfigOptions & { description?: string }) =>
      run(async () => {
        await withIdentityAdmin(options, (admin) => admin.addGroup(name, options.description ?? null));
        process.stdout.write(`group ${name} created\n`);
      }),
    );

  addConfigOptions(group.command('delete').description('delete a group (its members keep their accounts)'))
    .argument('<name>')
    .action((name: string, options: ConfigOptions) =>
      run(async () => {
        await withIdentityAdmin(options, (admin) => admin.deleteGroup(name));
        process.stdout.write(`group ${name} deleted\n`);
      }),
    );

  addConfigOptions(group.command('list').description('list groups and their members'))
    .option('--json', 'print JSON')
    .action((options: ConfigOptions & { json?: boolean }) =>
      run(async () => {
        const groups = await withIdentityAdmin(options, (admin) => admin.listGroups());
        if (options.json) printJson(groups);
        else if (groups.length === 0) process.stdout.write('no groups\n');
        else printTable([['GROUP', 'DESCRIPTION', 'MEMBERS'], ...groups.map((g) => [g.name, g.description ?? '-', g.members.join(',') || '-'])]);
      }),
    );

  const member = group.command('member').description('add users to groups and remove them');
  addConfigOptions(member.command('add').description('add a user to a group'))
    .argument('<group>')
    .argument('<login>', 'username or email')
    .action((groupName: string, login: string, options: ConfigOptions) =>
      run(async () => {
        await withIdentityAdmin(options, (admin) => admin.addMember(groupName, login));
        process.stdout.write(`${login} added to ${groupName}\n`);
      }),
    );
  addConfigOptions(member.command('remove').description('remove a user from a group'))
    .argument('<group>')
    .argument('<login>', 'username or email')
    .action((groupName: string, login: string, options: ConfigOptions) =>
      run(async () => {
        await withIdentityAdmin(options, (admin) => admin.removeMember(groupName, login));
        process.stdout.write(`${login} removed from ${groupName}\n`);
      }),
    );

  return group;
}
