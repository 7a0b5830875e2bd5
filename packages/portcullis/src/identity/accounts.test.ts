import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { argon2Sync, randomBytes } from 'node:crypto';
import { ManualClock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { EventBus, type LoginEvent } from '../kernel/events.ts';
import { silentLogger } from '../kernel/logger.ts';
import { createAccounts, type Accounts } from './accounts.ts';
import { createLoginThrottle } from './login-throttle.ts';
import { CURRENT_PARAMS, hashPassword, needsRehash } from './passwords.ts';
import { createMemoryStore, type MemoryStore } from './testing/memory-store.ts';

const IP = '192.0.2.10';

interface Setup {
  accounts: Accounts;
  store: MemoryStore;
  clock: ManualClock;
  events: { name: string; payload: LoginEvent }[];
}

async function setup(): Promise<Setup> {
  const clock = new ManualClock(1_700_000_000_000);
  const store = createMemoryStore({ clock });
  const bus = new EventBus();
  const events: Setup['events'] = [];
  bus.on('auth.login_failed', (payload) => events.push({ name: 'auth.login_failed', payload }));
  bus.on('auth.login_succeeded', (payload) => events.push({ name: 'auth.login_succeeded', payload }));
  const accounts = createAccounts({ store, clock, events: bus, throttle: createLoginThrottle({ clock }), logger: silentLogger() });
  return { accounts, store, clock, events };
}

async function addAlice(store: MemoryStore, extra: { disabled?: boolean; passwordHash?: string | null } = {}) {
  const user = await store.users.create({
    username: 'Alice',
    email: 'alice@example.com',
    passwordHash: extra.passwordHash === undefined ? await hashPassword('correct horse') : extra.passwordHash,
    disabled: extra.disabled ?? false,
  });
  await store.groups.create('staff');
  await store.groups.create('admins');
  await store.groups.addMember('staff', user.id);
  await store.groups.addMember('admins', user.id);
  return user;
}

describe('accounts.signIn', () => {
  test('the right password signs in, with the groups, an event and an audit record', async () => {
    const { accounts, store, events } = await setup();
    const alice = await addAlice(store);
    const result = await accounts.signIn('  ALICE ', 'correct horse', IP);
    assert.equal(result.ok, true);
    assert.ok(result.ok);
    assert.equal(result.user.id, alice.id);
    assert.deepEqual(result.groups, ['admins', 'staff']);
    assert.deepEqual(events, [{ name: 'auth.login_succeeded', payload: { login: 'alice', userId: alice.id, clientIp: IP } }]);
    const [record] = await store.audit.list();
    assert.equal(record?.type, 'auth.login_succeeded');
    assert.equal(record?.subject, alice.id);
    assert.equal(record?.ip, IP);
  });

  test('the email address works as the login, in any case', async () => {
    const { accounts, store } = await setup();
    await addAlice(store);
    assert.equal((await accounts.signIn('Alice@Example.COM', 'correct horse', IP)).ok, true);
  });

  test('a wrong password, an unknown login, a disabled account and an account without password all answer the same', async () => {
    const { accounts, store, events } = await setup();
    const alice = await addAlice(store);
    const bob = await store.users.create({ username: 'bob', passwordHash: await hashPassword('bobs password'), disabled: true });
    const carol = await store.users.create({ username: 'carol', passwordHash: null });
    const answers = [
      await accounts.signIn('alice', 'wrong', IP),
      await accounts.signIn('nobody', 'correct horse', IP),
      await accounts.signIn('bob', 'bobs password', IP),
      await accounts.signIn('bob', 'wrong', IP),
      await accounts.signIn('carol', 'anything', IP),
    ];
    for (const answer of answers) assert.deepEqual(answer, { ok: false, reason: 'credentials' });
    // Operators (events, audit) learn why; the caller did not.
    assert.deepEqual(
      events.map((e) => [e.name, e.payload.login, e.payload.userId, e.payload.reason]),
      [
        ['auth.login_failed', 'alice', alice.id, 'credentials'],
        ['auth.login_failed', 'nobody', null, 'credentials'],
        ['auth.login_failed', 'bob', bob.id, 'disabled'],
        ['auth.login_failed', 'bob', bob.id, 'credentials'],
        ['auth.login_failed', 'carol', carol.id, 'credentials'],
      ],
    );
    const audit = await store.audit.list({ type: 'auth.login_failed' });
    assert.equal(audit.length, 5);
    assert.deepEqual(audit.map((a) => a.detail.reason).reverse(), ['credentials', 'unknown_login', 'disabled', 'credentials', 'credentials']);
    assert.ok(audit.every((a) => a.ip === IP));
  });

  test('an unknown login costs about what a wrong password costs (no timing oracle)', async () => {
    const { accounts, store } = await setup();
    await addAlice(store);
    const median = async (login: string, ip: string) => {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await accounts.signIn(login, 'wrong', `${ip}.${i}`);
        times.push(performance.now() - started);
      }
      return times.sort((a, b) => a - b)[1]!;
    };
    const known = await median('alice', '198.51.100');
    const unknown = await median('nobody', '203.0.113');
    // Loose on purpose: this catches a skipped hash (100x faster), it is not a benchmark.
    assert.ok(unknown > known / 4, `unknown ${unknown.toFixed(1)} ms vs known ${known.toFixed(1)} ms`);
  });

  test('after five failures the account is throttled, even with the right password, without auditing each refusal', async () => {
    const { accounts, store, events, clock } = await setup();
    await addAlice(store);
    for (let i = 0; i < 5; i++) await accounts.signIn('alice', 'wrong', `198.51.100.${i}`);
    const auditBefore = (await store.audit.list()).length;
    const throttled = await accounts.signIn('alice', 'correct horse', '203.0.113.9');
    assert.deepEqual(throttled, { ok: false, reason: 'throttled', retryAfterMs: 60_000 });
    assert.equal(events.at(-1)?.payload.reason, 'throttled');
    assert.equal((await store.audit.list()).length, auditBefore);
    clock.advance(60_000);
    assert.equal((await accounts.signIn('alice', 'correct horse', '203.0.113.9')).ok, true);
  });

  test('a success resets the failure count', async () => {
    const { accounts, store } = await setup();
    await addAlice(store);
    for (let i = 0; i < 4; i++) await accounts.signIn('alice', 'wrong', IP);
    assert.equal((await accounts.signIn('alice', 'correct horse', IP)).ok, true);
    for (let i = 0; i < 4; i++) await accounts.signIn('alice', 'wrong', IP);
    assert.equal((await accounts.signIn('alice', 'correct horse', IP)).ok, true);
  });

  for (const [label, params] of [
    ['weaker than the current parameters', { memory: 1024, passes: 2, parallelism: 1 }],
    ['stronger (an imported 64 MiB x 3, which answered slower than an unknown login: security, a timing tell)', { memory: 65536, passes: 3, parallelism: 4 }],
  ] as const) {
    test(`a hash ${label} is replaced on a successful sign-in`, async () => {
      const { accounts, store } = await setup();
      const salt = randomBytes(16);
      const tag = argon2Sync('argon2id', { message: 'correct horse', nonce: salt, ...params, tagLength: 32 });
      const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
      const old = `$argon2id$v=19$m=${params.memory},t=${params.passes},p=${params.parallelism}$${b64(salt)}$${b64(tag)}`;
      const alice = await addAlice(store, { passwordHash: old });
      assert.equal((await accounts.signIn('alice', 'correct horse', IP)).ok, true);
      const stored = (await store.users.byId(alice.id))!.passwordHash!;
      assert.notEqual(stored, old);
      assert.match(stored, new RegExp(`^\\$argon2id\\$v=19\\$m=${CURRENT_PARAMS.m},t=${CURRENT_PARAMS.t},p=${CURRENT_PARAMS.p}\\$`));
      assert.equal(needsRehash(stored), false);
      assert.equal((await accounts.signIn('alice', 'correct horse', IP)).ok, true);
    });
  }

  test('a failure to store the new hash does not fail the sign-in', async () => {
    const { accounts, store } = await setup();
    // A weak hash asks for a rehash; make that write fail.
    const salt = randomBytes(16);
    const tag = argon2Sync('argon2id', { message: 'pw', nonce: salt, memory: 1024, passes: 1, parallelism: 1, tagLength: 32 });
    const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
    const user = await store.users.create({ username: 'dave', passwordHash: `$argon2id$v=19$m=1024,t=1,p=1$${b64(salt)}$${b64(tag)}` });
    store.users.update = async () => {
      throw new PortcullisError(ErrorCodes.ERR_STORE, 'disk full');
    };
    const result = await accounts.signIn('dave', 'pw', IP);
    assert.equal(result.ok, true);
    assert.ok(result.ok && result.user.id === user.id);
  });

  test('hostile logins and passwords are refused without a throw', async () => {
    const { accounts, store } = await setup();
    await addAlice(store);
    for (const [login, password] of [
      ['a'.repeat(100_000), 'x'],
      ['alice', 'x'.repeat(1_000_000)],
      ['', 'correct horse'],
      ['alice', ''],
      [null as unknown as string, 'x'],
    ] as const) {
      assert.deepEqual(await accounts.signIn(login, password, IP), { ok: false, reason: 'credentials' });
    }
  });
});

