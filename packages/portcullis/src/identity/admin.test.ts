import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../kernel/clock.ts';
import { ErrorCodes, PortcullisError, type ErrorCode } from '../kernel/errors.ts';
import { createIdentityAdmin, type IdentityAdmin } from './admin.ts';
import { compareClientSecret, hashClientSecret } from './client-secrets.ts';
import { verifyPassword } from './passwords.ts';
import { createMemoryStore, type MemoryStore } from './testing/memory-store.ts';

function setup(): { admin: IdentityAdmin; store: MemoryStore } {
  const clock = new ManualClock(1_700_000_000_000);
  const store = createMemoryStore({ clock });
  return { admin: createIdentityAdmin({ store, clock }), store };
}

function fails(code: ErrorCode, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PortcullisError, String(error));
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe('identity admin: users', () => {
  test('addUser stores a hashed password; listUsers shows users and groups but never the hash', async () => {
    const { admin, store } = setup();
    const alice = await admin.addUser({ username: 'alice', email: 'alice@example.com', displayName: 'Alice L.', password: 'pw one two' });
    await admin.addUser({ username: 'bob' });
    await admin.addGroup('staff');
    await admin.addMember('staff', 'alice');
    const listed = await admin.listUsers();
    assert.deepEqual(
      listed.map((u) => [u.username, u.email, u.displayName, u.disabled, u.hasPassword, u.groups]),
      [
        ['alice', 'alice@example.com', 'Alice L.', false, true, ['staff']],
        ['bob', null, null, false, false, []],
      ],
    );
    assert.equal(listed[0]!.id, alice.id);
    assert.doesNotMatch(JSON.stringify(listed), /argon2/);
    const stored = await store.users.byLogin('alice');
    assert.equal(await verifyPassword(stored!.passwordHash!, 'pw one two'), true);
  });

  test('duplicates are refused case-insensitively, by username and by email', async () => {
    const { admin } = setup();
    await admin.addUser({ username: 'alice', email: 'alice@example.com' });
    await assert.rejects(admin.addUser({ username: 'ALICE' }), fails(ErrorCodes.ERR_STORE_CONFLICT, /user ALICE already exists/));
    await assert.rejects(admin.addUser({ username: 'al', email: 'Alice@Example.com' }), fails(ErrorCodes.ERR_STORE_CONFLICT, /email .* already used/));
  });

  test('invalid usernames, emails, names and passwords are refused before anything is stored', async () => {
    const { admin, store } = setup();
    for (const username of ['', 'a@b', 'with space', '-dash', 'x'.repeat(65), 'p\u0430ypal', 'tab\there', '../etc']) {
      await assert.rejects(admin.addUser({ username }), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, /invalid username/), username);
    }
    for (const email of ['no-at-sign', 'two@@example.com', 'sp ace@example.com', `${'x'.repeat(250)}@example.com`, 'a@b\n']) {
      await assert.rejects(admin.addUser({ username: 'ok', email }), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, /invalid email/), email);
    }
    for (const displayName of ['evil\u202ename', 'line\nbreak', 'x'.repeat(129)]) {
      await assert.rejects(admin.addUser({ username: 'ok', displayName }), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, /display name/));
    }
    await assert.rejects(admin.addUser({ username: 'ok', password: '' }), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST));
    await assert.rejects(admin.addUser({ username: 'ok', password: 'x'.repeat(1025) }), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST));
    assert.equal(await store.users.count(), 0);
    assert.equal((await store.audit.list()).length, 0);
  });

  test('setPassword, setDisabled and deleteUser find users by username or email', async () => {
    const { admin, store } = setup();
    await admin.addUser({ username: 'alice', email: 'alice@example.com', password: 'old password' });
    await admin.addGroup('staff');
    await admin.addMember('staff', 'alice@example.com');
    await admin.setPassword('ALICE', 'new password');
    const stored = (await store.users.byLogin('alice'))!;
    assert.equal(await verifyPassword(stored.passwordHash!, 'new password'), true);
    assert.equal(await verifyPassword(stored.passwordHash!, 'old password'), false);
    await admin.setDisabled('alice@example.com', true);
    assert.equal((await store.users.byLogin('alice'))!.disabled, true);
    await admin.setDisabled('alice', false);
    assert.equal((await store.users.byLogin('alice'))!.disabled, false);
    await admin.deleteUser('alice');
    assert.equal(await store.users.byLogin('alice'), null);
    assert.deepEqual((await admin.listGroups())[0]!.members, []);
  });

  test('an unknown user is a clear not-found error', async () => {
    const { admin } = setup();
    await admin.addGroup('admins');
    await assert.rejects(admin.setPassword('alice', 'pw'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /^no user named alice$/));
    await assert.rejects(admin.setDisabled('alice', true), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /no user named alice/));
    await assert.rejects(admin.deleteUser('alice'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /no user named alice/));
    await assert.rejects(admin.addMember('admins', 'alice'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /no user named alice/));
    // Hostile names are quoted in messages, not sent raw to a terminal.
    await assert.rejects(admin.deleteUser('\u001b[2Jx'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /no user named "\\u001b\[2Jx"/));
  });
});

