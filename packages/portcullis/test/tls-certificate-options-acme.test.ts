/**
 * A site's ACME settings against a real ACME server (Debian's pebble): `tls { ca; ca_root;
 * key_type }` with no global `acme_ca` or `acme_ca_root`, and the global `cert_lifetime`. The
 * certificate served over TLS must come from pebble (its chain verifies against pebble's
 * issuing root), carry an RSA 2048 key, and live the requested 10 hours (pebble honours the
 * order's notAfter). Each setting, if ignored, fails this: Let's Encrypt is not reachable from
 * here, pebble's HTTPS is trusted only through ca_root, and pebble's default lifetime is years.
 */
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../src/kernel/clock.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import { createCertificateManager, type CertificateManager } from '../src/tls/index.ts';
import { freePort } from './support/instance.ts';
import { pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';

const missing = pebbleMissing();
const HOUR = 3600_000;

describe('per-site ACME CA, key type and lifetime with pebble', { skip: missing ?? false }, () => {
  let current: CertificateManager | null = null;
  let httpServer: HttpServer;
  let tlsServer: net.Server;
  let tlsPort = 0;
  let pebble: Pebble;
  let issuingRoot = '';
  let storage = '';

  before(async () => {
    storage = await mkdtemp(join(tmpdir(), 'portcullis-cert-options-acme-'));
    // HTTP-01: what the HTTP listener does before routing.
    httpServer = createHttpServer((req, res) => {
      const answer = current?.httpChallenge(req.headers.host ?? '', req.url ?? '') ?? null;
      if (answer === null) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    });
    // The served certificate, chosen by SNI as the HTTPS listener does.
    tlsServer = net.createServer((raw) => {
      const socket = new tls.TLSSocket(raw, {
        isServer: true,
        SNICallback: (name, cb) => void Promise.resolve(current?.contextFor(name) ?? null).then((ctx) => (ctx ? cb(null, ctx) : cb(new Error('no certificate')))),
      });
      socket.once('secure', () => socket.end());
      socket.on('error', () => raw.destroy());
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    tlsPort = (tlsServer.address() as net.AddressInfo).port;
    pebble = await startPebble({ httpPort: (httpServer.address() as net.AddressInfo).port, tlsPort: await freePort() });
    issuingRoot = await pebble.issuingRoot();
  });

  after(async () => {
    await current?.close();
    await pebble?.stop();
    httpServer?.closeAllConnections();
    await Promise.all([new Promise((resolve) => httpServer?.close(resolve)), new Promise((resolve) => tlsServer?.close(resolve))]);
    await rm(storage, { recursive: true, force: true });
  });

  test('tls { ca; ca_root; key_type rsa2048 } and cert_lifetime 10h: the served certificate is pebble\'s, RSA 2048, 10 hours', async () => {
    const host = 'options.example.org';
    current = await createCertificateManager({
      storage,
      // No acme_ca and no acme_ca_root: only the site's own settings lead to pebble.
      global: { storage: null, localCerts: false, certLifetimeMs: 10 * HOUR },
      logger: silentLogger(),
      clock: systemClock,
      acmeChallenges: ['http-01'],
      acme: { pollMinMs: 100, pollMaxMs: 500, retryFirstMs: 300, retryMaxMs: 2000, requestTimeoutMs: 5000 },
    });
    await current.prepare([
      {
        name: host,
        source: { file: 'Caddyfile', line: 1 },
        hosts: [host],
        tls: { mode: 'acme', ca: pebble.directoryUrl, caRoot: pebble.caRootFile, keyType: 'rsa2048', source: { file: 'Caddyfile', line: 2 } },
      },
    ]);
    const deadline = Date.now() + 20_000;
    while (current.contextFor(host) === null && Date.now() < deadline) await sleep(50);
    assert.ok(current.contextFor(host), 'pebble issued the certificate');

    const leaf = await new Promise<{ authorized: boolean; cert: X509Certificate }>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: host, ca: issuingRoot, timeout: 5000 }, () => {
        const cert = socket.getPeerX509Certificate();
        const authorized = socket.authorized;
        socket.destroy();
        if (cert === undefined) reject(new Error('no certificate'));
        else resolve({ authorized, cert });
      });
      socket.on('timeout', () => socket.destroy(new Error('handshake timeout')));
      socket.on('error', reject);
    });
    assert.equal(leaf.authorized, true, 'verifies against pebble\'s issuing root');
    assert.equal(leaf.cert.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(leaf.cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    const requested = 10 * HOUR;
    const notAfterFromNow = leaf.cert.validToDate.getTime() - Date.now();
    // notAfter was asked as issue time + 10h (whole seconds); issuance took seconds at most.
    assert.ok(notAfterFromNow <= requested && notAfterFromNow > requested - 60_000, `notAfter is ${notAfterFromNow} ms away`);
  });
});
