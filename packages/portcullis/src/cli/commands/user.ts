/**
 * `portcullis user add|passwd|disable|enable|delete|list`: accounts in the configured database.
 * Also the helpers the `group` and `client` commands share: opening the admin facade, reading a
 * password, printing a table.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { openIdentityAdmin } from '../../main.ts';
import type { IdentityAdmin, UserSummary } from '../../identity/admin.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

interface PasswordOptions extends ConfigOptions {
  passwordStdin?: boolean;
}

export function userCommand(): Command {
  const user = new Command('user').description('manage user accounts in the database');

  addConfigOptions(user.command('add').description('create a user (asks for the password twice, or reads it from stdin)'))
    .argument('<username>', 'login name: letters, digits, ".", "_" or "-"')
    .option('--email <address>', 'email address (also accepted as the login)')
    .option('--name <display name>', 'name shown in apps and on the consent page')
    .option('--password-stdin', 'read the password from standard input (one line)')
    .action((username: string, options: PasswordOptions & { email?: string; name?: string }) =>
      run(async () => {
        const password = await readNewPassword(options);
        const created = await withIdentityAdmin(options, (admin) =>
          admin.addUser({ username, email: options.email ?? null, displayName: options.name ?? null, password }),
        );
        process.stdout.write(`user ${created.username} created\n`);
      }),
    );

  addConfigOptions(user.command('passwd').description("set a user's password"))
    .argument('<login>', 'username or email')
    .option('--password-stdin', 'read the password from standard input (one line)')
    .action((login: string, options: PasswordOptions) =>
      run(async () => {
        const password = await readNewPassword(options);
        await withIdentityAdmin(options, (admin) => admin.setPassword(login, password));
        process.stdout.write(`password of ${login} changed\n`);
      }),
    );

  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    addConfigOptions(user.command(name).description(disabled ? 'stop a user from signing in' : 'let a disabled user sign in again'))
      .argument('<login>', 'username or email')
      .action((login: string, options: ConfigOptions) =>
        run(async () => {
          await withIdentityAdmin(options, (admin) => admin.setDisabled(login, disabled));
          process.stdout.write(`user ${login} ${disabled ? 'disabled' : 'enabled'}\n`);
        }),
      );
  }

  addConfigOptions(user.command('delete').description('delete a user and their group memberships'))
    .argument('<login>', 'username or email')
    .action((login: string, options: ConfigOptions) =>
      run(async () => {
        await withIdentityAdmin(options, (admin) => admin.deleteUser(login));
        process.stdout.write(`user ${login} deleted\n`);
      }),
    );

  addConfigOptions(user.command('list').description('list users and their groups'))
    .option('--json', 'print JSON')
    .action((options: ConfigOptions & { json?: boolean }) =>
      run(async () => {
        const users = await withIdentityAdmin(options, (admin) => admin.listUsers());
        if (options.json) {
          printJson(users.map((u) => ({ ...u, createdAt: new Date(u.createdAt).toISOString() })));
        } else if (users.length === 0) {
          process.stdout.write('no users\n');
        } else {
          printTable([['USERNAME', 'EMAIL', 'NAME', 'STATUS', 'GROUPS'], ...users.map(userRow)]);
        }
      }),
    );

  return user;
}

function userRow(u: UserSummary): string[] {
  const status = u.disabled ? 'disabled' : u.hasPassword ? 'active' : 'no password';
  return [u.username, u.email ?? '-', u.displayName ?? '-', status, u.groups.join(',') || '-'];
}

/** Runs an action, printing any error the usual way (exit code 1). */
export async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    reportError(error);
  }
}

/** Opens the configured database's admin facade for one piece of work, and closes it after. */
export async function withIdentityAdmin<T>(options: ConfigOptions, work: (admin: IdentityAdmin) => Promise<T>): Promise<T> {
  const adapter = adapterOf(options);
  const { admin, close } = await openIdentityAdmin({ configFile: configPath(options), ...(adapter ? { adapter } : {}) });
  try {
    return await work(admin);
  } finally {
    await close();
  }
}

/**
 * The new password: one line from stdin with --password-stdin, else typed twice at a terminal
 * with echo off. Never from argv: command lines show in `ps` and in shell history.
 */
async function readNewPassword(options: PasswordOptions): Promise<string> {
  if (options.passwordStdin) return readPasswordFromStdin();
  if (!process.stdin.isTTY) {
    throw inputError('no password given: pipe it in with --password-stdin, or run in a terminal to be asked for it');
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw inputError('the passwords do not match');
  return first;
}

/** Limit on what is read from stdin; passwords themselves are limited to 1024 bytes later. */
const MAX_STDIN_BYTES = 64 * 1024;

async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_STDIN_BYTES) throw inputError('standard input is too long for a password');
    chunks.push(bytes);
  }
  // `echo secret | portcullis ...` adds one newline; that is not part of the password.
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (/[\r\n]/.test(text)) throw inputError('the password on standard input must be one line');
  return text;
}

/** Asks at the terminal without echoing what is typed (the prompt itself goes to stderr). */
function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise<string>((resolve, reject) => {
    let answered = false;
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      process.stderr.write('\n');
      if (!answered) reject(inputError('cancelled'));
    });
    rl.question(question, (answer) => {
      answered = true;
      resolve(answer);
      rl.close();
    });
    muted = true;
  });
}

/** Bad input from the operator: printed as one line, without a stack. */
function inputError(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_HTTP_BAD_REQUEST, message, { status: 400 });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns separated by two spaces; control characters shown as `?`. */
export function printTable(rows: string[][]): void {
  const clean = rows.map((row) => row.map((cell) => cell.replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, '?')));
  const widths: number[] = [];
  for (const row of clean) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  for (const row of clean) {
    process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
  }
}
