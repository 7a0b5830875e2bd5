/**
 * `key_type`, `cert_lifetime`, `renew_interval` and `fallback_sni` applied, seen through real
 * TLS handshakes on 127.0.0.1 (a node:tls server whose certificates come from the manager, as
 * the HTTPS listener's do): the served certificate's key and lifetime, renewal on the
 * configured interval, the certificate unknown names get. Also the settings that cannot be
 * applied to a site, refused when the config loads with the site's file:line.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tls from 'node:tls';
import { describe, test, type TestContext } from 'node:test';
import type { GlobalTlsOptions, KeyType, TlsConfig } from '../src/config/types.ts';
import { ManualClock, systemClock, type Clock } from '../src/kernel/clock.ts';
import { ConfigErrors } from '../src/kernel/errors.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import { openInternalCa } from '../src/tls/internal-ca.ts';
import { keyTypeOf } from '../src/tls/key-type.ts';
import { createCertificateManager, type CertificateManager, type TlsSite } from '../src/tls/index.ts';
import { freePort, startPortcullis } from './support/instance.ts';
import { tlsServer } from './support/tls.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
/** The internal CA backdates leaves by a minute (internal-ca.ts). */
const BACKDATE = 60_000;

async function tempStorage(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cert-options-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function manager(
  t: TestContext,
  storage: string,
  global: Partial<GlobalTlsOptions> = {},
  options: { clock?: Clock; renewCheckIntervalMs?: number } = {},
): Promise<CertificateManager> {
  const m = await createCertificateManager({
    storage,
    global: { storage: null, localCerts: false, ...global },
    logger: silentLogger(),
    clock: options.clock ?? systemClock,
    ...(options.renewCheckIntervalMs === undefined ? {} : { renewCheckIntervalMs: options.renewCheckIntervalMs }),
  });
  t.after(() => m.close());
  return m;
}

function site(name: string, hosts: string[], tls: Omit<TlsConfig, 'source'> | null = null, line = 1): TlsSite {
  return { name, source: { file: 'Caddyfile', line }, hosts, tls: tls === null ? null : { ...tls, source: { file: 'Caddyfile', line: line + 1 } } };
}

/**
 * The leaf a handshake shows, verified against `ca`. `servername` undefined: no SNI (Node
 * sends none when connecting to an IP address); the name is then not checked.
 */
function servedLeaf(port: number, ca: string | null, servername: string | undefined): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      // null: not verified (a test clock ahead of the real one makes fresh certificates "not yet valid").
      ...(ca === null ? { rejectUnauthorized: false } : { ca }),
      timeout: 5000,
      ...(servername === undefined ? { checkServerIdentity: () => undefined } : { servername, checkServerIdentity: () => undefined }),
    });
    socket.once('secureConnect', () => {
      const leaf = socket.getPeerX509Certificate();
      const authorized = socket.authorized;
      socket.destroy();
      if (!authorized && ca !== null) reject(new Error(`not verified: ${String(socket.authorizationError)}`));
      else if (leaf === undefined) reject(new Error('no certificate'));
      else resolve(leaf);
    });
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error('handshake timed out')));
  });
}

function lifetimeOf(leaf: X509Certificate): number {
  return leaf.validToDate.getTime() - leaf.validFromDate.getTime();
}

async function configErrors(work: Promise<unknown>): Promise<string[]> {
  const error = await work.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConfigErrors, `expected ConfigErrors, got ${String(error)}`);
  return error.errors.map((e) => e.describe());
}

