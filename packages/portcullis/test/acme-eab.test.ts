/**
 * ACME external account binding against a real pebble that requires it
 * (`externalAccountBindingRequired`): the right key id and MAC key get an account and a
 * certificate that verifies against pebble's issuing root; no binding, or a wrong MAC key, is
 * refused by the CA, and the maintainer logs the refusal and retries without crashing; an
 * account stored with a binding is reused on the next start, and each binding has its own.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { systemClock } from '../src/kernel/clock.ts';
import type { Logger } from '../src/kernel/logger.ts';
import type { AcmeEab } from '../src/tls/acme/acme-client.ts';
import { createAcmeIssuer, type AcmeIssuer } from '../src/tls/acme/acme-issuer.ts';
import { createAcmeMaintainer } from '../src/tls/acme/acme-maintainer.ts';
import { acmePaths } from '../src/tls/acme/ca-storage.ts';
import { createChallengeStore, type ChallengeStore } from '../src/tls/acme/challenge-store.ts';
import { freePort } from './support/instance.ts';
import { pebbleConnection, pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';
import { verifiedBy } from './support/tls.ts';
import { recordingLogger } from './support/recording-logger.ts';

interface LogLine {
  level: number;
  msg: string;
  host?: string;
  error?: string;
}

const missing = pebbleMissing();
// Pebble's own example keys (docs/pebble-config-external-account-bindings.json), 48 bytes each.
const KEYS: Record<string, string> = {
  'kid-1': 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W',
  'kid-2': 'b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH',
};
const RIGHT: AcmeEab = { keyId: 'kid-1', macKey: KEYS['kid-1']! };
const SITE: AcmeEab = { keyId: 'kid-2', macKey: KEYS['kid-2']! };
// A well-formed key the CA did not issue for kid-1.
const WRONG: AcmeEab = { keyId: 'kid-1', macKey: KEYS['kid-2']! };

async function tempStorage(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-eab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('ACME external account binding (pebble requiring EAB)', { skip: missing ?? false }, () => {
  let store: ChallengeStore;
  let httpServer: HttpServer;
  let pebble: Pebble;
  let issuingRoot = '';
  const shutdown = new AbortController();

  before(async () => {
    store = createChallengeStore();
    // HTTP-01 answers, as the HTTP listener gives them before routing.
    httpServer = createHttpServer((req, res) => {
      const answer = store.httpAnswer(req.headers.host ?? '', req.url ?? '');
      if (answer === null) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const httpPort = (httpServer.address() as { port: number }).port;
    pebble = await startPebble({ httpPort, tlsPort: await freePort(), eabKeys: KEYS });
    issuingRoot = await pebble.issuingRoot();
  });

  after(async () => {
    shutdown.abort();
    await pebble?.stop();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  const issuer = async (storage: string, log: Logger, eab: AcmeEab | null): Promise<AcmeIssuer> => {
    return createAcmeIssuer({
      storage,
      clock: systemClock,
      log,
      store,
      eab,
      connection: await pebbleConnection(pebble, shutdown.signal),
    });
  };

  test('the global binding gets an account and a certificate Node trusts with pebble root', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log, lines } = recordingLogger<LogLine>('info');
    const acme = await issuer(storage, log, RIGHT);
    const cert = await acme.obtain('eab.example.com', 'ops@example.com', ['http-01'], null);
    assert.equal(await verifiedBy(cert, 'eab.example.com', issuingRoot), true);
    const account = acmePaths(storage, pebble.directoryUrl, 'ops@example.com', 'kid-1').accountKey;
    assert.match(account, /users\/ops@example\.com\/eab-kid-1-[0-9a-f]{12}\/account\.key$/);
    assert.equal((await stat(account)).mode & 0o777, 0o600);
    const key = await readFile(account, 'utf8');

    // The next start reuses the stored account (the CA answers a known key with its account).
    const created = () => lines.filter((l) => l.msg === 'created an ACME account key').length;
    assert.equal(created(), 1);
    const again = await issuer(storage, log, RIGHT);
    const renewed = await again.obtain('eab.example.com', 'ops@example.com', ['http-01'], cert);
    assert.notEqual(renewed.fingerprint, cert.fingerprint);
    assert.equal(await verifiedBy(renewed, 'eab.example.com', issuingRoot), true);
    assert.equal(created(), 1);
    assert.equal(await readFile(account, 'utf8'), key);
  });

  test("a site's own binding is used instead of the issuer's", async (t) => {
    const storage = await tempStorage(t);
    const { logger: log } = recordingLogger('info');
    // The issuer's binding is wrong; the site's (given to obtain) is right, so it must be the one sent.
    const acme = await issuer(storage, log, WRONG);
    const cert = await acme.obtain('site-eab.example.com', undefined, ['http-01'], null, SITE);
    assert.equal(await verifiedBy(cert, 'site-eab.example.com', issuingRoot), true);
    // Its account is its own, not one a key bound to another binding would be answered with.
    await stat(acmePaths(storage, pebble.directoryUrl, undefined, 'kid-2').accountKey);
    await assert.rejects(stat(acmePaths(storage, pebble.directoryUrl, undefined).accountKey), { code: 'ENOENT' });
  });

  test('two bindings under one email are two accounts, each reused', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log } = recordingLogger('info');
    const acme = await issuer(storage, log, RIGHT);
    await acme.obtain('one.example.com', 'ops@example.com', ['http-01'], null);
    await acme.obtain('two.example.com', 'ops@example.com', ['http-01'], null, SITE);
    const one = await readFile(acmePaths(storage, pebble.directoryUrl, 'ops@example.com', 'kid-1').accountKey, 'utf8');
    const two = await readFile(acmePaths(storage, pebble.directoryUrl, 'ops@example.com', 'kid-2').accountKey, 'utf8');
    assert.notEqual(one, two);
  });

  test('without a binding the CA refuses the account, and the error says so', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log } = recordingLogger('info');
    const acme = await issuer(storage, log, null);
    await assert.rejects(acme.obtain('no-eab.example.com', undefined, ['http-01'], null), (error: Error) => {
      assert.match(error.message, /^the ACME CA https:\/\/127\.0\.0\.1:\d+\/dir refused the account registration \(without external account binding\): /);
      assert.match(error.message, /\): .*requires newAccount requests must include .*externalAccountBinding/); // pebble's own detail
      return true;
    });
    assert.equal(await acme.stored('no-eab.example.com'), null);
  });

  test('a wrong MAC key is refused too, naming the key id but never the key', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log } = recordingLogger('info');
    const acme = await issuer(storage, log, WRONG);
    await assert.rejects(acme.obtain('wrong-eab.example.com', undefined, ['http-01'], null), (error: Error) => {
      assert.match(error.message, /refused the account registration \(with external account binding key id "kid-1"\): /);
      assert.match(error.message, /\): .*JWS verification/); // pebble's own detail
      assert.ok(!error.message.includes(WRONG.macKey) && !error.message.includes(RIGHT.macKey));
      return true;
    });
  });

  test('the maintainer logs the refusal, keeps serving nothing and retries; a fixed binding on reload gets the certificate', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log, lines } = recordingLogger<LogLine>('info');
    const acme = await issuer(storage, log, null);
    let changes = 0;
    const maintainer = createAcmeMaintainer({
      issuer: acme,
      clock: systemClock,
      log,
      challenges: ['http-01'],
      renewalTime: (cert) => cert.notAfter,
      retryFirstMs: 100,
      retryMaxMs: 200,
      onChange: () => changes++,
    });
    t.after(() => maintainer.close());
    await maintainer.want([{ host: 'maintained.example.com', email: undefined }]);
    const deadline = Date.now() + 20_000;
    const failures = () => lines.filter((l) => l.msg === 'obtaining a certificate from the ACME CA failed; will retry');
    while (failures().length < 2 && Date.now() < deadline) await sleep(50);
    assert.ok(failures().length >= 2, 'the refusal is logged and retried');
    assert.match(failures()[0]!.error ?? '', /refused the account registration \(without external account binding\)/);
    assert.equal(failures()[0]!.host, 'maintained.example.com');
    assert.equal([...maintainer.served()].length, 0);

    // The site's binding arrives (a reload): the changed want replaces the job and the order succeeds.
    await maintainer.want([{ host: 'maintained.example.com', email: undefined, eab: RIGHT }]);
    while (changes === 0 && Date.now() < deadline) await sleep(50);
    const served = [...maintainer.served()];
    assert.equal(served.length, 1);
    assert.equal(await verifiedBy(served[0]![1].cert, 'maintained.example.com', issuingRoot), true);
  });
});