describe('accounts.createFirstAdmin', () => {
  test('creates the user in a new admins group, once', async () => {
    const { accounts, store } = await setup();
    const admin = await accounts.createFirstAdmin({ username: 'root', password: 'a long password', email: 'root@example.com' });
    assert.deepEqual(await store.groups.groupsOf(admin.id), ['admins']);
    assert.equal((await accounts.signIn('root', 'a long password', IP)).ok, true);
    const created = await store.audit.list({ type: 'user.created' });
    assert.equal(created[0]?.subject, admin.id);
    await assert.rejects(
      accounts.createFirstAdmin({ username: 'second', password: 'another password' }),
      (error: unknown) => error instanceof PortcullisError && error.code === ErrorCodes.ERR_STORE_CONFLICT,
    );
    assert.equal(await store.users.count(), 1);
  });

  test('joins an existing admins group', async () => {
    const { accounts, store } = await setup();
    await store.groups.create('admins', 'made earlier');
    const admin = await accounts.createFirstAdmin({ username: 'root', password: 'a long password' });
    assert.deepEqual((await store.groups.membersOf('admins')).map((u) => u.id), [admin.id]);
  });

  test('racing setups never leave two administrators', async () => {
    const { accounts, store } = await setup();
    const results = await Promise.allSettled(
      ['first', 'second', 'third'].map((username) => accounts.createFirstAdmin({ username, password: 'a long password' })),
    );
    const won = results.filter((r) => r.status === 'fulfilled').length;
    assert.ok(won <= 1, `${won} setups succeeded`);
    assert.equal(await store.users.count(), won);
    assert.equal((await store.groups.byName('admins')) === null ? 0 : (await store.groups.membersOf('admins')).length, won);
  });

  test('refuses invalid usernames and empty passwords', async () => {
    const { accounts, store } = await setup();
    await assert.rejects(accounts.createFirstAdmin({ username: 'root@example.com', password: 'a long password' }), /invalid username/);
    await assert.rejects(accounts.createFirstAdmin({ username: 'root', password: '' }), /must not be empty/);
    assert.equal(await store.users.count(), 0);
  });
});