describe('key_type', () => {
  test('each key type is the key of the certificate served, and the chain verifies against the internal root', async (t) => {
    const storage = await tempStorage(t);
    const expected: Record<KeyType, { type: string; detail: string | number | undefined }> = {
      ed25519: { type: 'ed25519', detail: undefined },
      p256: { type: 'ec', detail: 'prime256v1' },
      p384: { type: 'ec', detail: 'secp384r1' },
      rsa2048: { type: 'rsa', detail: 2048 },
      rsa4096: { type: 'rsa', detail: 4096 },
    };
    // One manager, one site per key type: a site's key_type is its own.
    const m = await manager(t, storage, { keyType: 'p384' });
    const sites = (Object.keys(expected) as KeyType[]).map((type) => site(type, [`${type}.localhost`], { mode: 'internal', keyType: type }));
    await m.prepare([...sites, site('default', ['default.localhost'])]);
    const port = await tlsServer(t, m);
    const ca = await readFile(m.rootCertificatePath(), 'utf8');
    for (const [type, want] of Object.entries(expected)) {
      const leaf = await servedLeaf(port, ca, `${type}.localhost`);
      const key = leaf.publicKey;
      assert.equal(key.asymmetricKeyType, want.type, type);
      const details = key.asymmetricKeyDetails ?? {};
      if (want.type === 'ec') assert.equal(details.namedCurve, want.detail, type);
      if (want.type === 'rsa') assert.equal(details.modulusLength, want.detail, type);
    }
    // A site without its own key_type gets the global one.
    assert.equal(keyTypeOf(await servedLeaf(port, ca, 'default.localhost')), 'p384');
  });

  test('without key_type the key stays ECDSA P-256', async (t) => {
    const storage = await tempStorage(t);
    const m = await manager(t, storage);
    await m.prepare([site('localhost', ['localhost'])]);
    const port = await tlsServer(t, m);
    const leaf = await servedLeaf(port, await readFile(m.rootCertificatePath(), 'utf8'), 'localhost');
    assert.equal(keyTypeOf(leaf), 'p256');
  });

  test('a stored certificate with another key type is replaced at start and at a reload, not served on', async (t) => {
    const storage = await tempStorage(t);
    const first = await manager(t, storage);
    await first.prepare([site('localhost', ['localhost'])]);
    await first.close();

    const second = await manager(t, storage, { keyType: 'rsa2048' });
    await second.prepare([site('localhost', ['localhost'])]);
    const port = await tlsServer(t, second);
    const ca = await readFile(second.rootCertificatePath(), 'utf8');
    assert.equal(keyTypeOf(await servedLeaf(port, ca, 'localhost')), 'rsa2048', 'restart with a new global key_type');

    await second.prepare([site('localhost', ['localhost'], { mode: 'internal', keyType: 'ed25519' })]);
    assert.equal(keyTypeOf(await servedLeaf(port, ca, 'localhost')), 'ed25519', 'reload with a new site key_type');
  });

  test('two sites serving one name with different key types is an error naming the second site', async (t) => {
    const storage = await tempStorage(t);
    const m = await manager(t, storage);
    const errors = await configErrors(
      m.prepare([site('a', ['app.localhost'], { mode: 'internal', keyType: 'p256' }, 1), site('b', ['app.localhost'], { mode: 'internal', keyType: 'rsa2048' }, 5)]),
    );
    assert.deepEqual(errors, [
      'Caddyfile:6: tls: site b: app.localhost is also served by site a with a different key_type, ca or ca_root; a name has one certificate, so give both sites the same settings',
    ]);
  });

  test('ed25519 for an ACME site is refused at load: public CAs issue RSA and ECDSA keys only', async (t) => {
    const storage = await tempStorage(t);
    const global = await manager(t, storage, { keyType: 'ed25519', acmeCa: 'https://127.0.0.1:9/dir' });
    assert.deepEqual(await configErrors(global.prepare([site('example.org', ['example.org'], null, 3)])), [
      'Caddyfile:3: tls: site example.org: the global key_type ed25519 cannot be used for certificates from an ACME CA (public CAs issue RSA and ECDSA keys only); use p256, p384, rsa2048 or rsa4096, or tls internal',
    ]);
    // The same global setting is fine for a site the internal CA serves.
    await global.prepare([site('localhost', ['localhost'])]);
    const own = await manager(t, storage, { acmeCa: 'https://127.0.0.1:9/dir' });
    assert.deepEqual(await configErrors(own.prepare([site('example.org', ['example.org'], { mode: 'acme', keyType: 'ed25519' }, 3)])), [
      'Caddyfile:4: tls: site example.org: key_type ed25519 cannot be used for certificates from an ACME CA (public CAs issue RSA and ECDSA keys only); use p256, p384, rsa2048 or rsa4096, or tls internal',
    ]);
  });
});

