/**
 * The one contract every Store implementation passes. An implementation's test file calls
 * `runStoreContract('sqlite :memory:', (clock) => openSqliteStore({ path: ':memory:', clock }))`;
 * each test opens a fresh, empty store on its own ManualClock and closes it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../kernel/clock.ts';
import { ErrorCodes } from '../kernel/errors.ts';
import type { NewDecision, Store, User } from './types.ts';

/** 2023-11-14T22:13:20.250Z: a non-zero start with a fractional second, to catch unit slips. */
const START = 1_700_000_000_250;

type OpenStore = (clock: ManualClock) => Promise<Store>;

/** Registers the contract suite, named `name`, for the stores `open` makes. */
export function runStoreContract(name: string, open: OpenStore): void {
  const withStore = (fn: (store: Store, clock: ManualClock) => Promise<void>) => async () => {
    const clock = new ManualClock(START);
    const store = await open(clock);
    try {
      await fn(store, clock);
    } finally {
      await store.close();
    }
  };
  const conflict = (message: string) => ({ code: ErrorCodes.ERR_STORE_CONFLICT, message });
  const notFound = { code: ErrorCodes.ERR_STORE_NOT_FOUND };

  describe(`store contract: ${name}`, () => {
    describe('users', () => {
      test('create fills defaults and stamps times from the clock', withStore(async (store) => {
        const user = await store.users.create({ username: 'alice' });
        assert.match(user.id, /^[0-9a-f-]{36}$/);
        assert.deepEqual(user, {
          id: user.id, username: 'alice', email: null, emailVerified: false, displayName: null,
          passwordHash: null, disabled: false, attributes: {}, createdAt: START, updatedAt: START, sessionsValidFrom: 0,
        });
        assert.deepEqual(await store.users.byId(user.id), user);
        const other = await store.users.create({ username: 'bob' });
        assert.notEqual(other.id, user.id);
      }));

      test('create keeps every field, with JSON attributes, as given', withStore(async (store) => {
        const input = {
          username: 'Alice', email: 'Alice@Example.org', emailVerified: true, displayName: 'Alice A.',
          passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', disabled: true,
          attributes: { tenant: 'acme', roles: ['a', 'b'], nested: { n: 1, ok: true, none: null } },
        };
        const user = await store.users.create(input);
        assert.deepEqual(await store.users.byId(user.id), { ...input, id: user.id, createdAt: START, updatedAt: START, sessionsValidFrom: 0 });
        assert.equal(await store.users.byId('no-such-id'), null);
      }));

      test('byLogin finds by username or email, case-insensitively', withStore(async (store) => {
        const user = await store.users.create({ username: 'Alice', email: 'Alice@Example.org' });
        for (const login of ['alice', 'ALICE', 'Alice', 'alice@example.org', 'ALICE@EXAMPLE.ORG']) {
          assert.equal((await store.users.byLogin(login))?.id, user.id, login);
        }
        assert.equal(await store.users.byLogin('alic'), null);
        assert.equal(await store.users.byLogin(''), null);
        assert.equal(await store.users.byLogin('alice@example.or'), null);
      }));

      test('a username match wins over an email match', withStore(async (store) => {
        // Both creation orders, so the answer cannot come from insertion order.
        const emailFirst = await store.users.create({ username: 'mallory', email: 'Carol@Example.org' });
        const named = await store.users.create({ username: 'carol@example.org' });
        assert.equal((await store.users.byLogin('CAROL@example.org'))?.id, named.id);
        const named2 = await store.users.create({ username: 'dave@example.org' });
        await store.users.create({ username: 'eve', email: 'DAVE@example.org' });
        assert.equal((await store.users.byLogin('dave@example.org'))?.id, named2.id);
        assert.equal((await store.users.byLogin('mallory'))?.id, emailFirst.id);
      }));

      test('usernames and emails are unique case-insensitively', withStore(async (store) => {
        await store.users.create({ username: 'alice', email: 'alice@example.org' });
        await assert.rejects(store.users.create({ username: 'ALICE' }), conflict('username already taken'));
        await assert.rejects(store.users.create({ username: 'alice2', email: 'Alice@Example.ORG' }), conflict('email already taken'));
        // Fullwidth look-alikes fold to the same name (RFC 8265 width mapping).
        await assert.rejects(store.users.create({ username: 'ａｌｉｃｅ' }), conflict('username already taken'));
        // Any number of users may have no email.
        await store.users.create({ username: 'bob' });
        await store.users.create({ username: 'carol', email: null });
        assert.equal(await store.users.count(), 3);
      }));

      test('list is ordered by username; count counts', withStore(async (store) => {
        assert.deepEqual(await store.users.list(), []);
        assert.equal(await store.users.count(), 0);
        for (const username of ['carol', 'alice', 'bob']) await store.users.create({ username });
        assert.deepEqual((await store.users.list()).map((u) => u.username), ['alice', 'bob', 'carol']);
        assert.equal(await store.users.count(), 3);
      }));

      test('update changes only the named fields and moves updatedAt', withStore(async (store, clock) => {
        const user = await store.users.create({ username: 'alice', email: 'a@example.org', displayName: 'A', attributes: { x: 1 } });
        clock.advance(5000);
        const updated = await store.users.update(user.id, { displayName: 'Alice', disabled: true, emailVerified: true, passwordHash: 'h', attributes: { y: [2] }, sessionsValidFrom: START + 4000 });
        assert.deepEqual(updated, {
          ...user, displayName: 'Alice', disabled: true, emailVerified: true, passwordHash: 'h', attributes: { y: [2] }, updatedAt: START + 5000, sessionsValidFrom: START + 4000,
        });
        assert.deepEqual(await store.users.byId(user.id), updated);
        const same = await store.users.update(user.id, { displayName: undefined });
        assert.equal(same?.displayName, 'Alice');
        const cleared = await store.users.update(user.id, { displayName: null, passwordHash: null });
        assert.equal(cleared?.displayName, null);
        assert.equal(cleared?.passwordHash, null);
        assert.equal(await store.users.update('no-such-id', { disabled: true }), null);
      }));

      test('update of the email moves the login and checks uniqueness', withStore(async (store) => {
        const alice = await store.users.create({ username: 'alice', email: 'a@example.org' });
        await store.users.create({ username: 'bob', email: 'b@example.org' });
        await store.users.update(alice.id, { email: 'New@Example.org' });
        assert.equal(await store.users.byLogin('a@example.org'), null);
        assert.equal((await store.users.byLogin('new@example.org'))?.id, alice.id);
        await assert.rejects(store.users.update(alice.id, { email: 'B@example.org' }), conflict('email already taken'));
        assert.equal((await store.users.byId(alice.id))?.email, 'New@Example.org');
        await store.users.update(alice.id, { email: null });
        assert.equal(await store.users.byLogin('new@example.org'), null);
        await store.users.create({ username: 'carol', email: 'new@example.org' });
      }));

      test('delete removes the user and their memberships', withStore(async (store) => {
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        await store.groups.create('admins');
        await store.groups.addMember('admins', alice.id);
        await store.groups.addMember('admins', bob.id);
        assert.equal(await store.users.delete(alice.id), true);
        assert.equal(await store.users.delete(alice.id), false);
        assert.equal(await store.users.byId(alice.id), null);
        assert.deepEqual(await store.groups.groupsOf(alice.id), []);
        assert.deepEqual((await store.groups.membersOf('admins')).map((u) => u.username), ['bob']);
        assert.equal(await store.users.count(), 1);
        // The name is free again, and the new user is someone else.
        const again = await store.users.create({ username: 'alice' });
        assert.notEqual(again.id, alice.id);
        assert.deepEqual(await store.groups.groupsOf(again.id), []);
      }));
    });

    describe('groups', () => {
      test('create, byName and list ordered by name; names are case-sensitive', withStore(async (store) => {
        const admins = await store.groups.create('admins', 'Administrators');
        assert.match(admins.id, /^[0-9a-f-]{36}$/);
        assert.deepEqual(admins, { id: admins.id, name: 'admins', description: 'Administrators', createdAt: START });
        const Admins = await store.groups.create('Admins');
        assert.equal(Admins.description, null);
        await store.groups.create('devs');
        assert.deepEqual(await store.groups.byName('admins'), admins);
        assert.equal(await store.groups.byName('ADMINS'), null);
        assert.deepEqual((await store.groups.list()).map((g) => g.name), ['Admins', 'admins', 'devs']);
        await assert.rejects(store.groups.create('admins'), conflict('group already exists'));
      }));

      test('addMember is idempotent; groupsOf and membersOf are ordered', withStore(async (store) => {
        const bob = await store.users.create({ username: 'bob' });
        const alice = await store.users.create({ username: 'alice' });
        await store.groups.create('ops');
        await store.groups.create('devs');
        await store.groups.addMember('ops', bob.id);
        await store.groups.addMember('ops', bob.id);
        await store.groups.addMember('devs', bob.id);
        await store.groups.addMember('ops', alice.id);
        assert.deepEqual(await store.groups.groupsOf(bob.id), ['devs', 'ops']);
        assert.deepEqual(await store.groups.groupsOf(alice.id), ['ops']);
        const members: User[] = await store.groups.membersOf('ops');
        assert.deepEqual(members, [alice, bob]);
        assert.deepEqual(await store.groups.membersOf('nobody'), []);
        assert.deepEqual(await store.groups.groupsOf('no-such-user'), []);
      }));

      test('addMember on a missing group or user is ERR_STORE_NOT_FOUND', withStore(async (store) => {
        const alice = await store.users.create({ username: 'alice' });
        await store.groups.create('ops');
        await assert.rejects(store.groups.addMember('missing', alice.id), notFound);
        await assert.rejects(store.groups.addMember('ops', 'no-such-user'), notFound);
        assert.deepEqual(await store.groups.membersOf('ops'), []);
      }));

      test('removeMember says whether there was a membership', withStore(async (store) => {
        const alice = await store.users.create({ username: 'alice' });
        await store.groups.create('ops');
        await store.groups.create('devs');
        await store.groups.addMember('ops', alice.id);
        await store.groups.addMember('devs', alice.id);
        assert.equal(await store.groups.removeMember('ops', alice.id), true);
        assert.equal(await store.groups.removeMember('ops', alice.id), false);
        assert.equal(await store.groups.removeMember('missing', alice.id), false);
        assert.deepEqual(await store.groups.groupsOf(alice.id), ['devs']);
      }));

      test('delete removes the group and its memberships', withStore(async (store) => {
        const alice = await store.users.create({ username: 'alice' });
        await store.groups.create('ops');
        await store.groups.create('devs');
        await store.groups.addMember('ops', alice.id);
        await store.groups.addMember('devs', alice.id);
        assert.equal(await store.groups.delete('ops'), true);
        assert.equal(await store.groups.delete('ops'), false);
        assert.equal(await store.groups.byName('ops'), null);
        assert.deepEqual(await store.groups.groupsOf(alice.id), ['devs']);
        // A new group of the same name does not inherit the old members.
        await store.groups.create('ops');
        assert.deepEqual(await store.groups.membersOf('ops'), []);
        assert.notEqual(await store.users.byId(alice.id), null);
      }));
    });

    describe('clients', () => {
      test('create, byId, list ordered by clientId, delete', withStore(async (store, clock) => {
        const metadata = { redirect_uris: ['https://app.example/cb'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic' };
        const web = await store.clients.create({ clientId: 'web', secretHash: 'sha256:abc', metadata, firstParty: true });
        assert.deepEqual(web, { clientId: 'web', secretHash: 'sha256:abc', metadata, firstParty: true, createdAt: START });
        clock.advance(1);
        const spa = await store.clients.create({ clientId: 'spa', secretHash: null, metadata: {}, firstParty: false });
        assert.deepEqual(await store.clients.byId('web'), web);
        assert.deepEqual(await store.clients.byId('spa'), spa);
        assert.equal(spa.createdAt, START + 1);
        assert.equal(await store.clients.byId('WEB'), null);
        assert.deepEqual((await store.clients.list()).map((c) => c.clientId), ['spa', 'web']);
        await assert.rejects(store.clients.create({ clientId: 'web', secretHash: null, metadata: {}, firstParty: false }), conflict('client already exists'));
        assert.equal(await store.clients.delete('web'), true);
        assert.equal(await store.clients.delete('web'), false);
        assert.deepEqual((await store.clients.list()).map((c) => c.clientId), ['spa']);
      }));
    });

    describe('artifacts', () => {
      test('upsert then find returns the payload; models are separate', withStore(async (store) => {
        const payload = { accountId: 'u1', scope: 'openid email', claims: { a: [1, 2] }, grantId: 'g1' };
        await store.artifacts.upsert('AccessToken', 'tok1', payload, START + 60_000, null);
        assert.deepEqual(await store.artifacts.find('AccessToken', 'tok1'), payload);
        assert.equal(await store.artifacts.find('RefreshToken', 'tok1'), null);
        assert.equal(await store.artifacts.find('AccessToken', 'tok2'), null);
        await store.artifacts.upsert('RefreshToken', 'tok1', { other: true }, null, null);
        assert.deepEqual(await store.artifacts.find('AccessToken', 'tok1'), payload);
        assert.deepEqual(await store.artifacts.find('RefreshToken', 'tok1'), { other: true });
      }));

      test('upsert replaces payload, expiry and index keys', withStore(async (store, clock) => {
        await store.artifacts.upsert('Session', 's1', { uid: 'uid-1', grantId: 'g1', n: 1 }, START + 1000, 'g1');
        await store.artifacts.upsert('Session', 's1', { uid: 'uid-2', n: 2 }, START + 10_000, null);
        assert.deepEqual(await store.artifacts.find('Session', 's1'), { uid: 'uid-2', n: 2 });
        assert.equal(await store.artifacts.findByUid('Session', 'uid-1'), null);
        assert.deepEqual(await store.artifacts.findByUid('Session', 'uid-2'), { uid: 'uid-2', n: 2 });
        await store.artifacts.revokeByGrantId('g1');
        clock.advance(5000);
        assert.deepEqual(await store.artifacts.find('Session', 's1'), { uid: 'uid-2', n: 2 });
      }));

      test('an artifact is gone once expiresAt <= now; null never expires', withStore(async (store, clock) => {
        await store.artifacts.upsert('AuthorizationCode', 'c1', { n: 1 }, START + 1000, null);
        await store.artifacts.upsert('Grant', 'g1', { n: 2 }, null, null);
        clock.advance(999);
        assert.deepEqual(await store.artifacts.find('AuthorizationCode', 'c1'), { n: 1 });
        clock.advance(1);
        assert.equal(await store.artifacts.find('AuthorizationCode', 'c1'), null);
        clock.advance(10 * 365 * 86_400_000);
        assert.deepEqual(await store.artifacts.find('Grant', 'g1'), { n: 2 });
      }));

      test('an expiry that is not a finite time is refused', withStore(async (store) => {
        await assert.rejects(store.artifacts.upsert('AccessToken', 't', {}, Number.NaN, null), { code: ErrorCodes.ERR_STORE });
        await assert.rejects(store.artifacts.upsert('AccessToken', 't', {}, Number.POSITIVE_INFINITY, null), { code: ErrorCodes.ERR_STORE });
        assert.equal(await store.artifacts.find('AccessToken', 't'), null);
      }));

      test('consume sets payload.consumed in epoch seconds; a new upsert replaces it', withStore(async (store, clock) => {
        await store.artifacts.upsert('AuthorizationCode', 'c1', { grantId: 'g1' }, START + 60_000, null);
        clock.advance(1500);
        assert.equal(await store.artifacts.consume('AuthorizationCode', 'c1'), true);
        // Only one consume wins: a second redemption of the same code is told so.
        assert.equal(await store.artifacts.consume('AuthorizationCode', 'c1'), false);
        const consumedAt = Math.floor((START + 1500) / 1000);
        assert.deepEqual(await store.artifacts.find('AuthorizationCode', 'c1'), { grantId: 'g1', consumed: consumedAt });
        // Consuming something absent is not an error, and consumes nothing.
        assert.equal(await store.artifacts.consume('AuthorizationCode', 'missing'), false);
        await store.artifacts.upsert('AuthorizationCode', 'c1', { grantId: 'g1', fresh: true }, START + 60_000, null);
        assert.deepEqual(await store.artifacts.find('AuthorizationCode', 'c1'), { grantId: 'g1', fresh: true });
        // A payload that carries `consumed` itself keeps it.
        await store.artifacts.upsert('AuthorizationCode', 'c2', { consumed: 123 }, null, null);
        assert.deepEqual(await store.artifacts.find('AuthorizationCode', 'c2'), { consumed: 123 });
        // An expired consumed artifact is gone like any other, and an expired one cannot be consumed.
        clock.advance(60_000);
        assert.equal(await store.artifacts.consume('AuthorizationCode', 'c1'), false);
        assert.equal(await store.artifacts.find('AuthorizationCode', 'c1'), null);
      }));

      test('destroy removes one artifact', withStore(async (store) => {
        await store.artifacts.upsert('AccessToken', 't1', {}, null, null);
        await store.artifacts.upsert('AccessToken', 't2', {}, null, null);
        await store.artifacts.destroy('AccessToken', 't1');
        await store.artifacts.destroy('AccessToken', 'missing');
        assert.equal(await store.artifacts.find('AccessToken', 't1'), null);
        assert.deepEqual(await store.artifacts.find('AccessToken', 't2'), {});
      }));

      test('revokeByGrantId removes the grant\'s artifacts of every model', withStore(async (store) => {
        await store.artifacts.upsert('AccessToken', 'a1', { grantId: 'g1' }, START + 60_000, 'g1');
        await store.artifacts.upsert('RefreshToken', 'r1', { grantId: 'g1' }, null, 'g1');
        await store.artifacts.upsert('AuthorizationCode', 'c1', { grantId: 'g1' }, START + 60_000, 'g1');
        await store.artifacts.upsert('AccessToken', 'a2', { grantId: 'g2' }, START + 60_000, 'g2');
        await store.artifacts.upsert('Session', 's1', { uid: 'u' }, null, null);
        // Only the grantId argument binds: a payload's grantId alone does not (a session or an
        // interaction mentions a grant but must survive its revocation).
        await store.artifacts.upsert('Interaction', 'i1', { grantId: 'g1' }, null, null);
        await store.artifacts.revokeByGrantId('g1');
        assert.equal(await store.artifacts.find('AccessToken', 'a1'), null);
        assert.equal(await store.artifacts.find('RefreshToken', 'r1'), null);
        assert.equal(await store.artifacts.find('AuthorizationCode', 'c1'), null);
        assert.deepEqual(await store.artifacts.find('AccessToken', 'a2'), { grantId: 'g2' });
        assert.deepEqual(await store.artifacts.find('Session', 's1'), { uid: 'u' });
        assert.deepEqual(await store.artifacts.find('Interaction', 'i1'), { grantId: 'g1' });
      }));

      test('findByUid and findByUserCode look within one model and respect expiry', withStore(async (store, clock) => {
        await store.artifacts.upsert('Session', 's1', { uid: 'uid-1', accountId: 'u1' }, START + 1000, null);
        await store.artifacts.upsert('Interaction', 'i1', { uid: 'uid-1' }, null, null);
        await store.artifacts.upsert('DeviceCode', 'd1', { userCode: 'WDJB-MJHT', grantId: 'g' }, START + 1000, null);
        assert.deepEqual(await store.artifacts.findByUid('Session', 'uid-1'), { uid: 'uid-1', accountId: 'u1' });
        assert.deepEqual(await store.artifacts.findByUid('Interaction', 'uid-1'), { uid: 'uid-1' });
        assert.equal(await store.artifacts.findByUid('Session', 'uid-2'), null);
        assert.deepEqual(await store.artifacts.findByUserCode('DeviceCode', 'WDJB-MJHT'), { userCode: 'WDJB-MJHT', grantId: 'g' });
        assert.equal(await store.artifacts.findByUserCode('DeviceCode', 'wdjb-mjht'), null);
        assert.equal(await store.artifacts.findByUserCode('Session', 'WDJB-MJHT'), null);
        await store.artifacts.consume('DeviceCode', 'd1');
        assert.equal((await store.artifacts.findByUserCode('DeviceCode', 'WDJB-MJHT'))?.consumed, Math.floor(START / 1000));
        clock.advance(1000);
        assert.equal(await store.artifacts.findByUid('Session', 'uid-1'), null);
        assert.equal(await store.artifacts.findByUserCode('DeviceCode', 'WDJB-MJHT'), null);
        assert.deepEqual(await store.artifacts.findByUid('Interaction', 'uid-1'), { uid: 'uid-1' });
      }));

      test('deleteExpired removes exactly the expired ones and counts them', withStore(async (store, clock) => {
        assert.equal(await store.artifacts.deleteExpired(), 0);
        await store.artifacts.upsert('AccessToken', 'a', {}, START + 1000, null);
        await store.artifacts.upsert('AccessToken', 'b', {}, START + 2000, null);
        await store.artifacts.upsert('Session', 'c', {}, START + 1000, null);
        await store.artifacts.upsert('Grant', 'd', {}, null, null);
        clock.advance(1000);
        assert.equal(await store.artifacts.deleteExpired(), 2);
        assert.equal(await store.artifacts.deleteExpired(), 0);
        assert.deepEqual(await store.artifacts.find('AccessToken', 'b'), {});
        assert.deepEqual(await store.artifacts.find('Grant', 'd'), {});
        // Gone from the table, not only hidden: moving the clock back does not bring them back.
        clock.advance(-1000);
        assert.equal(await store.artifacts.find('AccessToken', 'a'), null);
        assert.equal(await store.artifacts.find('Session', 'c'), null);
      }));
    });

    describe('signing keys', () => {
      const key = (kid: string, createdAt: number) => ({
        kid, alg: 'ES256', createdAt, retiredAt: null,
        privateJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd', kid, alg: 'ES256' },
      });

      test('list is newest first; add refuses a duplicate kid', withStore(async (store) => {
        assert.deepEqual(await store.keys.list(), []);
        await store.keys.add(key('k1', START - 2000));
        await store.keys.add(key('k3', START));
        await store.keys.add(key('k2', START - 1000));
        assert.deepEqual(await store.keys.list(), [key('k3', START), key('k2', START - 1000), key('k1', START - 2000)]);
        await assert.rejects(store.keys.add(key('k1', START)), { code: ErrorCodes.ERR_STORE_CONFLICT });
      }));

      test('retire stamps retiredAt once; delete removes', withStore(async (store, clock) => {
        await store.keys.add(key('k1', START));
        await store.keys.add({ ...key('k0', START - 10), retiredAt: START - 5 });
        clock.advance(100);
        await store.keys.retire('k1');
        clock.advance(100);
        await store.keys.retire('k1');
        await store.keys.retire('k0');
        await store.keys.retire('missing');
        assert.deepEqual((await store.keys.list()).map((k) => [k.kid, k.retiredAt]), [['k1', START + 100], ['k0', START - 5]]);
        assert.equal(await store.keys.delete('k0'), true);
        assert.equal(await store.keys.delete('k0'), false);
        assert.deepEqual((await store.keys.list()).map((k) => k.kid), ['k1']);
      }));
    });

    describe('audit log', () => {
      const event = (type: string, extra: Record<string, unknown> = {}) => ({ type, actor: 'cli', subject: null, ip: null, detail: extra });

      test('append stamps time and increasing ids; list is newest first', withStore(async (store, clock) => {
        assert.deepEqual(await store.audit.list(), []);
        await store.audit.append({ type: 'user.created', actor: 'cli', subject: 'u1', ip: '192.0.2.1', detail: { username: 'alice' } });
        clock.advance(10);
        await store.audit.append(event('auth.login_failed'));
        clock.advance(10);
        await store.audit.append({ type: 'auth.login_failed', actor: null, subject: null, ip: null, detail: {} });
        const all = await store.audit.list();
        assert.deepEqual(all.map((e) => [e.type, e.at]), [['auth.login_failed', START + 20], ['auth.login_failed', START + 10], ['user.created', START]]);
        const [third, second, first] = all;
        assert.ok(first && second && third && first.id < second.id && second.id < third.id);
        assert.deepEqual(first, { id: first.id, at: START, type: 'user.created', actor: 'cli', subject: 'u1', ip: '192.0.2.1', detail: { username: 'alice' } });
        assert.equal(third.actor, null);
      }));

      test('list filters by type, since (inclusive) and limit', withStore(async (store, clock) => {
        for (let i = 0; i < 6; i++) {
          await store.audit.append(event(i % 2 === 0 ? 'a.even' : 'a.odd', { i }));
          clock.advance(100);
        }
        const details = (events: { detail: Record<string, unknown> }[]) => events.map((e) => e.detail.i);
        assert.deepEqual(details(await store.audit.list({ type: 'a.even' })), [4, 2, 0]);
        assert.deepEqual(details(await store.audit.list({ since: START + 300 })), [5, 4, 3]);
        assert.deepEqual(details(await store.audit.list({ limit: 2 })), [5, 4]);
        assert.deepEqual(details(await store.audit.list({ type: 'a.odd', since: START + 100, limit: 2 })), [5, 3]);
        assert.deepEqual(await store.audit.list({ type: 'none' }), []);
        await assert.rejects(store.audit.list({ limit: 0 }), { code: ErrorCodes.ERR_STORE });
        await assert.rejects(store.audit.list({ limit: Number.NaN }), { code: ErrorCodes.ERR_STORE });
      }));

      test('the audit log offers no way to change or remove an event', withStore(async (store) => {
        assert.deepEqual(Object.keys(store.audit).sort(), ['append', 'list']);
      }));
    });

    describe('decisions', () => {
      const ban = (value: string, extra: Partial<NewDecision> = {}): NewDecision => ({
        kind: 'ban', scope: 'ip', value, reason: 'probing', origin: 'cli', expiresAt: START + 60_000, ...extra,
      });

      test('add stamps createdAt and increasing ids; list shows active ones by id', withStore(async (store, clock) => {
        assert.deepEqual(await store.decisions.list(), []);
        const first = await store.decisions.add(ban('192.0.2.1'));
        assert.deepEqual(first, { id: first.id, kind: 'ban', scope: 'ip', value: '192.0.2.1', reason: 'probing', origin: 'cli', createdAt: START, expiresAt: START + 60_000 });
        clock.advance(10);
        const range = await store.decisions.add(ban('2001:db8::/32', { kind: 'throttle', scope: 'range', origin: 'scenario:ssh-bf', reason: '', expiresAt: null }));
        assert.ok(range.id > first.id);
        assert.equal(range.createdAt, START + 10);
        assert.deepEqual(await store.decisions.list(), [first, range]);
      }));

      test('expired decisions leave list at their expiry; permanent ones stay', withStore(async (store, clock) => {
        const short = await store.decisions.add(ban('192.0.2.1', { expiresAt: START + 1000 }));
        const forever = await store.decisions.add(ban('192.0.2.2', { expiresAt: null }));
        clock.advance(999);
        assert.deepEqual((await store.decisions.list()).map((d) => d.id), [short.id, forever.id]);
        clock.advance(1);
        assert.deepEqual((await store.decisions.list()).map((d) => d.id), [forever.id]);
      }));

      test('remove lifts one decision by id, once', withStore(async (store) => {
        const a = await store.decisions.add(ban('192.0.2.1'));
        const b = await store.decisions.add(ban('192.0.2.1', { origin: 'scenario:x' }));
        assert.equal(await store.decisions.remove(a.id), true);
        assert.equal(await store.decisions.remove(a.id), false);
        assert.equal(await store.decisions.remove(987654), false);
        assert.equal(await store.decisions.remove(Number.NaN), false);
        assert.deepEqual(await store.decisions.list(), [b]);
      }));

      test('removeByValue lifts every active decision on exactly that value', withStore(async (store, clock) => {
        await store.decisions.add(ban('192.0.2.1'));
        await store.decisions.add(ban('192.0.2.1', { kind: 'throttle' }));
        await store.decisions.add(ban('192.0.2.1', { expiresAt: START + 5 }));
        const other = await store.decisions.add(ban('192.0.2.10'));
        const range = await store.decisions.add(ban('192.0.2.0/24', { scope: 'range' }));
        clock.advance(5);
        // The expired one is not lifted (it is gone already); a covering range is another value.
        assert.equal(await store.decisions.removeByValue('192.0.2.1'), 2);
        assert.equal(await store.decisions.removeByValue('192.0.2.1'), 0);
        assert.deepEqual(await store.decisions.list(), [other, range]);
      }));

      test('changedSince follows adds and lifts from a version', withStore(async (store) => {
        const v0 = await store.decisions.version();
        assert.deepEqual(await store.decisions.changedSince(v0), { version: v0, added: [], removed: [] });
        const a = await store.decisions.add(ban('192.0.2.1'));
        const b = await store.decisions.add(ban('192.0.2.2'));
        const v1 = await store.decisions.version();
        assert.ok(v1 > v0);
        const first = await store.decisions.changedSince(v0);
        assert.deepEqual(first, { version: v1, added: [a, b], removed: [] });
        await store.decisions.remove(a.id);
        const c = await store.decisions.add(ban('192.0.2.3'));
        const second = await store.decisions.changedSince(first.version);
        assert.deepEqual(second.added, [c]);
        assert.deepEqual(second.removed, [a.id]);
        assert.equal(second.version, await store.decisions.version());
        // From the start, a decision added and lifted since shows only as lifted.
        const all = await store.decisions.changedSince(v0);
        assert.deepEqual(all.added, [b, c]);
        assert.deepEqual(all.removed, [a.id]);
        assert.deepEqual(await store.decisions.changedSince(second.version), { version: second.version, added: [], removed: [] });
      }));

      test('changedSince pages by limit without losing a change, lifts by value included', withStore(async (store) => {
        const v0 = await store.decisions.version();
        const added: number[] = [];
        for (let i = 0; i < 5; i++) added.push((await store.decisions.add(ban('198.51.100.7', { reason: `r${i}` }))).id);
        assert.equal(await store.decisions.removeByValue('198.51.100.7'), 5);
        const seenAdded: number[] = [];
        const seenRemoved: number[] = [];
        let version = v0;
        for (let page = 0; page < 20; page++) {
          const changes = await store.decisions.changedSince(version, 2);
          seenAdded.push(...changes.added.map((d) => d.id));
          seenRemoved.push(...changes.removed);
          if (changes.version === version) break;
          version = changes.version;
        }
        assert.deepEqual(seenAdded, []);
        assert.deepEqual(seenRemoved.sort((x, y) => x - y), added);
        assert.equal(version, await store.decisions.version());
        await assert.rejects(store.decisions.changedSince(v0, 0), { code: ErrorCodes.ERR_STORE });
      }));

      test('deleteExpired removes expired decisions and expired tombstones only', withStore(async (store, clock) => {
        await store.decisions.add(ban('192.0.2.1', { expiresAt: START + 100 }));
        const lifted = await store.decisions.add(ban('192.0.2.2', { expiresAt: START + 100 }));
        const liftedForever = await store.decisions.add(ban('192.0.2.3', { expiresAt: null }));
        const live = await store.decisions.add(ban('192.0.2.4', { expiresAt: START + 1000 }));
        await store.decisions.remove(lifted.id);
        await store.decisions.remove(liftedForever.id);
        const version = await store.decisions.version();
        assert.equal(await store.decisions.deleteExpired(), 0);
        clock.advance(100);
        assert.equal(await store.decisions.deleteExpired(), 2);
        assert.equal(await store.decisions.deleteExpired(), 0);
        assert.deepEqual(await store.decisions.list(), [live]);
        // A lifted permanent decision stays a tombstone: a follower must still see the lift.
        assert.deepEqual((await store.decisions.changedSince(0)).removed, [liftedForever.id]);
        assert.equal(await store.decisions.version(), version);
      }));

      test('a non-finite expiry, an unknown kind or scope is refused', withStore(async (store) => {
        await assert.rejects(store.decisions.add(ban('192.0.2.1', { expiresAt: Number.NaN })), { code: ErrorCodes.ERR_STORE });
        await assert.rejects(store.decisions.add(ban('192.0.2.1', { expiresAt: Infinity })), { code: ErrorCodes.ERR_STORE });
        await assert.rejects(store.decisions.add(ban('192.0.2.1', { kind: 'nuke' as 'ban' })), { code: ErrorCodes.ERR_STORE });
        await assert.rejects(store.decisions.add(ban('192.0.2.1', { scope: 'planet' as 'ip' })), { code: ErrorCodes.ERR_STORE });
        assert.deepEqual(await store.decisions.list(), []);
        assert.deepEqual((await store.decisions.changedSince(0)).added, []);
      }));
    });

    test('close may be called twice', async () => {
      const store = await open(new ManualClock(START));
      await store.close();
      await store.close();
    });
  });
}
