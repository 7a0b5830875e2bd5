/**
 * `portcullis bans list|add|delete`: an operator's bans in the configured database. A running
 * instance with a `guard` block (or an identity provider) picks a change up within seconds.
 * Also the helpers `decisions` shares.
 */
import { Command } from 'commander';
import { parseDuration } from '../../config/index.ts';
import type { DecisionAdmin } from '../../guard/index.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import { openGuardAdmin } from '../../main.ts';
import type { Decision } from '../../store/index.ts';
import { addConfigOptions, adapterOf, configPath, type ConfigOptions } from '../config-option.ts';
import { printJson, printTable, run } from './user.ts';

const DEFAULT_DURATION = '4h';

export function bansCommand(): Command {
  const bans = new Command('bans').description('ban client addresses and ranges, list and lift bans');

  addConfigOptions(bans.command('list').description('list the bans in force'))
    .option('--json', 'print JSON')
    .action((options: ConfigOptions & { json?: boolean }) =>
      run(async () => printDecisions(await withGuardAdmin(options, (admin) => admin.list('ban')), options.json === true, 'no bans')),
    );

  addConfigOptions(bans.command('add').description('ban an address or CIDR range'))
    .argument('<ip|cidr>', 'an IPv4 or IPv6 address, or a range such as 203.0.113.0/24')
    .option('--duration <duration>', `how long: 30m, 4h, 7d, ... or "forever" (default ${DEFAULT_DURATION})`)
    .option('--reason <text>', 'why, for the list and the logs')
    .action((target: string, options: ConfigOptions & { duration?: string; reason?: string }) =>
      run(async () => {
        const durationMs = banDuration(options.duration ?? DEFAULT_DURATION);
        const ban = await withGuardAdmin(options, (admin) => admin.ban(target, { durationMs, ...(options.reason !== undefined ? { reason: options.reason } : {}) }));
        process.stdout.write(`banned ${ban.value} ${ban.expiresAt === null ? 'until lifted' : `until ${new Date(ban.expiresAt).toISOString()}`} (id ${ban.id})\n`);
      }),
    );

  addConfigOptions(bans.command('delete').description('lift the decisions on an address or range, or one by its id'))
    .argument('<ip|cidr|id>', 'the address or range as banned, or the id from `bans list`')
    .action((target: string, options: ConfigOptions) =>
      run(async () => {
        const { count, what } = await withGuardAdmin(options, (admin) => admin.lift(target));
        process.stdout.write(count === 1 && what.startsWith('decision ') ? `lifted ${what}\n` : `lifted ${count} decision${count === 1 ? '' : 's'} on ${what}\n`);
      }),
    );

  return bans;
}

/** `4h` -> ms; `forever` -> null. */
function banDuration(text: string): number | null {
  if (text === 'forever') return null;
  const parsed = parseDuration(text);
  if (!parsed.ok) throw inputError(`--duration: ${parsed.error}`);
  if (parsed.value <= 0) throw inputError('--duration: must be longer than 0 (or "forever")');
  return parsed.value;
}

/** Opens the configured database's decisions for one piece of work, and closes it after. */
export async function withGuardAdmin<T>(options: ConfigOptions, work: (admin: DecisionAdmin) => Promise<T>): Promise<T> {
  const adapter = adapterOf(options);
  const { admin, close } = await openGuardAdmin({ configFile: configPath(options), ...(adapter ? { adapter } : {}) });
  try {
    return await work(admin);
  } finally {
    await close();
  }
}

/** A table (or JSON with ISO times) of decisions. */
export function printDecisions(decisions: Decision[], json: boolean, none: string): void {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  if (json) {
    printJson(decisions.map((d) => ({ ...d, createdAt: iso(d.createdAt), expiresAt: iso(d.expiresAt) })));
  } else if (decisions.length === 0) {
    process.stdout.write(`${none}\n`);
  } else {
    printTable([
      ['ID', 'KIND', 'VALUE', 'ORIGIN', 'EXPIRES', 'REASON'],
      ...decisions.map((d) => [String(d.id), d.kind, d.value, d.origin, iso(d.expiresAt) ?? 'never', d.reason || '-']),
    ]);
  }
}

function inputError(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_HTTP_BAD_REQUEST, message, { status: 400 });
}