describe('identity admin: groups', () => {
  test('add, list with members, remove members, delete', async () => {
    const { admin } = setup();
    await admin.addUser({ username: 'bob' });
    await admin.addUser({ username: 'alice' });
    await admin.addGroup('staff', 'Everyone who works here');
    await admin.addGroup('admins');
    await admin.addMember('staff', 'bob');
    await admin.addMember('staff', 'alice');
    await admin.addMember('staff', 'alice');
    await admin.addMember('admins', 'alice');
    assert.deepEqual(await admin.listGroups(), [
      { name: 'admins', description: null, members: ['alice'] },
      { name: 'staff', description: 'Everyone who works here', members: ['alice', 'bob'] },
    ]);
    await admin.removeMember('staff', 'bob');
    await assert.rejects(admin.removeMember('staff', 'bob'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /bob is not a member of staff/));
    await admin.deleteGroup('staff');
    assert.deepEqual((await admin.listGroups()).map((g) => g.name), ['admins']);
  });

  test('errors: duplicate, invalid name, unknown group', async () => {
    const { admin } = setup();
    await admin.addUser({ username: 'alice' });
    await admin.addGroup('admins');
    await assert.rejects(admin.addGroup('admins'), fails(ErrorCodes.ERR_STORE_CONFLICT, /group admins already exists/));
    for (const name of ['', 'has space', 'a/b', 'x'.repeat(65), '\u00e9quipe']) {
      await assert.rejects(admin.addGroup(name), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, /invalid group name/));
    }
    await assert.rejects(admin.addGroup('ok', 'bad\u0000description'), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST));
    await assert.rejects(admin.deleteGroup('staff'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /^group staff does not exist$/));
    await assert.rejects(admin.addMember('staff', 'alice'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /group staff does not exist/));
    await assert.rejects(admin.removeMember('staff', 'alice'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /group staff does not exist/));
  });
});

