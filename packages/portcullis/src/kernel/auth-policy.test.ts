import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy, type SignedInUser } from './auth-policy.ts';

const alice: SignedInUser = { id: '1', username: 'alice', email: 'alice@example.com', name: 'Alice', groups: ['admins', 'staff'] };
const bob: SignedInUser = { id: '2', username: 'Bob', email: 'bob@evil-example.com', name: 'Bob', groups: ['staff'] };
const nomail: SignedInUser = { id: '3', username: 'carol', email: null, name: 'Carol', groups: [] };

test('no rules admit every signed-in user', () => {
  assert.equal(compilePolicy([])(nomail), true);
});

test('group needs every listed group; any_group one of them', () => {
  assert.equal(compilePolicy([{ kind: 'group', values: ['admins', 'staff'] }])(alice), true);
  assert.equal(compilePolicy([{ kind: 'group', values: ['admins', 'staff'] }])(bob), false);
  assert.equal(compilePolicy([{ kind: 'any_group', values: ['admins', 'staff'] }])(bob), true);
  assert.equal(compilePolicy([{ kind: 'any_group', values: ['Admins'] }])(alice), false, 'group names are exact');
});

test('user compares case-insensitively, as usernames are unique that way', () => {
  assert.equal(compilePolicy([{ kind: 'user', values: ['bob'] }])(bob), true);
  assert.equal(compilePolicy([{ kind: 'user', values: ['bob'] }])(alice), false);
});

test('email patterns: * spans characters but the domain must match exactly (no suffix look-alikes)', () => {
  const policy = compilePolicy([{ kind: 'email', values: ['*@example.com'] }]);
  assert.equal(policy(alice), true);
  assert.equal(policy(bob), false, 'evil-example.com is not example.com');
  assert.equal(policy({ ...alice, email: 'alice@example.com.evil.net' }), false);
  assert.equal(policy({ ...alice, email: 'ALICE@EXAMPLE.COM' }), true);
  assert.equal(policy(nomail), false);
  assert.equal(compilePolicy([{ kind: 'email', values: ['a.b@x.org'] }])({ ...alice, email: 'aXb@x.org' }), false, 'a dot is literal');
});

test('all rules must hold', () => {
  const policy = compilePolicy([
    { kind: 'any_group', values: ['staff'] },
    { kind: 'email', values: ['*@example.com'] },
  ]);
  assert.equal(policy(alice), true);
  assert.equal(policy(bob), false);
});
