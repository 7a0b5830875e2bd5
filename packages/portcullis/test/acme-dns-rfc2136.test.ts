/**
 * The rfc2136 DNS provider and the DNS-01 solver against a real BIND 9: TSIG-signed updates
 * add and delete TXT records that a node:dns resolver then sees (or no longer sees), with
 * every TSIG algorithm `key_alg` accepts; a wrong secret, an unknown key, a zone the key may
 * not update and a name outside the server's zones are refused with errors that name the
 * server, zone, record and key, and never the secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { PortcullisError } from '../src/kernel/errors.ts';
import { createDns01Solver, type Dns01Settings } from '../src/tls/acme/dns-01.ts';
import { createRfc2136Client, type Rfc2136Client } from '../src/tls/acme/dns-rfc2136.ts';
import { bind9Missing, freeDnsPort, startBind9, txtAt, type Bind9, type Bind9Key } from './support/bind9.ts';

const missing = bind9Missing();

function clientWith(bind: Bind9, key: Bind9Key): Rfc2136Client {
  return createRfc2136Client({ server: { host: '127.0.0.1', port: bind.port }, key: { name: key.name, algorithm: key.algorithm, secret: Buffer.from(key.secret, 'base64') }, timeoutMs: 5000 });
}

function settingsFor(bind: Bind9, extra: Partial<Dns01Settings> = {}): Dns01Settings {
  return {
    provider: 'rfc2136',
    server: bind.server,
    keyName: bind.key.name,
    keyAlgorithm: bind.key.algorithm,
    keySecret: bind.key.secret,
    propagationDelayMs: 0,
    propagationTimeoutMs: 10_000,
    resolvers: [],
    ttlSeconds: 120,
    overrideDomain: null,
    ...extra,
  };
}

/** The rejection of `promise`, which must be a PortcullisError; its message must not hold `secret`. */
async function refusal(promise: Promise<unknown>, secret: string): Promise<string> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof PortcullisError, String(error));
  assert.ok(!error.message.includes(secret), 'the key secret is never in a message');
  return error.message;
}

describe('RFC 2136 updates signed with TSIG (BIND 9)', { skip: missing ?? false }, () => {
  let bind: Bind9;
  before(async () => {
    bind = await startBind9();
  });
  after(async () => {
    await bind?.stop();
  });

  test('the zone is found by asking the server for the SOA, from the apex and from a name that does not exist', async () => {
    const client = clientWith(bind, bind.key);
    assert.equal(await client.findZone('example.test'), 'example.test');
    assert.equal(await client.findZone('_acme-challenge.deep.a.example.test.'), 'example.test');
    assert.equal(await client.findZone('_acme-challenge.LOCKED.test'), 'locked.test');
  });

  test('a TXT record is added and deleted, as node:dns sees it; other TXT values at the name stay', async () => {
    const client = clientWith(bind, bind.key);
    const name = '_acme-challenge.app.example.test';
    await client.addTxt('example.test', name, 'first-value', 120);
    await client.addTxt('example.test', name, 'second-value', 60);
    assert.deepEqual((await txtAt(bind.server, name)).sort(), ['first-value', 'second-value']);
    await client.deleteTxt('example.test', name, 'first-value');
    assert.deepEqual(await txtAt(bind.server, name), ['second-value']);
    await client.deleteTxt('example.test', name, 'second-value');
    assert.deepEqual(await txtAt(bind.server, name), []);
  });

  test('every key_alg works: hmac-sha512, hmac-sha1 and hmac-md5 (with its long algorithm name)', async () => {
    for (const key of bind.algorithmKeys) {
      const client = clientWith(bind, key);
      const name = `_acme-challenge.${key.algorithm}.example.test`;
      await client.addTxt('example.test', name, `signed-with-${key.algorithm}`, 60);
      assert.deepEqual(await txtAt(bind.server, name), [`signed-with-${key.algorithm}`], key.algorithm);
      await client.deleteTxt('example.test', name, `signed-with-${key.algorithm}`);
      assert.deepEqual(await txtAt(bind.server, name), [], key.algorithm);
    }
  });

  test('a wrong secret is refused (BADSIG), naming the server, zone, record and key, never the secret', async () => {
    const wrong: Bind9Key = { ...bind.key, secret: bind.otherKey.secret };
    const message = await refusal(clientWith(bind, wrong).addTxt('example.test', '_acme-challenge.x.example.test', 'v', 60), wrong.secret);
    assert.equal(
      message,
      `the DNS server ${bind.server} (zone example.test, key "portcullis-key") refused the TSIG signature when asked to add TXT _acme-challenge.x.example.test: BADSIG: the signature does not verify; the key secret or algorithm differs from the server's`,
    );
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.x.example.test'), []);
  });

  test('a key the server does not know is refused (BADKEY); so is the right secret under another algorithm', async () => {
    const unknown: Bind9Key = { ...bind.key, name: 'nobody-key' };
    assert.match(await refusal(clientWith(bind, unknown).addTxt('example.test', '_acme-challenge.x.example.test', 'v', 60), unknown.secret), /key "nobody-key"\) refused the TSIG signature .*BADKEY/);
    const otherAlgorithm: Bind9Key = { ...bind.key, algorithm: 'hmac-sha512' };
    assert.match(await refusal(clientWith(bind, otherAlgorithm).addTxt('example.test', '_acme-challenge.x.example.test', 'v', 60), otherAlgorithm.secret), /refused the TSIG signature .*BAD(KEY|SIG)/);
  });

  test('a zone the key may not update is refused (REFUSED), and nothing changes there', async () => {
    const message = await refusal(clientWith(bind, bind.key).addTxt('locked.test', '_acme-challenge.locked.test', 'v', 60), bind.key.secret);
    assert.equal(
      message,
      `the DNS server ${bind.server} (zone locked.test, key "portcullis-key") refused to add TXT _acme-challenge.locked.test (REFUSED: the zone's allow-update or update-policy does not let this key change that record)`,
    );
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.locked.test'), []);
    // The key that may update example.test may not reach into locked.test by naming it as the zone either.
    assert.match(await refusal(clientWith(bind, bind.otherKey).addTxt('example.test', '_acme-challenge.y.example.test', 'v', 60), bind.otherKey.secret), /key "other-key"\) refused to add TXT _acme-challenge\.y\.example\.test \(REFUSED/);
  });

  test('a name outside every zone of the server, and a server that does not answer, are clear errors', async () => {
    const client = clientWith(bind, bind.key);
    assert.equal(
      await refusal(client.findZone('_acme-challenge.elsewhere.example'), bind.key.secret),
      `the DNS server ${bind.server} is not authoritative for any zone that holds _acme-challenge.elsewhere.example (its last answer: REFUSED); point server at the primary of that zone`,
    );
    const port = await freeDnsPort();
    const nobody = createRfc2136Client({ server: { host: '127.0.0.1', port }, key: { name: 'k', algorithm: 'hmac-sha256', secret: Buffer.alloc(32) }, timeoutMs: 2000 });
    assert.match(await refusal(nobody.findZone('example.test'), 'unused'), new RegExp(`^the DNS server 127\\.0\\.0\\.1:${port} could not be reached to look up the zone of example\\.test: .*ECONNREFUSED`));
  });
});