describe('identity admin: clients', () => {
  test('a confidential client: the secret is returned once, only its hash is stored, metadata in oidc-provider form', async () => {
    const { admin, store } = setup();
    const { clientId, secret } = await admin.addClient({
      id: 'webapp',
      name: 'Web App',
      redirectUris: ['https://app.example.com/callback', 'http://127.0.0.1:8080/cb'],
      postLogoutRedirectUris: ['https://app.example.com/bye'],
      public: false,
      firstParty: true,
    });
    assert.equal(clientId, 'webapp');
    assert.match(secret!, /^[A-Za-z0-9_-]{43}$/);
    const stored = (await store.clients.byId('webapp'))!;
    assert.equal(stored.secretHash, hashClientSecret(secret!));
    assert.equal(compareClientSecret(stored.secretHash!, secret!), true);
    assert.equal(stored.firstParty, true);
    assert.deepEqual(stored.metadata, {
      client_id: 'webapp',
      client_name: 'Web App',
      redirect_uris: ['https://app.example.com/callback', 'http://127.0.0.1:8080/cb'],
      post_logout_redirect_uris: ['https://app.example.com/bye'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile email groups',
    });
    const listed = await admin.listClients();
    assert.deepEqual(listed, [
      {
        clientId: 'webapp',
        name: 'Web App',
        public: false,
        firstParty: true,
        redirectUris: ['https://app.example.com/callback', 'http://127.0.0.1:8080/cb'],
        postLogoutRedirectUris: ['https://app.example.com/bye'],
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'profile', 'email', 'groups'],
        createdAt: 1_700_000_000_000,
      },
    ]);
    assert.ok(!JSON.stringify(listed).includes(secret!));
    assert.ok(!JSON.stringify(listed).includes('sha256:'));
    assert.ok(!JSON.stringify(await store.audit.list()).includes(secret!));
  });

  test('a public client has no secret and authenticates with none', async () => {
    const { admin, store } = setup();
    const created = await admin.addClient({ id: 'spa', redirectUris: ['http://localhost:5173/cb'], public: true, firstParty: false, scopes: ['openid', 'email'] });
    assert.deepEqual(created, { clientId: 'spa', secret: null });
    const stored = (await store.clients.byId('spa'))!;
    assert.equal(stored.secretHash, null);
    assert.equal(stored.metadata.token_endpoint_auth_method, 'none');
    assert.equal(stored.metadata.scope, 'openid email');
    assert.equal((await admin.listClients())[0]!.public, true);
  });

  test('a client_credentials-only client has no response types and no redirect URIs', async () => {
    const { admin, store } = setup();
    await admin.addClient({ id: 'reports-job', redirectUris: [], public: false, firstParty: false, grantTypes: ['client_credentials'], scopes: ['reports'] });
    const { metadata } = (await store.clients.byId('reports-job'))!;
    assert.deepEqual(metadata.grant_types, ['client_credentials']);
    assert.deepEqual(metadata.response_types, []);
    assert.deepEqual(metadata.redirect_uris, []);
  });

  test('invalid clients are refused with a reason', async () => {
    const { admin, store } = setup();
    const base = { id: 'app', redirectUris: ['https://app.example.com/cb'], public: false, firstParty: false };
    const cases: [Partial<typeof base> & Record<string, unknown>, RegExp][] = [
      [{ id: 'has space' }, /client id .* may only contain/],
      [{ id: 'a/b' }, /client id .* may only contain/],
      [{ id: '' }, /client id .* may only contain/],
      [{ id: 'x'.repeat(129) }, /client id .* may only contain/],
      [{ redirectUris: [] }, /needs a redirect_uri/],
      [{ grantTypes: [] }, /at least one grant type/],
      [{ grantTypes: ['password'] }, /unknown grant type/],
      [{ grantTypes: ['implicit'] }, /unknown grant type/],
      [{ grantTypes: ['refresh_token'] }, /refresh_token needs authorization_code/],
      [{ public: true, grantTypes: ['client_credentials'], redirectUris: [] }, /client_credentials is not allowed for a public client/],
      [{ grantTypes: ['client_credentials'] }, /only used by the authorization_code grant/],
      [{ scopes: ['openid', 'bad scope'] }, /may only contain printable ASCII/],
      [{ scopes: ['"quoted"'] }, /may only contain printable ASCII/],
      [{ scopes: ['profile', 'email'] }, /scopes must include openid/],
      [{ name: 'x'.repeat(101) }, /name must be 1 to 100/],
      [{ name: 'tab\there' }, /name must be 1 to 100/],
      [{ postLogoutRedirectUris: ['http://evil.example/'] }, /post_logout_redirect_uri .* must use https/],
    ];
    for (const [patch, message] of cases) {
      await assert.rejects(admin.addClient({ ...base, ...patch } as never), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, message), JSON.stringify(patch));
    }
    assert.equal((await store.clients.list()).length, 0);
  });

  test('duplicate and unknown clients', async () => {
    const { admin } = setup();
    await admin.addClient({ id: 'app', redirectUris: ['https://app.example.com/cb'], public: true, firstParty: false });
    await assert.rejects(
      admin.addClient({ id: 'app', redirectUris: ['https://app.example.com/cb'], public: true, firstParty: false }),
      fails(ErrorCodes.ERR_STORE_CONFLICT, /client app already exists/),
    );
    await admin.deleteClient('app');
    assert.deepEqual(await admin.listClients(), []);
    await assert.rejects(admin.deleteClient('app'), fails(ErrorCodes.ERR_STORE_NOT_FOUND, /no client with id app/));
  });
});