describe('cert_lifetime', () => {
  test('internal certificates live cert_lifetime (default 12h); a stored longer one is replaced', async (t) => {
    const storage = await tempStorage(t);
    const first = await manager(t, storage);
    await first.prepare([site('localhost', ['localhost'])]);
    const port1 = await tlsServer(t, first);
    const ca = await readFile(first.rootCertificatePath(), 'utf8');
    assert.equal(lifetimeOf(await servedLeaf(port1, ca, 'localhost')), 12 * HOUR + BACKDATE);
    await first.close();

    const second = await manager(t, storage, { certLifetimeMs: 2 * HOUR });
    await second.prepare([site('localhost', ['localhost'])]);
    const port2 = await tlsServer(t, second);
    assert.equal(lifetimeOf(await servedLeaf(port2, ca, 'localhost')), 2 * HOUR + BACKDATE);
  });

  test('a lifetime past the intermediate\'s remaining life renews the intermediate, so the leaf gets the whole lifetime', async (t) => {
    const storage = await tempStorage(t);
    const clock = new ManualClock(Date.now());
    const ca = await openInternalCa({ storage, clock, logger: silentLogger() });
    const chain = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!.map((block) => new X509Certificate(block));
    const [, firstIntermediate] = chain((await ca.issue(['a.localhost'], 12 * HOUR)).chainPem);
    clock.advance(3 * DAY); // the 7-day intermediate has 4 days left
    const [leaf, intermediate] = chain((await ca.issue(['b.localhost'], 5 * DAY, 'p384')).chainPem);
    assert.equal(lifetimeOf(leaf!), 5 * DAY + BACKDATE);
    assert.equal(keyTypeOf(leaf!), 'p384');
    assert.notEqual(intermediate!.fingerprint256, firstIntermediate!.fingerprint256, 'a new intermediate');
    assert.ok(intermediate!.validToDate >= leaf!.validToDate, 'the leaf does not outlive its issuer');
    assert.ok(leaf!.verify(intermediate!.publicKey));
    await assert.rejects(ca.issue(['c.localhost'], 8 * DAY), /at most 7 days/);
  });

  test('leaves of the longest lifetime (7d) share one intermediate instead of one each', async (t) => {
    const storage = await tempStorage(t);
    const clock = new ManualClock(Date.now());
    const ca = await openInternalCa({ storage, clock, logger: silentLogger() });
    const issuerOf = async (host: string) => {
      const blocks = (await ca.issue([host], 7 * DAY)).chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
      return new X509Certificate(blocks[1]!).fingerprint256;
    };
    const first = await issuerOf('a.localhost');
    clock.advance(1000);
    assert.equal(await issuerOf('b.localhost'), first, 'the intermediate made for the first 7-day leaf covers the next');
    assert.equal(await issuerOf('c.localhost'), first);
  });

  test('longer than the internal CA signs for, or any lifetime with Let\'s Encrypt, is refused at load', async (t) => {
    const storage = await tempStorage(t);
    const long = await manager(t, storage, { certLifetimeMs: 30 * DAY });
    assert.deepEqual(await configErrors(long.prepare([site('localhost', ['localhost'], null, 7)])), [
      "Caddyfile:7: tls: site localhost: cert_lifetime 30d is longer than the internal CA signs for (at most 7d, its intermediate's lifetime); lower cert_lifetime",
    ]);
    const letsEncrypt = await manager(t, storage, { certLifetimeMs: 30 * DAY });
    assert.deepEqual(await configErrors(letsEncrypt.prepare([site('example.org', ['example.org'], null, 9)])), [
      "Caddyfile:9: tls: site example.org: cert_lifetime cannot be used with Let's Encrypt, which refuses orders that ask for a lifetime; remove cert_lifetime or use a CA that accepts one",
    ]);
  });
});

describe('renew_interval', () => {
  test('the renewal check runs every renew_interval: a due certificate is replaced within it', async (t) => {
    const storage = await tempStorage(t);
    const clock = new ManualClock(Date.now());
    // No renewCheckIntervalMs: the interval comes from the global option alone (default 10 minutes).
    const m = await manager(t, storage, { renewIntervalMs: 1000 }, { clock });
    await m.prepare([site('localhost', ['localhost'])]);
    const port = await tlsServer(t, m);
    const before = (await servedLeaf(port, null, 'localhost')).fingerprint256;
    clock.advance(9 * HOUR); // past two thirds of 12 hours
    const deadline = Date.now() + 5000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await sleep(100);
      after = (await servedLeaf(port, null, 'localhost')).fingerprint256;
    }
    assert.notEqual(after, before, 'renewed within a few intervals');
  });

  test('an interval too long for the certificates\' life is refused at load', async (t) => {
    const storage = await tempStorage(t);
    const m = await manager(t, storage, { renewIntervalMs: 3 * HOUR });
    assert.deepEqual(await configErrors(m.prepare([site('localhost', ['localhost'], null, 4)])), [
      'Caddyfile:4: tls: site localhost: renew_interval 3h is too long for certificates that live 12h: renewal is checked at least twice in the last third of their life, so renew_interval must be at most 2h',
    ]);
    const shorter = await manager(t, storage, { renewIntervalMs: 2 * HOUR, certLifetimeMs: 6 * HOUR });
    assert.match((await configErrors(shorter.prepare([site('localhost', ['localhost'], null, 4)])))[0]!, /renew_interval 2h is too long for certificates that live 6h/);
  });
});

