/**
 * `portcullis client add|list|delete`: OIDC clients registered in the database (clients written
 * in the config file are not listed here). A confidential client's secret is printed once, at
 * creation; only its hash is stored, so it cannot be shown again.
 */
import { Command } from 'commander';
import type { GrantType } from '../../identity/admin.ts';
import { addConfigOptions, type ConfigOptions } from '../config-option.ts';
import { printJson, printTable, run, withIdentityAdmin } from './user.ts';

interface ClientAddOptions extends ConfigOptions {
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  public?: boolean;
  firstParty?: boolean;
  scopes?: string[];
  grantTypes?: string[];
  name?: string;
}

export function clientCommand(): Command {
  const client = new Command('client').description('manage OIDC clients (apps that sign users in through Portcullis)');

  addConfigOptions(client.command('add').description('register a client and print its secret (shown only this once)'))
    .argument('<id>', 'client_id: letters, digits, ".", "_", "~" or "-"')
    .option('--redirect-uri <uri...>', 'allowed redirect URIs (https, or http to a loopback address), matched exactly')
    .option('--post-logout-redirect-uri <uri...>', 'where the app may send users after signing out')
    .option('--public', 'no secret (single-page and native apps); PKCE is required')
    .option('--first-party', 'do not ask users for consent')
    .option('--scopes <scope...>', 'scopes the client may ask for (default: openid profile email groups)')
    .option('--grant-types <type...>', 'authorization_code, refresh_token, client_credentials (default: authorization_code refresh_token)')
    .option('--name <name>', 'name shown on the consent page')
    .action((id: string, options: ClientAddOptions) =>
      run(async () => {
        const created = await withIdentityAdmin(options, (admin) =>
          admin.addClient({
            id,
            redirectUris: options.redirectUri ?? [],
            postLogoutRedirectUris: options.postLogoutRedirectUri ?? [],
            public: options.public === true,
            firstParty: options.firstParty === true,
            ...(options.scopes ? { scopes: options.scopes } : {}),
            // The facade checks each value against the known grant types.
            ...(options.grantTypes ? { grantTypes: options.grantTypes as GrantType[] } : {}),
            name: options.name ?? null,
          }),
        );
        process.stdout.write(`client_id:     ${created.clientId}\n`);
        if (created.secret === null) {
          process.stdout.write('public client: no secret; the app must use PKCE\n');
        } else {
          process.stdout.write(`client_secret: ${created.secret}\n`);
          process.stdout.write('Store the secret now: it cannot be shown again (only its hash is kept).\n');
        }
      }),
    );

  addConfigOptions(client.command('list').description('list clients registered in the database'))
    .option('--json', 'print JSON')
    .action((options: ConfigOptions & { json?: boolean }) =>
      run(async () => {
        const clients = await withIdentityAdmin(options, (admin) => admin.listClients());
        if (options.json) {
          printJson(clients.map((c) => ({ ...c, createdAt: new Date(c.createdAt).toISOString() })));
        } else if (clients.length === 0) {
          process.stdout.write('no clients\n');
        } else {
          printTable([
            ['CLIENT_ID', 'TYPE', 'CONSENT', 'GRANT_TYPES', 'REDIRECT_URIS'],
            ...clients.map((c) => [
              c.clientId,
              c.public ? 'public' : 'confidential',
              c.firstParty ? 'first-party' : 'asked',
              c.grantTypes.join(','),
              c.redirectUris.join(' ') || '-',
            ]),
          ]);
        }
      }),
    );

  addConfigOptions(client.command('delete').description('delete a client'))
    .argument('<id>')
    .action((id: string, options: ConfigOptions) =>
      run(async () => {
        await withIdentityAdmin(options, (admin) => admin.deleteClient(id));
        process.stdout.write(`client ${id} deleted\n`);
      }),
    );

  return client;
}
