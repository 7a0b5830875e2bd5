/**
 * `portcullis reload`: adapt the config here (so errors show with file:line in this terminal),
 * then hand the JSON to the running instance's admin API, which swaps it in without dropping
 * a connection. The old config keeps serving if the new one is refused.
 */
import { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { parseAdminAddress } from '../../admin/index.ts';
import { addConfigOptions, adapterOf, configPath, reportError, type ConfigOptions } from '../config-option.ts';

export function reloadCommand(): Command {
  return addConfigOptions(new Command('reload').description('apply a changed config to the running instance'))
    .option('--address <host:port>', "the running instance's admin address (default: the config's admin option)")
    .action(async (options: ConfigOptions & { address?: string }) => {
      try {
        const adapter = adapterOf(options);
        const config = loadConfig(configPath(options), adapter ? { adapter } : {});
        const listen = options.address ?? config.admin.listen;
        if (listen === null) throw new Error('the config says `admin off`, so there is no admin API to reload through; use --address or send SIGUSR1');
        const { host, port } = parseAdminAddress(listen);
        const hostport = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        // Loaded here, not at the top: every command shares this module graph, and `run` should
        // not carry undici's whole index in memory for a command it never runs.
        const { request } = await import('undici');
        const response = await request(`http://${hostport}/load`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(config),
        });
        const body = await response.body.text();
        if (response.statusCode !== 200) {
          let detail = body;
          try {
            const parsed = JSON.parse(body) as { error?: { message?: string; errors?: string[] } };
            detail = [parsed.error?.message, ...(parsed.error?.errors ?? [])].filter(Boolean).join('\n');
          } catch {
            // not JSON: print as it came
          }
          throw new Error(`reload refused (HTTP ${response.statusCode}):\n${detail}`);
        }
        process.stdout.write('config reloaded\n');
      } catch (error) {
        reportError(error);
      }
    });
}
