/**
 * ACME certificates from a real ACME server (Debian's pebble): HTTP-01 answered by a node:http
 * server asking manager.httpChallenge, TLS-ALPN-01 by a node:tls server routing `acme-tls/1`
 * handshakes to manager.alpnChallengeContext (as the listeners will), chains verified against
 * pebble's issuing root, restart reuse, renewal past two thirds, and a CA that is down.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tls from 'node:tls';
import { after, before, describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { GlobalTlsOptions } from '../src/config/types.ts';
import { ManualClock, systemClock, type Clock } from '../src/kernel/clock.ts';
import { ConfigErrors } from '../src/kernel/errors.ts';
import { createCertificateManager, type CertificateManager, type ChallengeType, type TlsSite } from '../src/tls/index.ts';
import { freePort } from './support/instance.ts';
import { pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';

interface LogLine {
  level: number;
  msg: string;
  host?: string;
  challenge?: string;
  retryInMs?: number;
}

const missing = pebbleMissing();
const FAST = { pollMinMs: 100, pollMaxMs: 500, retryFirstMs: 300, retryMaxMs: 2000, requestTimeoutMs: 5000 };

async function tempStorage(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-acme-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function site(host: string, email?: string): TlsSite {
  return {
    name: host,
    source: { file: 'Caddyfile', line: 3 },
    hosts: [host],
    tls: email ? { mode: 'acme', email, source: { file: 'Caddyfile', line: 4 } } : null,
  };
}

async function until<T>(what: string, probe: () => T | null | Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A TLS handshake for `servername`, trusting only `ca`; resolves with the leaf's fingerprint. */
function handshake(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, timeout: 5000 }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.on('timeout', () => socket.destroy(new Error('handshake timeout')));
    socket.on('error', reject);
  });
}

