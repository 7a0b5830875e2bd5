/**
 * `tls <cert_file> <key_file>`: good files are served over a real handshake; every kind of bad
 * file is a config error carrying the tls directive's file:line, all reported at once.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { KeyObject } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { ManualClock } from '../kernel/clock.ts';
import { ConfigErrors } from '../kernel/errors.ts';
import { silentLogger } from '../kernel/logger.ts';
import { createCertificateManager, type CertificateManager, type TlsSite } from './index.ts';
import { createLeafCertificate, createRootCertificate, generateKeyPair, privateKeyToPem } from './sign-certificates.ts';

const HOUR = 3600_000;

interface Material {
  dir: string;
  rootPem: string;
  /** Writes a leaf for `hosts` valid from `from` to `to` (ms from now); returns [certPath, keyPath]. */
  leaf(name: string, hosts: string[], from?: number, to?: number): Promise<[string, string]>;
}

async function material(t: TestContext): Promise<Material> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-tls-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rootKeys = await generateKeyPair();
  const now = Date.now();
  const rootPem = await createRootCertificate(rootKeys, 'Test Files Root', { notBefore: new Date(now - HOUR), notAfter: new Date(now + 24 * HOUR) });
  return {
    dir,
    rootPem,
    async leaf(name, hosts, from = -HOUR, to = 10 * HOUR) {
      const keys = await generateKeyPair();
      const pem = await createLeafCertificate(keys.publicKey, hosts, { certPem: rootPem, key: rootKeys.privateKey }, {
        notBefore: new Date(now + from),
        notAfter: new Date(now + to),
      });
      const certPath = join(dir, `${name}.crt`);
      const keyPath = join(dir, `${name}.key`);
      await writeFile(certPath, pem);
      await writeFile(keyPath, privateKeyToPem(keys.privateKey), { mode: 0o600 });
      return [certPath, keyPath];
    },
  };
}

function filesSite(name: string, hosts: string[], certFile: string, keyFile: string, line: number): TlsSite {
  return {
    name,
    source: { file: 'Caddyfile', line },
    hosts,
    tls: { mode: 'files', certFile, keyFile, source: { file: 'Caddyfile', line: line + 1 } },
  };
}

async function newManager(t: TestContext, storage: string): Promise<CertificateManager> {
  const m = await createCertificateManager({
    storage,
    global: { storage: null, localCerts: false },
    logger: silentLogger(),
    clock: new ManualClock(Date.now()),
  });
  t.after(() => m.close());
  return m;
}

async function configErrors(promise: Promise<void>): Promise<string[]> {
  const error = await promise.then(
    () => assert.fail('expected ConfigErrors'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConfigErrors, String(error));
  return error.errors.map((e) => e.describe());
}

async function servedFingerprint(m: CertificateManager, servername: string, ca: string): Promise<string> {
  const server = tls.createServer({
    SNICallback: (name, cb) => void Promise.resolve(m.contextFor(name)).then((ctx) => (ctx ? cb(null, ctx) : cb(new Error('no certificate')))),
  });
  server.on('secureConnection', (s) => s.end());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, servername, ca, timeout: 5000 });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      });
      socket.once('error', reject);
      socket.once('timeout', () => socket.destroy(new Error('timed out')));
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('good certificate files are served, and a wildcard file covers one-label names', async (t) => {
  const mat = await material(t);
  const [cert, key] = await mat.leaf('good', ['files.example.test', '*.wild.example.test']);
  const m = await newManager(t, join(mat.dir, 'storage'));
  await m.prepare([filesSite('files.example.test', ['files.example.test', 'a.wild.example.test', '*.wild.example.test'], cert, key, 3)]);
  const fp = await servedFingerprint(m, 'files.example.test', mat.rootPem);
  assert.equal(await servedFingerprint(m, 'b.wild.example.test', mat.rootPem), fp);
  await assert.rejects(servedFingerprint(m, 'x.b.wild.example.test', mat.rootPem));
});

