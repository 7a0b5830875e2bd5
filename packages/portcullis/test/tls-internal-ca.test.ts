/**
 * The internal CA through real TLS handshakes: a node:tls server whose SNICallback asks the
 * certificate manager, and clients that trust only the CA's root.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { GlobalTlsOptions } from '../src/config/types.ts';
import { ManualClock, systemClock, type Clock } from '../src/kernel/clock.ts';
import { ConfigErrors } from '../src/kernel/errors.ts';
import { createCertificateManager, type CertificateManager, type TlsSite } from '../src/tls/index.ts';
import { tlsServer } from './support/tls.ts';

interface LogLine {
  level: number;
  msg: string;
  host?: string;
}

async function tempStorage(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function capturingLogger(lines: LogLine[]) {
  return pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
}

async function manager(
  t: TestContext,
  storage: string,
  options: { global?: Partial<GlobalTlsOptions>; clock?: Clock; lines?: LogLine[]; renewCheckIntervalMs?: number } = {},
): Promise<CertificateManager> {
  const m = await createCertificateManager({
    storage,
    global: { storage: null, localCerts: false, ...options.global },
    logger: capturingLogger(options.lines ?? []),
    clock: options.clock ?? systemClock,
    ...(options.renewCheckIntervalMs ? { renewCheckIntervalMs: options.renewCheckIntervalMs } : {}),
  });
  t.after(() => m.close());
  return m;
}

function site(name: string, hosts: string[], mode?: 'internal'): TlsSite {
  return { name, source: { file: 'Caddyfile', line: 1 }, hosts, tls: mode ? { mode, source: { file: 'Caddyfile', line: 2 } } : null };
}

type Handshake = { ok: true; fingerprint: string; authorized: boolean; cert: tls.DetailedPeerCertificate } | { ok: false; error: Error; sawCertificate: boolean };

/** One handshake; resolves with the peer's leaf or the error, never hangs past 5 s. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, timeout: 5000, ...options });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate(true);
      resolve({ ok: true, fingerprint: cert.fingerprint256, authorized: socket.authorized, cert });
      socket.destroy();
    });
    socket.once('error', (error) => {
      resolve({ ok: false, error, sawCertificate: Object.keys(socket.getPeerCertificate() ?? {}).length > 0 });
      socket.destroy();
    });
    socket.once('timeout', () => socket.destroy(new Error('handshake timed out')));
  });
}

async function okHandshake(port: number, options: tls.ConnectionOptions): Promise<string> {
  const result = await handshake(port, options);
  if (!result.ok) assert.fail(`handshake failed: ${result.error.message}`);
  return result.fingerprint;
}

test('names resolve to certificates whose chain verifies against the internal root', async (t) => {
  const storage = await tempStorage(t);
  const lines: LogLine[] = [];
  const m = await manager(t, storage, { lines });
  await m.prepare([site('localhost', ['localhost']), site('app.localhost', ['app.localhost']), site('nas.home.arpa', ['NAS.home.arpa'])]);
  const port = await tlsServer(t, m);
  const ca = await readFile(m.rootCertificatePath(), 'utf8');

  const fingerprints = new Set<string>();
  for (const servername of ['localhost', 'app.localhost', 'nas.home.arpa', 'LOCALHOST']) {
    const result = await handshake(port, { servername, ca });
    assert.ok(result.ok, `${servername}: ${result.ok ? '' : result.error.message}`);
    assert.equal(result.authorized, true);
    // Leaf + intermediate are sent; the root comes only from the client's trust store.
    assert.equal(result.cert.issuerCertificate.subject.CN, 'Portcullis Local Authority - ECC Intermediate');
    fingerprints.add(result.fingerprint);
  }
  assert.equal(fingerprints.size, 3, 'one certificate per name; case does not matter');

  const root = new X509Certificate(ca);
  assert.match(root.subject, /^CN=Portcullis Local Authority - \d{4} ECC Root$/);
  assert.equal(root.ca, true);
  const years = (root.validToDate.getTime() - root.validFromDate.getTime()) / (365 * 86400_000);
  assert.ok(years > 9.9 && years < 10.1, `root lives ten years, got ${years}`);
  assert.equal(lines.filter((l) => l.msg === 'issued a certificate from the internal CA').length, 3);
});

test('the root certificate is created when first asked for (portcullis trust), not with the manager', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage);
  await assert.rejects(readFile(m.rootCertificatePath()), { code: 'ENOENT' });
  assert.equal(await m.ensureRootCertificate(), m.rootCertificatePath());
  assert.equal(new X509Certificate(await readFile(m.rootCertificatePath())).ca, true);
});

test('storage follows Caddy layout; private keys are 0600 and directories 0700', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage);
  await m.prepare([site('wild', ['*.example.test'], 'internal'), site('loopback', ['127.0.0.1', '::1'])]);
  assert.equal(m.rootCertificatePath(), join(storage, 'pki', 'authorities', 'local', 'root.crt'));
  assert.deepEqual((await readdir(join(storage, 'pki', 'authorities', 'local'))).sort(), ['intermediate.crt', 'intermediate.key', 'root.crt', 'root.key']);
  assert.deepEqual((await readdir(join(storage, 'certificates', 'local'))).sort(), ['127.0.0.1', '__1', 'wildcard_.example.test']);
  const keys = [
    join(storage, 'pki', 'authorities', 'local', 'root.key'),
    join(storage, 'pki', 'authorities', 'local', 'intermediate.key'),
    join(storage, 'certificates', 'local', 'wildcard_.example.test', 'wildcard_.example.test.key'),
    join(storage, 'certificates', 'local', '127.0.0.1', '127.0.0.1.key'),
  ];
  for (const key of keys) assert.equal((await stat(key)).mode & 0o777, 0o600, key);
  for (const dir of [join(storage, 'pki', 'authorities', 'local'), join(storage, 'certificates', 'local', '127.0.0.1'), join(storage, 'locks')]) {
    assert.equal((await stat(dir)).mode & 0o777, 0o700, dir);
  }
  const leaf = new X509Certificate(await readFile(join(storage, 'certificates', 'local', '127.0.0.1', '127.0.0.1.crt')));
  const hours = (leaf.validToDate.getTime() - leaf.validFromDate.getTime()) / 3600_000;
  assert.ok(hours > 12 && hours < 12.1, `leaf lives 12 h (plus backdating), got ${hours}`);
  const intermediate = new X509Certificate(await readFile(join(storage, 'pki', 'authorities', 'local', 'intermediate.crt')));
  const days = (intermediate.validToDate.getTime() - intermediate.validFromDate.getTime()) / 86400_000;
  assert.ok(days > 6.99 && days < 7.01, `intermediate lives 7 days, got ${days}`);
});

test('a wildcard certificate covers exactly one label; unknown names fail the handshake without a certificate', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage);
  await m.prepare([site('wild', ['*.example.test'], 'internal')]);
  const port = await tlsServer(t, m);
  const ca = await readFile(m.rootCertificatePath(), 'utf8');

  await okHandshake(port, { servername: 'a.example.test', ca });
  for (const servername of ['b.a.example.test', 'example.test', 'other.test']) {
    const result = await handshake(port, { servername, ca, rejectUnauthorized: false });
    assert.equal(result.ok, false, `${servername} must not get a certificate`);
    if (!result.ok) assert.equal(result.sawCertificate, false);
  }
  assert.equal(m.contextFor('*.example.test'), null, 'a client cannot ask for the wildcard itself');
});

test('default_sni answers unknown names with its certificate', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage, { global: { defaultSni: 'localhost' } });
  await m.prepare([site('localhost', ['localhost']), site('other', ['other.localhost'])]);
  const port = await tlsServer(t, m);
  const ca = await readFile(m.rootCertificatePath(), 'utf8');
  const localhost = await okHandshake(port, { servername: 'localhost', ca });
  const other = await okHandshake(port, { servername: 'other.localhost', ca });
  assert.notEqual(localhost, other);
  // The chain still verifies; only the name differs, which is what default_sni means.
  const unknown = await okHandshake(port, { servername: 'unknown.test', ca, checkServerIdentity: () => undefined });
  assert.equal(unknown, localhost);
  assert.equal(m.contextForAddress('192.0.2.1'), m.contextFor('localhost'));
});

test('a client that connects by IP address (no SNI) gets the certificate for that address', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage);
  await m.prepare([site('loopback', ['127.0.0.1', '::1']), site('localhost', ['localhost'])]);
  assert.ok(m.contextForAddress('127.0.0.1'));
  assert.equal(m.contextForAddress('::ffff:127.0.0.1'), m.contextForAddress('127.0.0.1'));
  assert.equal(m.contextForAddress('0:0:0:0:0:0:0:1'), m.contextForAddress('::1'));
  assert.equal(m.contextForAddress('10.9.9.9'), null);
  const port = await tlsServer(t, m);
  const ca = await readFile(m.rootCertificatePath(), 'utf8');
  const result = await handshake(port, { ca }); // Node sends no SNI for an IP host
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  assert.equal(result.authorized, true);
  assert.match(result.cert.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
});

test('a restart reuses stored certificates and issues nothing new', async (t) => {
  const storage = await tempStorage(t);
  const sites = [site('localhost', ['localhost']), site('loopback', ['127.0.0.1'])];
  const first = await manager(t, storage);
  await first.prepare(sites);
  const port1 = await tlsServer(t, first);
  const ca = await readFile(first.rootCertificatePath(), 'utf8');
  const before = await okHandshake(port1, { servername: 'localhost', ca });
  const intermediateBefore = await readFile(join(storage, 'pki', 'authorities', 'local', 'intermediate.crt'), 'utf8');
  await first.close();

  const lines: LogLine[] = [];
  const second = await manager(t, storage, { lines });
  await second.prepare(sites);
  await second.prepare(sites); // a reload with the same sites is a no-op too
  const port2 = await tlsServer(t, second);
  assert.equal(await okHandshake(port2, { servername: 'localhost', ca }), before);
  assert.equal(await readFile(second.rootCertificatePath(), 'utf8'), ca);
  assert.equal(await readFile(join(storage, 'pki', 'authorities', 'local', 'intermediate.crt'), 'utf8'), intermediateBefore);
  assert.deepEqual(lines.filter((l) => /issued|created/.test(l.msg)), []);
});

test('a reload drops names no longer wanted and keeps the others', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage);
  await m.prepare([site('a', ['a.localhost']), site('b', ['b.localhost'])]);
  const kept = m.contextFor('a.localhost');
  await m.prepare([site('a', ['a.localhost'])]);
  assert.equal(m.contextFor('a.localhost'), kept, 'the same SecureContext object is reused');
  assert.equal(m.contextFor('b.localhost'), null);
});

test('background renewal replaces a leaf once two thirds of its life are gone', async (t) => {
  const storage = await tempStorage(t);
  const clock = new ManualClock(Date.now());
  const lines: LogLine[] = [];
  const m = await manager(t, storage, { clock, lines, renewCheckIntervalMs: 20 });
  await m.prepare([site('localhost', ['localhost'])]);
  const port = await tlsServer(t, m);
  const before = await okHandshake(port, { servername: 'localhost', rejectUnauthorized: false });

  clock.advance(7 * 3600_000); // 7 h of 12: not yet due (due at 8 h minus at most 2% jitter)
  await sleep(100);
  assert.equal(await okHandshake(port, { servername: 'localhost', rejectUnauthorized: false }), before);

  clock.advance(2 * 3600_000); // 9 h: due
  const deadline = Date.now() + 5000;
  let after = before;
  while (after === before && Date.now() < deadline) {
    await sleep(20);
    after = await okHandshake(port, { servername: 'localhost', rejectUnauthorized: false });
  }
  assert.notEqual(after, before, 'a new certificate is served');
  const stored = new X509Certificate(await readFile(join(storage, 'certificates', 'local', 'localhost', 'localhost.crt')));
  assert.equal(stored.fingerprint256, after, 'and stored');
  assert.ok(Math.abs(stored.validFromDate.getTime() - (clock.now() - 60_000)) < 2000, 'issued at the clock’s time');
  assert.ok(lines.some((l) => l.msg === 'renewed a certificate from the internal CA' && l.host === 'localhost'));
});

test('the intermediate is re-signed by the same root when two thirds of its 7 days are gone', async (t) => {
  const storage = await tempStorage(t);
  const clock = new ManualClock(Date.now());
  const m = await manager(t, storage, { clock, renewCheckIntervalMs: 20 });
  await m.prepare([site('localhost', ['localhost'])]);
  const intermediatePath = join(storage, 'pki', 'authorities', 'local', 'intermediate.crt');
  const root = await readFile(m.rootCertificatePath(), 'utf8');
  const before = await readFile(intermediatePath, 'utf8');
  clock.advance(5 * 86400_000);
  const deadline = Date.now() + 5000;
  while ((await readFile(intermediatePath, 'utf8')) === before && Date.now() < deadline) await sleep(20);
  const after = new X509Certificate(await readFile(intermediatePath, 'utf8'));
  assert.notEqual(after.toString(), new X509Certificate(before).toString());
  assert.equal(await readFile(m.rootCertificatePath(), 'utf8'), root);
  assert.ok(after.verify(new X509Certificate(root).publicKey));
});

test('two managers preparing the same storage at once issue one certificate (the lock)', async (t) => {
  const storage = await tempStorage(t);
  const lines: LogLine[] = [];
  const [a, b] = await Promise.all([manager(t, storage, { lines }), manager(t, storage, { lines })]);
  const sites = [site('localhost', ['localhost'])];
  await Promise.all([a.prepare(sites), b.prepare(sites)]);
  const ca = await readFile(a.rootCertificatePath(), 'utf8');
  const fromA = await okHandshake(await tlsServer(t, a), { servername: 'localhost', ca });
  const fromB = await okHandshake(await tlsServer(t, b), { servername: 'localhost', ca });
  assert.equal(fromA, fromB);
  assert.equal(lines.filter((l) => l.msg === 'issued a certificate from the internal CA').length, 1);
  assert.equal(lines.filter((l) => /created the internal CA root/.test(l.msg)).length, 1);
  assert.deepEqual(await readdir(join(storage, 'locks')), [], 'locks are released');
});

test('public names go to ACME (nothing ordered without challenges), local names to the internal CA; local_certs issues them all', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage);
  const sites: TlsSite[] = [
    { name: 'example.com', source: { file: 'Caddyfile', line: 4 }, hosts: ['example.com'], tls: null },
    { name: 'www.example.org', source: { file: 'Caddyfile', line: 9 }, hosts: ['www.example.org', 'localhost'], tls: null },
    site('localhost', ['localhost']),
  ];
  await m.prepare(sites);
  // This manager answers no ACME challenge, so it orders nothing: public names have no
  // certificate (their handshakes fail) while local ones are served.
  assert.equal(m.contextFor('example.com'), null);
  assert.equal(m.contextFor('www.example.org'), null);
  assert.ok(m.contextFor('localhost'));

  const local = await manager(t, storage, { global: { localCerts: true } });
  await local.prepare(sites);
  assert.ok(local.contextFor('example.com'));
  assert.ok(local.contextFor('www.example.org'));
});

test('hosts that are not names are config errors, never paths', async (t) => {
  const storage = await tempStorage(t);
  const m = await manager(t, storage);
  const error = await m.prepare([site('bad', ['../../etc/passwd', 'a/b.localhost'], 'internal')]).catch((e: unknown) => e);
  assert.ok(error instanceof ConfigErrors);
  assert.equal(error.errors.length, 2);
  assert.match(error.errors[0]!.message, /is not a host name or IP address/);
  await assert.rejects(stat(join(storage, 'certificates')), { code: 'ENOENT' });
});

test('storage that cannot be written is a config error for the sites that need it, not a crash', async (t) => {
  const storage = await tempStorage(t);
  const blocker = join(storage, 'a-file');
  await writeFile(blocker, 'not a directory');
  const m = await manager(t, join(blocker, 'storage'));
  const error = await m.prepare([site('localhost', ['localhost'])]).catch((e: unknown) => e);
  assert.ok(error instanceof ConfigErrors);
  assert.match(error.errors[0]!.describe(), /^Caddyfile:1: tls: site localhost: cannot get a certificate for localhost from the internal CA: ENOTDIR/);
  assert.equal(m.contextFor('localhost'), null);
});