describe('ACME with pebble', { skip: missing ?? false }, () => {
  /** The manager the challenge servers ask; each test installs its own. */
  let current: CertificateManager | null = null;
  let httpServer: HttpServer;
  let tlsServer: tls.Server;
  let httpPort = 0;
  let tlsPort = 0;
  let pebble: Pebble;
  let issuingRoot = '';
  const challengeContext = Symbol('acme-tls/1 context');

  before(async () => {
    // HTTP-01: what the HTTP listener does before routing.
    httpServer = createHttpServer((req, res) => {
      const answer = current?.httpChallenge(req.headers.host ?? '', req.url ?? '') ?? null;
      if (answer === null) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    });
    // TLS-ALPN-01: Node calls ALPNCallback before SNICallback, both with the socket as `this`.
    tlsServer = tls.createServer(
      {
        ALPNCallback(this: tls.TLSSocket, { servername, protocols }: { servername: string; protocols: string[] }) {
          if (protocols.includes('acme-tls/1')) {
            const context = current?.alpnChallengeContext(servername) ?? null;
            if (context === null) return undefined;
            (this as unknown as Record<symbol, tls.SecureContext>)[challengeContext] = context;
            return 'acme-tls/1';
          }
          return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
        },
        SNICallback(this: tls.TLSSocket, name: string, cb: (error: Error | null, context?: tls.SecureContext) => void) {
          const challenge = (this as unknown as Record<symbol, tls.SecureContext | undefined>)[challengeContext];
          if (challenge) return cb(null, challenge);
          void Promise.resolve(current?.contextFor(name) ?? null).then((ctx) => (ctx ? cb(null, ctx) : cb(new Error('no certificate'))));
        },
      } as tls.TlsOptions,
      (socket) => {
        // RFC 8737 section 3: a challenge connection carries no application data.
        if (socket.alpnProtocol === 'acme-tls/1') socket.destroy();
        else socket.end('ok');
      },
    );
    tlsServer.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    httpPort = (httpServer.address() as { port: number }).port;
    tlsPort = (tlsServer.address() as { port: number }).port;
    pebble = await startPebble({ httpPort, tlsPort });
    issuingRoot = await pebble.issuingRoot();
  });

  after(async () => {
    await pebble?.stop();
    httpServer?.closeAllConnections();
    await Promise.all([
      new Promise((resolve) => httpServer?.close(resolve)),
      new Promise((resolve) => tlsServer?.close(resolve)),
    ]);
  });

  async function manager(
    t: TestContext,
    storage: string,
    challenges: ChallengeType[],
    options: { clock?: Clock; lines?: LogLine[]; global?: Partial<GlobalTlsOptions> } = {},
  ): Promise<CertificateManager> {
    const lines = options.lines ?? [];
    const m = await createCertificateManager({
      storage,
      global: { storage: null, localCerts: false, acmeCa: pebble.directoryUrl, acmeCaRoot: pebble.caRootFile, ...options.global },
      logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) }),
      clock: options.clock ?? systemClock,
      renewCheckIntervalMs: 50,
      acmeChallenges: challenges,
      acme: FAST,
    });
    t.after(() => m.close());
    current = m;
    return m;
  }

  test('HTTP-01: issued in the background, trusted through pebble\'s root, reused after a restart, renewed past two thirds', async (t) => {
    const storage = await tempStorage(t);
    const clock = new ManualClock(Date.now());
    const host = 'http01.example.org';
    const lines: LogLine[] = [];
    const first = await manager(t, storage, ['http-01'], { clock, lines, global: { email: 'ops@example.org' } });

    const started = Date.now();
    await first.prepare([site(host)]);
    assert.ok(Date.now() - started < 3000, 'prepare does not wait for the CA');
    await until('the certificate', () => first.contextFor(host));
    const fingerprint = await handshake(tlsPort, host, issuingRoot);
    assert.ok(lines.some((l) => l.msg === 'answering an ACME challenge' && l.challenge === 'http-01' && l.host === host));
    assert.equal(lines.filter((l) => l.msg === 'obtained a certificate from the ACME CA').length, 1);

    // Key material is private; the account key is kept per CA and email.
    const caDir = (await readdir(join(storage, 'acme')))[0]!;
    assert.match(caDir, /^127\.0\.0\.1_\d+-dir$/);
    assert.equal((await stat(join(storage, 'acme', caDir, 'users', 'ops@example.org', 'account.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(storage, 'certificates', caDir, host, `${host}.key`))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(storage, 'locks')), [], 'locks are released');
    await first.close();

    // A restart serves the stored certificate at once and orders nothing.
    const restartLines: LogLine[] = [];
    const second = await manager(t, storage, ['http-01'], { clock, lines: restartLines, global: { email: 'ops@example.org' } });
    await second.prepare([site(host)]);
    assert.ok(second.contextFor(host), 'served from storage before any order');
    assert.equal(await handshake(tlsPort, host, issuingRoot), fingerprint);
    await sleep(300);
    assert.equal(restartLines.filter((l) => l.msg === 'obtained a certificate from the ACME CA').length, 0);

    // Past two thirds of the life the maintenance check renews it.
    const leaf = new X509Certificate(await readFile(join(storage, 'certificates', caDir, host, `${host}.crt`), 'utf8'));
    const life = leaf.validToDate.getTime() - leaf.validFromDate.getTime();
    clock.advance(Math.ceil(life * 0.7));
    const renewed = await until('the renewed certificate', async () => {
      const now = await handshake(tlsPort, host, issuingRoot);
      return now === fingerprint ? null : now;
    });
    assert.notEqual(renewed, fingerprint);
    assert.equal(restartLines.filter((l) => l.msg === 'obtained a certificate from the ACME CA').length, 1);
    await sleep(300);
    assert.equal(restartLines.filter((l) => l.msg === 'obtained a certificate from the ACME CA').length, 1, 'one renewal, not a loop');
  });

  test('TLS-ALPN-01: issued through acme-tls/1 handshakes and trusted through pebble\'s root', async (t) => {
    const storage = await tempStorage(t);
    const host = 'alpn.example.org';
    const lines: LogLine[] = [];
    const m = await manager(t, storage, ['tls-alpn-01'], { lines });
    await m.prepare([site(host, 'alpn@example.org')]);
    await until('the certificate', () => m.contextFor(host));
    await handshake(tlsPort, host, issuingRoot);
    assert.ok(lines.some((l) => l.msg === 'answering an ACME challenge' && l.challenge === 'tls-alpn-01' && l.host === host));
    assert.equal(m.alpnChallengeContext(host), null, 'the challenge certificate is withdrawn once validated');
    await readdir(join(storage, 'acme')).then((dirs) =>
      stat(join(storage, 'acme', dirs[0]!, 'users', 'alpn@example.org', 'account.key')),
    );
  });
});

describe('ACME without a CA', () => {
  test('a CA that is down: prepare returns at once, retries back off to the cap, nothing is served', async (t) => {
    const storage = await tempStorage(t);
    const lines: LogLine[] = [];
    const port = await freePort(); // nothing listens there
    const m = await createCertificateManager({
      storage,
      global: { storage: null, localCerts: false, acmeCa: `https://127.0.0.1:${port}/dir` },
      logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) }),
      clock: systemClock,
      acmeChallenges: ['http-01', 'tls-alpn-01'],
      acme: { retryFirstMs: 100, retryMaxMs: 400, requestTimeoutMs: 1000 },
    });
    t.after(() => m.close());
    const started = Date.now();
    await m.prepare([site('down.example.org')]);
    assert.ok(Date.now() - started < 1000, 'prepare does not wait for the CA');
    assert.equal(m.contextFor('down.example.org'), null, 'handshakes fail until a certificate arrives');
    await sleep(2000);
    const retries = lines.filter((l) => l.msg === 'obtaining a certificate from the ACME CA failed; will retry');
    // 100, 200, 400, 400, ... ms between attempts: a handful in 2 s, never a tight loop.
    assert.ok(retries.length >= 3 && retries.length <= 10, `${retries.length} attempts`);
    const delays = retries.map((l) => l.retryInMs!);
    assert.ok(delays[0]! >= 100 && delays[0]! < 120);
    for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= Math.min(delays[i - 1]!, 400) * 0.9);
    assert.ok(delays.every((d) => d <= 400), 'capped');
    const closing = Date.now();
    await m.close();
    assert.ok(Date.now() - closing < 2000, 'close does not wait for the CA');
  });

  test('wildcards need DNS-01: a config error with file:line; no challenges configured means nothing is ordered', async (t) => {
    const storage = await tempStorage(t);
    const lines: LogLine[] = [];
    const m = await createCertificateManager({
      storage,
      global: { storage: null, localCerts: false, acmeCa: 'https://127.0.0.1:9/dir' },
      logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) }),
      clock: systemClock,
    });
    t.after(() => m.close());
    const error = await m.prepare([{ name: '*.example.org', source: { file: 'Caddyfile', line: 7 }, hosts: ['*.example.org'], tls: null }]).catch((e: unknown) => e);
    assert.ok(error instanceof ConfigErrors);
    assert.deepEqual(
      error.errors.map((e) => e.describe()),
      [
        'Caddyfile:7: tls: site *.example.org: an ACME wildcard certificate (*.example.org) needs the DNS challenge (DNS-01), and no DNS provider is configured: ' +
          "add `dns rfc2136 { ... }` to the site's tls block or set the global acme_dns option; or use `tls internal` or `tls <cert> <key>`",
      ],
    );
    // A public name and a local one in one site: the local one from the internal CA at once.
    await m.prepare([{ name: 'mixed', source: { file: 'Caddyfile', line: 9 }, hosts: ['app.example.org', 'localhost'], tls: null }]);
    assert.ok(m.contextFor('localhost'));
    assert.equal(m.contextFor('app.example.org'), null);
    await sleep(100);
    assert.ok(lines.some((l) => /no ACME challenge is answered/.test(l.msg)));
    assert.ok(!lines.some((l) => /ACME CA failed/.test(l.msg)), 'no order was attempted');
  });

  test('httpChallenge answers only well-formed challenge paths', async (t) => {
    const storage = await tempStorage(t);
    const m = await createCertificateManager({
      storage,
      global: { storage: null, localCerts: false },
      logger: pino({ level: 'silent' }),
      clock: systemClock,
    });
    t.after(() => m.close());
    for (const [host, path] of [
      ['example.org', '/.well-known/acme-challenge/'],
      ['example.org', '/.well-known/acme-challenge/../../etc/passwd'],
      ['example.org', '/.well-known/acme-challenge/a%2Fb'],
      ['example.org:80:80', '/.well-known/acme-challenge/abc'],
      ['[::1', '/.well-known/acme-challenge/abc'],
      ['*.example.org', '/.well-known/acme-challenge/abc'],
      ['example.org', '/other'],
    ]) {
      assert.equal(m.httpChallenge(host!, path!), null, `${host} ${path}`);
    }
    assert.equal(m.alpnChallengeContext('example.org'), null);
    assert.equal(m.alpnChallengeContext('*'), null);
  });
});