describe('fallback_sni', () => {
  test('names no certificate is held for get the fallback_sni certificate; clients without SNI get default_sni\'s', async (t) => {
    const storage = await tempStorage(t);
    const m = await manager(t, storage, { defaultSni: 'a.localhost', fallbackSni: { name: 'b.localhost', source: { file: 'Caddyfile', line: 2 } } });
    await m.prepare([site('a', ['a.localhost']), site('b', ['b.localhost'])]);
    const port = await tlsServer(t, m);
    const ca = await readFile(m.rootCertificatePath(), 'utf8');
    const a = (await servedLeaf(port, ca, 'a.localhost')).fingerprint256;
    const b = (await servedLeaf(port, ca, 'b.localhost')).fingerprint256;
    assert.notEqual(a, b);
    assert.equal((await servedLeaf(port, ca, 'unknown.example')).fingerprint256, b);
    assert.equal((await servedLeaf(port, ca, undefined)).fingerprint256, a);
  });

  test('alone, it also answers clients that send no SNI; without it an unknown name fails the handshake', async (t) => {
    const storage = await tempStorage(t);
    const m = await manager(t, storage, { fallbackSni: { name: 'B.localhost', source: { file: 'Caddyfile', line: 2 } } });
    await m.prepare([site('a', ['a.localhost']), site('b', ['b.localhost'])]);
    const port = await tlsServer(t, m);
    const ca = await readFile(m.rootCertificatePath(), 'utf8');
    const b = (await servedLeaf(port, ca, 'b.localhost')).fingerprint256;
    assert.equal((await servedLeaf(port, ca, 'unknown.example')).fingerprint256, b);
    assert.equal((await servedLeaf(port, ca, undefined)).fingerprint256, b);

    const plain = await manager(t, await tempStorage(t));
    await plain.prepare([site('a', ['a.localhost'])]);
    const plainPort = await tlsServer(t, plain);
    await assert.rejects(servedLeaf(plainPort, await readFile(plain.rootCertificatePath(), 'utf8'), 'unknown.example'));
  });

  test('a fallback_sni no site gets a certificate for is refused at its own line', async (t) => {
    const storage = await tempStorage(t);
    const m = await manager(t, storage, { fallbackSni: { name: 'origin.example', source: { file: 'Caddyfile', line: 2 } } });
    assert.deepEqual(await configErrors(m.prepare([site('a', ['a.localhost'])])), [
      'Caddyfile:2: fallback_sni: origin.example is not a name any site gets a certificate for (on_demand names do not count); name one of the sites\' hosts',
    ]);
    // A wildcard site covers it.
    const wildcard = await manager(t, storage, { fallbackSni: { name: 'x.apps.localhost', source: { file: 'Caddyfile', line: 2 } } });
    await wildcard.prepare([site('apps', ['*.apps.localhost'], { mode: 'internal' })]);
  });
});

describe('ACME CA settings refused at load', () => {
  test('a ca_root file that does not exist is an error at the tls line', async (t) => {
    const storage = await tempStorage(t);
    const m = await manager(t, storage);
    const missing = join(storage, 'no-such-root.pem');
    assert.deepEqual(await configErrors(m.prepare([site('example.org', ['example.org'], { mode: 'acme', ca: 'https://127.0.0.1:9/dir', caRoot: missing }, 3)])), [
      `Caddyfile:4: tls: site example.org: ca_root ${missing}: no such file`,
    ]);
  });
});

describe('through the Caddyfile', () => {
  test('global key_type, cert_lifetime and fallback_sni and a site\'s key_type reach the HTTPS listener', async (t) => {
    const httpsPort = await freePort();
    const p = await startPortcullis(`{
	admin off
	auto_https disable_redirects
	default_bind 127.0.0.1
	https_port ${httpsPort}
	storage file_system $DIR/data
	key_type p384
	cert_lifetime 2h
	fallback_sni localhost
}
localhost {
	respond "local"
}
app.localhost {
	tls {
		key_type rsa2048
	}
	respond "app"
}
`);
    t.after(() => p.stop());
    const ca = await readFile((await p.instance.certificateAuthority())!, 'utf8');
    const local = await servedLeaf(httpsPort, ca, 'localhost');
    assert.equal(keyTypeOf(local), 'p384');
    assert.equal(lifetimeOf(local), 2 * HOUR + BACKDATE);
    assert.equal(keyTypeOf(await servedLeaf(httpsPort, ca, 'app.localhost')), 'rsa2048');
    assert.equal((await servedLeaf(httpsPort, ca, 'unknown.example')).fingerprint256, local.fingerprint256, 'fallback_sni');
  });
});
