/**
 * An in-memory Store for identity's unit tests: users, groups, clients and the audit log behave
 * as the store contract says (case-insensitive unique logins, ERR_STORE_CONFLICT,
 * ERR_STORE_NOT_FOUND, copies out so callers cannot edit stored rows). Artifacts, signing
 * keys and decisions are not needed by these tests and throw.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../kernel/clock.ts';
import { ErrorCodes, PortcullisError } from '../../kernel/errors.ts';
import type {
  ArtifactRepository,
  AuditEvent,
  AuditLog,
  ClientRepository,
  DecisionRepository,
  Group,
  GroupRepository,
  SigningKeyRepository,
  Store,
  StoredClient,
  User,
  UserRepository,
} from '../../store/index.ts';
import { foldLogin } from '../../store/index.ts';

export interface MemoryStore extends Store {
  /** Set to make the next calls of every repository reject, to test failure paths. */
  failWith: Error | null;
}

/** A fresh, empty in-memory store. */
export function createMemoryStore(options: { clock?: Clock } = {}): MemoryStore {
  const clock = options.clock ?? systemClock;
  const users = new Map<string, User>();
  const groups = new Map<string, Group>();
  /** group name -> member user ids */
  const members = new Map<string, Set<string>>();
  const clients = new Map<string, StoredClient>();
  const audit: AuditEvent[] = [];
  let closed = false;

  const guard = () => {
    if (closed) throw new PortcullisError(ErrorCodes.ERR_STORE, 'store is closed');
    if (store.failWith !== null) throw store.failWith;
  };

  const findByUsername = (login: string) => [...users.values()].find((u) => foldLogin(u.username) === foldLogin(login)) ?? null;
  const findByEmail = (email: string) => [...users.values()].find((u) => u.email !== null && foldLogin(u.email) === foldLogin(email)) ?? null;

  const userRepository: UserRepository = {
    async create(input) {
      guard();
      if (findByUsername(input.username) !== null) throw conflict(`username ${input.username} is taken`);
      if (input.email != null && findByEmail(input.email) !== null) throw conflict(`email ${input.email} is taken`);
      const now = clock.now();
      const user: User = {
        id: randomUUID(),
        username: input.username,
        email: input.email ?? null,
        emailVerified: input.emailVerified ?? false,
        displayName: input.displayName ?? null,
        passwordHash: input.passwordHash ?? null,
        disabled: input.disabled ?? false,
        attributes: structuredClone(input.attributes ?? {}),
        createdAt: now,
        updatedAt: now,
        sessionsValidFrom: 0,
      };
      users.set(user.id, user);
      return copy(user);
    },
    async byId(id) {
      guard();
      const user = users.get(id);
      return user === undefined ? null : copy(user);
    },
    async byLogin(login) {
      guard();
      const user = findByUsername(login) ?? findByEmail(login);
      return user === null ? null : copy(user);
    },
    async list() {
      guard();
      return [...users.values()].sort((a, b) => compare(foldLogin(a.username), foldLogin(b.username))).map(copy);
    },
    async update(id, patch) {
      guard();
      const user = users.get(id);
      if (user === undefined) return null;
      if (patch.email != null) {
        const other = findByEmail(patch.email);
        if (other !== null && other.id !== id) throw conflict(`email ${patch.email} is taken`);
      }
      const updated: User = { ...user, ...structuredClone(patch), updatedAt: clock.now() };
      users.set(id, updated);
      return copy(updated);
    },
    async delete(id) {
      guard();
      if (!users.delete(id)) return false;
      for (const set of members.values()) set.delete(id);
      return true;
    },
    async count() {
      guard();
      return users.size;
    },
  };

  const groupRepository: GroupRepository = {
    async create(name, description) {
      guard();
      if (groups.has(name)) throw conflict(`group ${name} exists`);
      const group: Group = { id: randomUUID(), name, description: description ?? null, createdAt: clock.now() };
      groups.set(name, group);
      members.set(name, new Set());
      return { ...group };
    },
    async byName(name) {
      guard();
      const group = groups.get(name);
      return group === undefined ? null : { ...group };
    },
    async list() {
      guard();
      return [...groups.values()].sort((a, b) => compare(a.name, b.name)).map((g) => ({ ...g }));
    },
    async delete(name) {
      guard();
      members.delete(name);
      return groups.delete(name);
    },
    async addMember(groupName, userId) {
      guard();
      const set = members.get(groupName);
      if (set === undefined) throw notFound(`no group ${groupName}`);
      if (!users.has(userId)) throw notFound(`no user ${userId}`);
      set.add(userId);
    },
    async removeMember(groupName, userId) {
      guard();
      return members.get(groupName)?.delete(userId) ?? false;
    },
    async groupsOf(userId) {
      guard();
      return [...members.entries()].filter(([, set]) => set.has(userId)).map(([name]) => name).sort(compare);
    },
    async membersOf(groupName) {
      guard();
      const set = members.get(groupName) ?? new Set<string>();
      return [...set]
        .map((id) => users.get(id)!)
        .sort((a, b) => compare(foldLogin(a.username), foldLogin(b.username)))
        .map(copy);
    },
  };

  const clientRepository: ClientRepository = {
    async create(client) {
      guard();
      if (clients.has(client.clientId)) throw conflict(`client ${client.clientId} exists`);
      const stored: StoredClient = { ...structuredClone(client), createdAt: clock.now() };
      clients.set(client.clientId, stored);
      return structuredClone(stored);
    },
    async byId(clientId) {
      guard();
      const client = clients.get(clientId);
      return client === undefined ? null : structuredClone(client);
    },
    async list() {
      guard();
      return [...clients.values()].sort((a, b) => compare(a.clientId, b.clientId)).map((c) => structuredClone(c));
    },
    async delete(clientId) {
      guard();
      return clients.delete(clientId);
    },
  };

  const auditLog: AuditLog = {
    async append(event) {
      guard();
      audit.push({ ...structuredClone(event), id: audit.length + 1, at: clock.now() });
    },
    async list(query = {}) {
      guard();
      let events = [...audit].reverse();
      if (query.type !== undefined) events = events.filter((e) => e.type === query.type);
      if (query.since !== undefined) events = events.filter((e) => e.at >= query.since!);
      if (query.limit !== undefined) events = events.slice(0, query.limit);
      return events.map((e) => structuredClone(e));
    },
  };

  // The repositories above read `store.failWith` only when called, after this line has run.
  const store: MemoryStore = {
    failWith: null,
    users: userRepository,
    groups: groupRepository,
    clients: clientRepository,
    artifacts: notImplemented<ArtifactRepository>('artifacts'),
    keys: notImplemented<SigningKeyRepository>('keys'),
    audit: auditLog,
    decisions: notImplemented<DecisionRepository>('decisions'),
    async close() {
      closed = true;
    },
  };
  return store;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function copy(user: User): User {
  return structuredClone(user);
}

function conflict(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_STORE_CONFLICT, message, { status: 409 });
}

function notFound(message: string): PortcullisError {
  return new PortcullisError(ErrorCodes.ERR_STORE_NOT_FOUND, message, { status: 404 });
}

function notImplemented<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      // Not a thenable: `await store.keys` must not call a fake `then`.
      if (property === 'then') return undefined;
      return () => Promise.reject(new Error(`memory store: ${name}.${String(property)} is not implemented`));
    },
  });
}