describe('identity admin: redirect URIs follow the config rules', () => {
  const add = (admin: IdentityAdmin, uri: string, isPublic = false) =>
    admin.addClient({ id: `c${Math.random().toString(36).slice(2, 10)}`, redirectUris: [uri], public: isPublic, firstParty: false });

  test('accepts https anywhere and plain http to loopback only, kept exactly as given', async () => {
    const { admin, store } = setup();
    const accepted = [
      'https://app.example.com/callback',
      'https://app.example.com:8443/cb?tenant=a',
      'https://APP.example.com/cb',
      'http://127.0.0.1/cb',
      'http://127.0.0.1:53123/cb',
      'http://localhost:3000/auth/callback',
      'http://[::1]:8080/cb',
    ];
    for (const uri of accepted) await add(admin, uri);
    assert.deepEqual((await store.clients.list()).map((c) => (c.metadata.redirect_uris as string[])[0]).sort(), [...accepted].sort());
  });

  test('a private-use scheme (native app) only for a public client', async () => {
    const { admin } = setup();
    await add(admin, 'com.example.app:/oauth', true);
    await assert.rejects(add(admin, 'com.example.app:/oauth', false), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, /only for public clients/));
  });

  test('refuses relative, fragment, userinfo, non-loopback http, script schemes and whitespace', async () => {
    const { admin, store } = setup();
    for (const [uri, message] of [
      ['/callback', /not an absolute URL/],
      ['app.example.com/cb', /not an absolute URL/],
      ['https://app.example.com/cb#frag', /fragment/],
      ['https://app.example.com/cb#', /fragment/],
      ['https://good.example.com@evil.example/cb', /user name or password/],
      ['https://user:pw@app.example.com/cb', /user name or password/],
      ['https://@app.example.com/cb', /user name or password/],
      ['http://app.example.com/cb', /must use https/],
      ['http://127.0.0.1.evil.example/cb', /must use https/],
      ['http://localhost.evil.example/cb', /must use https/],
      ['http://10.0.0.1/cb', /must use https/],
      ['javascript:alert(1)', /must use https/],
      ['data:text/html,hi', /must use https/],
      ['https://app.example.com/c b', /spaces, control characters/],
      ['https://app.example.com/cb\n', /spaces, control characters/],
      ['https://app.example.com\\@evil.example/', /spaces, control characters or a backslash/],
      [`https://app.example.com/${'x'.repeat(2048)}`, /spaces, control characters/],
    ] as const) {
      await assert.rejects(add(admin, uri, true), fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, message), uri);
    }
    assert.equal((await store.clients.list()).length, 0);
  });
});

describe('identity admin: audit', () => {
  test('every change is audited with actor cli; reads are not', async () => {
    const { admin, store } = setup();
    await admin.addUser({ username: 'alice', password: 'secret words' });
    await admin.setPassword('alice', 'other words');
    await admin.setDisabled('alice', true);
    await admin.setDisabled('alice', false);
    await admin.addGroup('staff');
    await admin.addMember('staff', 'alice');
    await admin.removeMember('staff', 'alice');
    await admin.deleteGroup('staff');
    await admin.addClient({ id: 'app', redirectUris: ['https://app.example.com/cb'], public: false, firstParty: false });
    await admin.deleteClient('app');
    await admin.deleteUser('alice');
    await admin.listUsers();
    await admin.listGroups();
    await admin.listClients();
    const events = (await store.audit.list()).reverse();
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'user.created',
        'user.password_changed',
        'user.disabled',
        'user.enabled',
        'group.created',
        'group.member_added',
        'group.member_removed',
        'group.deleted',
        'client.created',
        'client.deleted',
        'user.deleted',
      ],
    );
    assert.ok(events.every((e) => e.actor === 'cli'));
    assert.doesNotMatch(JSON.stringify(events), /secret words|other words|argon2|sha256:/);
  });

  test('OpenID scopes are limited to those the config knows; client_credentials API scopes are free', async () => {
    const clock = new ManualClock(0);
    const store = createMemoryStore({ clock });
    const admin = createIdentityAdmin({ store, clock, knownScopes: ['openid', 'profile', 'email', 'groups', 'offline_access', 'reports'] });
    await admin.addClient({ id: 'app', redirectUris: ['https://app.example.com/cb'], public: false, firstParty: false, scopes: ['openid', 'reports'] });
    await assert.rejects(
      admin.addClient({ id: 'app2', redirectUris: ['https://app.example.com/cb'], public: false, firstParty: false, scopes: ['openid', 'billing'] }),
      fails(ErrorCodes.ERR_HTTP_BAD_REQUEST, /unknown scope billing/),
    );
    await admin.addClient({ id: 'job', redirectUris: [], public: false, firstParty: false, grantTypes: ['client_credentials'], scopes: ['billing:read'] });
  });

  test('a client id the config file defines cannot be stored as well', async () => {
    const clock = new ManualClock(0);
    const store = createMemoryStore({ clock });
    const admin = createIdentityAdmin({ store, clock, configClientIds: ['webapp'] });
    await assert.rejects(
      admin.addClient({ id: 'webapp', redirectUris: ['https://app.example.com/cb'], public: true, firstParty: false }),
      fails(ErrorCodes.ERR_STORE_CONFLICT, /client webapp is defined in the config file/),
    );
  });

  test('the actor can be named (for the admin API)', async () => {
    const clock = new ManualClock(0);
    const store = createMemoryStore({ clock });
    await createIdentityAdmin({ store, clock, actor: 'user-123' }).addGroup('staff');
    assert.equal((await store.audit.list())[0]!.actor, 'user-123');
  });
});