describe('accounts.signIn: aliases', () => {
  test('alternating between username and email does not double the free guesses', async () => {
    const { accounts, store } = await setup();
    await addAlice(store);
    for (let i = 0; i < 5; i++) await accounts.signIn(i % 2 === 0 ? 'alice' : 'alice@example.com', 'wrong', `198.51.100.${i}`);
    assert.equal((await accounts.signIn('alice', 'correct horse', '203.0.113.1')).ok, false);
    assert.equal((await accounts.signIn('ALICE@example.com', 'correct horse', '203.0.113.1')).ok, false);
  });
});

describe('accounts.signIn: logins spelled another way', () => {
  test('security: a login in compatibility characters (fullwidth, mathematical letters) meets the account throttle, as the store finds the account by it', async () => {
    const { accounts, store } = await setup();
    await addAlice(store);
    // Each spelling reaches alice in the store (NFKC, then lower case) ...
    const spellings = ['ａｌｉｃｅ', '𝐚𝐥𝐢𝐜𝐞', 'ＡＬＩＣＥ', 'aｌice', 'ａlice@example.com'];
    assert.equal((await accounts.signIn(spellings[0]!, 'correct horse', '203.0.113.1')).ok, true);
    // ... so guesses spread over them and over addresses count against her one counter.
    for (let i = 0; i < 5; i++) {
      const result = await accounts.signIn(spellings[i]!, 'wrong', `198.51.100.${i}`);
      assert.deepEqual(result, { ok: false, reason: 'credentials' });
    }
    for (const spelling of [...spellings, 'alice']) {
      const result = await accounts.signIn(spelling, 'correct horse', '198.51.100.77');
      assert.equal(result.ok, false, spelling);
      assert.equal(!result.ok && result.reason, 'throttled', spelling);
    }
  });
});

describe('accounts.signIn: a password changed while the old one is being checked', () => {
  test('security: the old password does not sign in, and its rehash never writes it back', async () => {
    const { accounts, store } = await setup();
    const salt = randomBytes(16);
    // Other parameters than the current ones: a successful sign-in would rehash it.
    const tag = argon2Sync('argon2id', { message: 'correct horse', nonce: salt, memory: 1024, passes: 2, parallelism: 1, tagLength: 32 });
    const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
    const alice = await addAlice(store, { passwordHash: `$argon2id$v=19$m=1024,t=2,p=1$${b64(salt)}$${b64(tag)}` });
    const changed = await hashPassword('a brand new passphrase');
    const byLogin = store.users.byLogin.bind(store.users);
    // The operator's `user passwd` lands just after the sign-in looked the account up.
    store.users.byLogin = async (login) => {
      const found = await byLogin(login);
      if (found !== null) await store.users.update(found.id, { passwordHash: changed });
      return found;
    };
    assert.deepEqual(await accounts.signIn('alice', 'correct horse', IP), { ok: false, reason: 'credentials' });
    assert.equal((await store.users.byId(alice.id))!.passwordHash, changed, 'the new password stays');
  });
});
