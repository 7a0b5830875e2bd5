import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalHost, canonicalIp, canonicalServername, isLocalHost, storageName, wildcardOf } from './host-names.ts';

test('canonicalHost lower-cases, converts IDNs to ASCII and keeps one wildcard label', () => {
  assert.equal(canonicalHost('Example.COM.'), 'example.com');
  assert.equal(canonicalHost('*.Example.com'), '*.example.com');
  assert.equal(canonicalHost('bücher.example'), 'xn--bcher-kva.example');
  assert.equal(canonicalHost('localhost'), 'localhost');
});

test('canonicalHost refuses what could escape a storage path or is no host', () => {
  for (const bad of ['', '..', '../etc', 'a/b', 'a\\b', 'a..b', '*.*.example.com', 'a.*.example.com', '*', 'ex ample.com', '-a.com', 'a'.repeat(64) + '.com']) {
    assert.equal(canonicalHost(bad), null, bad);
  }
});

test('IP literals are canonical: IPv6 compressed, IPv4-mapped as IPv4, brackets dropped', () => {
  assert.equal(canonicalIp('127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(canonicalIp('[::1]'), '::1');
  assert.equal(canonicalIp('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(canonicalIp('::FFFF:a00:1'), '10.0.0.1');
  assert.equal(canonicalIp('FE80::1'), 'fe80::1');
  assert.equal(canonicalIp('example.com'), null);
  assert.equal(canonicalHost('::1'), '::1');
});

test('local hosts go to the internal CA (Caddy rules), public names do not', () => {
  for (const h of ['localhost', 'a.localhost', '*.localhost', '127.0.0.1', '::1', 'nas.local', 'db.internal', 'printer.home.arpa']) {
    assert.equal(isLocalHost(h), true, h);
  }
  for (const h of ['example.com', 'localhost.example.com', 'local.example.com', 'notlocal', 'home.arpa.example.com']) {
    assert.equal(isLocalHost(h), false, h);
  }
});

test('SNI names: case and trailing dot ignored, wildcards and junk refused', () => {
  assert.equal(canonicalServername('A.Example.com.'), 'a.example.com');
  assert.equal(canonicalServername('*.example.com'), null);
  assert.equal(canonicalServername('a..b'), null);
  assert.equal(canonicalServername(''), null);
});

test('wildcardOf covers one label only; storageName is file-safe', () => {
  assert.equal(wildcardOf('a.example.com'), '*.example.com');
  assert.equal(wildcardOf('localhost'), null);
  assert.equal(storageName('*.example.com'), 'wildcard_.example.com');
  assert.equal(storageName('::1'), '__1');
});