test('every bad file is reported at once with the tls directive’s file:line, and nothing crashes', async (t) => {
  const mat = await material(t);
  const [goodCert, goodKey] = await mat.leaf('good', ['good.example.test']);
  const [, otherKey] = await mat.leaf('other', ['good.example.test']);
  const [expiredCert, expiredKey] = await mat.leaf('expired', ['old.example.test'], -10 * HOUR, -HOUR);
  const [futureCert, futureKey] = await mat.leaf('future', ['new.example.test'], HOUR, 10 * HOUR);
  const garbage = join(mat.dir, 'garbage.crt');
  await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
  const noPem = join(mat.dir, 'nopem.crt');
  await writeFile(noPem, 'hello\n');
  const encryptedKey = join(mat.dir, 'encrypted.key');
  const keys = await generateKeyPair();
  await writeFile(
    encryptedKey,
    KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string,
  );
  const aDirectory = join(mat.dir, 'a-directory');
  await mkdir(aDirectory);

  const m = await newManager(t, join(mat.dir, 'storage'));
  const messages = await configErrors(
    m.prepare([
      filesSite('mismatch', ['good.example.test'], goodCert, otherKey, 10),
      filesSite('expired', ['old.example.test'], expiredCert, expiredKey, 20),
      filesSite('future', ['new.example.test'], futureCert, futureKey, 30),
      filesSite('missing', ['good.example.test'], join(mat.dir, 'missing.crt'), goodKey, 40),
      filesSite('garbage', ['good.example.test'], garbage, goodKey, 50),
      filesSite('nopem', ['good.example.test'], noPem, goodKey, 60),
      filesSite('encrypted', ['good.example.test'], goodCert, encryptedKey, 70),
      filesSite('directory', ['good.example.test'], goodCert, aDirectory, 80),
      filesSite('not covering', ['good.example.test', 'other.example.test', '*.example.test'], goodCert, goodKey, 90),
    ]),
  );
  const expected: [number, RegExp][] = [
    [11, /site mismatch: the private key does not belong to the certificate/],
    [21, /site expired: the certificate in .*expired\.crt expired on \d{4}-/],
    [31, /site future: the certificate in .*future\.crt is not valid until \d{4}-/],
    [41, /site missing: cannot read the certificate file .*missing\.crt: no such file/],
    [51, /site garbage: certificate 1 in the chain is not a valid X\.509 certificate/],
    [61, /site nopem: no PEM certificate found/],
    [71, /site encrypted: the private key is encrypted/],
    [81, /site directory: cannot read the key file .*a-directory: is a directory/],
    [91, /site not covering: the certificate in .*good\.crt does not cover other\.example\.test, \*\.example\.test$/],
  ];
  assert.equal(messages.length, expected.length, messages.join('\n'));
  for (const [i, [line, pattern]] of expected.entries()) {
    assert.ok(messages[i]!.startsWith(`Caddyfile:${line}: tls: `), messages[i]);
    assert.match(messages[i]!, pattern);
  }
});

test('a certificate and key OpenSSL refuses to serve (RSA 512) are a config error at the tls line, not a raw start failure', async (t) => {
  const mat = await material(t);
  const cert = join(mat.dir, 'weak.crt');
  const key = join(mat.dir, 'weak.key');
  const made = await new Promise<boolean>((resolve) =>
    execFile('openssl', ['req', '-x509', '-newkey', 'rsa:512', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=weak.example.test', '-addext', 'subjectAltName=DNS:weak.example.test'], (error) => resolve(error === null)),
  );
  if (!made) {
    t.skip('openssl cannot make an RSA-512 certificate here');
    return;
  }
  const m = await newManager(t, join(mat.dir, 'storage'));
  const [message] = await configErrors(m.prepare([filesSite('weak', ['weak.example.test'], cert, key, 5)]));
  assert.match(message!, /^Caddyfile:6: tls: site weak: OpenSSL refuses the certificate and key: .*key too small/);
});

test('an unreadable key file is a config error', async (t) => {
  if (process.getuid?.() === 0) {
    t.skip('running as root, which reads files whatever their mode');
    return;
  }
  const mat = await material(t);
  const [cert, key] = await mat.leaf('good', ['good.example.test']);
  await chmod(key, 0o000);
  const m = await newManager(t, join(mat.dir, 'storage'));
  const [message] = await configErrors(m.prepare([filesSite('locked', ['good.example.test'], cert, key, 5)]));
  assert.match(message!, /^Caddyfile:6: tls: site locked: cannot read the key file .*: permission denied/);
});

test('a reload with a bad file keeps serving the certificate loaded before', async (t) => {
  const mat = await material(t);
  const [cert, key] = await mat.leaf('good', ['good.example.test']);
  const m = await newManager(t, join(mat.dir, 'storage'));
  const sites = [filesSite('good', ['good.example.test'], cert, key, 1)];
  await m.prepare(sites);
  const before = m.contextFor('good.example.test');
  assert.ok(before);
  await writeFile(cert, 'broken');
  await configErrors(m.prepare(sites));
  assert.equal(m.contextFor('good.example.test'), before);
});
