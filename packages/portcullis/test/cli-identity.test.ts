/**
 * `portcullis user`, `group` and `client` as an operator runs them: the real binary, a real
 * config file and a real SQLite database in a temp dir.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIdentityAdmin } from '../src/main.ts';
import { verifyPassword } from '../src/identity/passwords.ts';

const BIN = new URL('../src/cli/bin.ts', import.meta.url).pathname;
const NODE_BIN = new URL('../../../node_modules/.bin', import.meta.url).pathname;

let dir: string;
let configFile: string;
let env: NodeJS.ProcessEnv;

function cli(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args, '--config', configFile], {
    encoding: 'utf8',
    timeout: 30_000,
    env,
    // stdin is a pipe, never a TTY: with no input the password prompt must refuse, not hang.
    input: input ?? '',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The stored user, read straight from the database the CLI wrote. */
async function storedUser(login: string) {
  const { store, close } = await openIdentityAdmin({ configFile, env });
  try {
    return await store.users.byLogin(login);
  } finally {
    await close();
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-identity-'));
  configFile = join(dir, 'Portcullisfile');
  writeFileSync(configFile, `{\n\tadmin off\n\tdatabase sqlite ${join(dir, 'test.db')}\n}\n`);
  env = { ...process.env, PATH: `${NODE_BIN}:${process.env.PATH ?? ''}`, PORTCULLIS_DATA_DIR: join(dir, 'data') };
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('portcullis user / group / client', () => {
  test('--help lists the identity commands', () => {
    const result = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', env, timeout: 30_000 });
    for (const command of ['user', 'group', 'client']) assert.match(result.stdout, new RegExp(`\\b${command}\\b`));
    const user = spawnSync(process.execPath, [BIN, 'user', '--help'], { encoding: 'utf8', env, timeout: 30_000 });
    for (const sub of ['add', 'passwd', 'disable', 'enable', 'delete', 'list']) assert.match(user.stdout, new RegExp(`\\b${sub}\\b`));
  });

  test('user add reads the password from stdin and stores only its argon2id hash', async () => {
    const added = cli(['user', 'add', 'alice', '--email', 'alice@example.com', '--name', 'Alice Liddell', '--password-stdin'], 'correct horse battery\n');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /user alice created/);
    const user = await storedUser('alice');
    assert.ok(user);
    assert.match(user.passwordHash!, /^\$argon2id\$v=19\$/);
    assert.equal(await verifyPassword(user.passwordHash!, 'correct horse battery'), true, 'the trailing newline is not part of the password');
    for (const file of readdirSync(dir).filter((f) => f.startsWith('test.db'))) {
      assert.ok(!readFileSync(join(dir, file)).includes('correct horse battery'), `plain password in ${file}`);
    }
  });

  test('user list prints an aligned table, and --json without password hashes', () => {
    assert.equal(cli(['user', 'add', 'bob', '--password-stdin'], 'bobs password').code, 0);
    const table = cli(['user', 'list']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^USERNAME\s+EMAIL\s+NAME\s+STATUS\s+GROUPS$/);
    assert.match(lines[1]!, /^alice\s+alice@example\.com\s+Alice Liddell\s+active\s+-$/);
    assert.match(lines[2]!, /^bob\s+-\s+-\s+active\s+-$/);
    assert.equal(lines[1]!.indexOf('alice@'), lines[0]!.indexOf('EMAIL'), 'columns line up');
    const json = cli(['user', 'list', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const users = JSON.parse(json.stdout) as { username: string; email: string | null; hasPassword: boolean; disabled: boolean }[];
    assert.deepEqual(
      users.map((u) => [u.username, u.email, u.hasPassword, u.disabled]),
      [
        ['alice', 'alice@example.com', true, false],
        ['bob', null, true, false],
      ],
    );
    assert.doesNotMatch(json.stdout, /argon2|passwordHash/);
  });

  test('a duplicate user (any case) is an error with exit code 1', () => {
    const duplicate = cli(['user', 'add', 'ALICE', '--password-stdin'], 'whatever');
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /ERR_STORE_CONFLICT: user ALICE already exists/);
  });

  test('without --password-stdin and without a terminal, user add refuses instead of hanging', () => {
    const result = cli(['user', 'add', 'carol']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--password-stdin/);
  });

  test('invalid input is refused with the reason', () => {
    const badName = cli(['user', 'add', 'carol@example.com', '--password-stdin'], 'pw');
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /invalid username/);
    const emptyPassword = cli(['user', 'add', 'carol', '--password-stdin'], '\n');
    assert.equal(emptyPassword.code, 1);
    assert.match(emptyPassword.stderr, /must not be empty/);
  });

  test('user passwd, disable and enable', async () => {
    const passwd = cli(['user', 'passwd', 'alice@example.com', '--password-stdin'], 'a new password\n');
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal(await verifyPassword((await storedUser('alice'))!.passwordHash!, 'a new password'), true);
    assert.equal(cli(['user', 'disable', 'alice']).code, 0);
    assert.match(cli(['user', 'list']).stdout, /^alice\s.*\sdisabled\s/m);
    assert.equal((await storedUser('alice'))!.disabled, true);
    assert.equal(cli(['user', 'enable', 'alice']).code, 0);
    assert.equal((await storedUser('alice'))!.disabled, false);
  });

  test('groups: add, member add, list shows membership; member remove', () => {
    const added = cli(['group', 'add', 'staff', '--description', 'Everyone who works here']);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(cli(['group', 'add', 'admins']).code, 0);
    assert.equal(cli(['group', 'member', 'add', 'staff', 'alice']).code, 0);
    assert.equal(cli(['group', 'member', 'add', 'staff', 'bob']).code, 0);
    assert.equal(cli(['group', 'member', 'add', 'admins', 'alice']).code, 0);
    const list = cli(['group', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^GROUP\s+DESCRIPTION\s+MEMBERS$/m);
    assert.match(list.stdout, /^admins\s+-\s+alice$/m);
    assert.match(list.stdout, /^staff\s+Everyone who works here\s+alice,bob$/m);
    assert.deepEqual(JSON.parse(cli(['group', 'list', '--json']).stdout), [
      { name: 'admins', description: null, members: ['alice'] },
      { name: 'staff', description: 'Everyone who works here', members: ['alice', 'bob'] },
    ]);
    assert.match(cli(['user', 'list']).stdout, /^alice\s.*\sadmins,staff$/m);
    assert.equal(cli(['group', 'member', 'remove', 'staff', 'bob']).code, 0);
    assert.match(cli(['group', 'list']).stdout, /^staff\s+Everyone who works here\s+alice$/m);
    const again = cli(['group', 'add', 'staff']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /group staff already exists/);
  });

  test('unknown users and groups are errors that name them', () => {
    for (const [args, message] of [
      [['user', 'delete', 'nobody'], /ERR_STORE_NOT_FOUND: no user named nobody/],
      [['user', 'passwd', 'nobody', '--password-stdin'], /no user named nobody/],
      [['user', 'disable', 'nobody'], /no user named nobody/],
      [['group', 'member', 'add', 'staff', 'nobody'], /no user named nobody/],
      [['group', 'member', 'add', 'ghosts', 'alice'], /group ghosts does not exist/],
      [['group', 'delete', 'ghosts'], /group ghosts does not exist/],
    ] as const) {
      const result = cli([...args], 'some password');
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, message, args.join(' '));
    }
  });

  test('client add prints the secret once; list and the database never show it', () => {
    const added = cli(['client', 'add', 'webapp', '--redirect-uri', 'https://app.example.com/cb', 'http://127.0.0.1:8080/cb', '--name', 'Web App', '--first-party']);
    assert.equal(added.code, 0, added.stderr);
    const secret = /^client_secret: ([A-Za-z0-9_-]{43})$/m.exec(added.stdout)?.[1];
    assert.ok(secret, added.stdout);
    assert.match(added.stdout, /cannot be shown again/);
    const list = cli(['client', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^CLIENT_ID\s+TYPE\s+CONSENT\s+GRANT_TYPES\s+REDIRECT_URIS$/m);
    assert.match(list.stdout, /^webapp\s+confidential\s+first-party\s+authorization_code,refresh_token\s+https:\/\/app\.example\.com\/cb http:\/\/127\.0\.0\.1:8080\/cb$/m);
    const json = cli(['client', 'list', '--json']);
    const clients = JSON.parse(json.stdout) as { clientId: string; name: string; public: boolean }[];
    assert.deepEqual(clients.map((c) => [c.clientId, c.name, c.public]), [['webapp', 'Web App', false]]);
    for (const output of [list.stdout, json.stdout]) {
      assert.ok(!output.includes(secret), 'secret shown again');
      assert.doesNotMatch(output, /sha256:/);
    }
    for (const file of readdirSync(dir).filter((f) => f.startsWith('test.db'))) {
      assert.ok(!readFileSync(join(dir, file)).includes(secret), `plain secret in ${file}`);
    }
  });

  test('a public client gets no secret', () => {
    const added = cli(['client', 'add', 'spa', '--public', '--redirect-uri', 'http://localhost:5173/cb', '--scopes', 'openid', 'email']);
    assert.equal(added.code, 0, added.stderr);
    assert.doesNotMatch(added.stdout, /client_secret/);
    assert.match(added.stdout, /no secret/);
    assert.match(cli(['client', 'list']).stdout, /^spa\s+public\s+asked\s/m);
  });

  test('bad clients are refused with the reason', () => {
    for (const [args, message] of [
      [['client', 'add', 'evil', '--redirect-uri', 'http://evil.example/cb'], /must use https/],
      [['client', 'add', 'evil', '--redirect-uri', 'https://app.example.com/cb#x'], /fragment/],
      [['client', 'add', 'evil'], /needs a redirect_uri/],
      [['client', 'add', 'bad id', '--redirect-uri', 'https://app.example.com/cb'], /client id "bad id" may only contain/],
      [['client', 'add', 'webapp', '--redirect-uri', 'https://app.example.com/cb'], /client webapp already exists/],
    ] as const) {
      const result = cli([...args]);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, message, args.join(' '));
    }
  });

  test('client delete, then it is gone', () => {
    assert.equal(cli(['client', 'delete', 'webapp']).code, 0);
    assert.doesNotMatch(cli(['client', 'list']).stdout, /webapp/);
    const again = cli(['client', 'delete', 'webapp']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no client with id webapp/);
  });

  test('user delete removes the user and their memberships', () => {
    assert.equal(cli(['user', 'delete', 'alice']).code, 0);
    assert.doesNotMatch(cli(['user', 'list']).stdout, /alice/);
    assert.match(cli(['group', 'list']).stdout, /^admins\s+-\s+-$/m);
  });
});