describe('the DNS-01 solver (BIND 9)', { skip: missing ?? false }, () => {
  let bind: Bind9;
  const log = pino({ level: 'silent' });
  before(async () => {
    bind = await startBind9();
  });
  after(async () => {
    await bind?.stop();
  });

  test('present publishes _acme-challenge.<domain>, waits until the server shows it, and the returned function removes it', async () => {
    const solver = createDns01Solver(settingsFor(bind, { propagationDelayMs: 50 }), { log, pollMs: 100 });
    const started = Date.now();
    const remove = await solver.present('shop.example.test', 'digest-one');
    assert.ok(Date.now() - started >= 50, 'propagation_delay is waited out');
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.shop.example.test'), ['digest-one']);
    await remove();
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.shop.example.test'), []);
  });

  test('dns_challenge_override_domain puts the record under the delegated name instead', async () => {
    const solver = createDns01Solver(settingsFor(bind, { overrideDomain: 'acme.example.test' }), { log, pollMs: 100 });
    const remove = await solver.present('www.customer.example', 'digest-two');
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.acme.example.test'), ['digest-two']);
    await remove();
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.acme.example.test'), []);
  });

  test('a record the resolvers never show times out with a clear error, and is removed', async () => {
    const silent = `127.0.0.1:${await freeDnsPort()}`;
    const solver = createDns01Solver(settingsFor(bind, { propagationTimeoutMs: 600, resolvers: [silent] }), { log, pollMs: 100, timeoutMs: 200 });
    const message = await refusal(solver.present('late.example.test', 'digest-three'), bind.key.secret);
    assert.match(message, new RegExp(`^the TXT record _acme-challenge\\.late\\.example\\.test \\(zone example\\.test\\) was added on ${bind.server.replaceAll('.', '\\.')} but ${silent.replaceAll('.', '\\.')} did not show it within 0\\.6 s`));
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.late.example.test'), [], 'removed after the failure');
  });

  test('propagation_timeout -1 skips the check', async () => {
    const silent = `127.0.0.1:${await freeDnsPort()}`;
    const solver = createDns01Solver(settingsFor(bind, { propagationTimeoutMs: -1, resolvers: [silent] }), { log });
    const remove = await solver.present('quick.example.test', 'digest-four');
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.quick.example.test'), ['digest-four']);
    await remove();
  });

  test('an update the server refuses fails present with that refusal and leaves nothing behind', async () => {
    const solver = createDns01Solver(settingsFor(bind, { keySecret: bind.otherKey.secret }), { log });
    assert.match(await refusal(solver.present('refused.example.test', 'digest-five'), bind.otherKey.secret), /BADSIG/);
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.refused.example.test'), []);
  });
});
