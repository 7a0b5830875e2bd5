/**
 * The rfc2136 DNS provider and the DNS-01 solver against a real BIND 9: TSIG-signed updates
 * add and delete TXT records that a node:dns resolver then sees (or no longer sees), with
 * every TSIG algorithm `key_alg` accepts; a wrong secret, an unknown key, a zone the key may
 * not update and a name outside the server's zones are refused with errors that name the
 * server, zone, record and key, and never the secret; an add whose answer does not verify is
 * deleted again. Against small loopback servers: a forged unsigned success is not believed,
 * and an answer trickled byte by byte is read whole.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { PortcullisError } from '../src/kernel/errors.ts';
import { createDns01Solver, type Dns01Settings } from '../src/tls/acme/dns-01.ts';
import { createRfc2136Client, type Rfc2136Client } from '../src/tls/acme/dns-rfc2136.ts';
import { decodeMessage, DnsClass, DnsOpcode, DnsType, encodeMessage, encodeName, type DecodedMessage } from '../src/tls/acme/dns-wire.ts';
import { bind9Missing, freeDnsPort, startBind9, txtAt, type Bind9, type Bind9Key } from './support/bind9.ts';
import { recordingLogger } from './support/recording-logger.ts';

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

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/**
 * A loopback TCP DNS server that answers each request (one per connection) with
 * `answer(request)`, written `piece` bytes at a time with a pause between writes; its port.
 */
async function fakeDnsServer(t: TestContext, answer: (request: DecodedMessage) => Buffer, piece = Infinity): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const chunks: Buffer[] = [];
    socket.on('data', async (chunk: Buffer) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length < 2 || all.length < 2 + all.readUInt16BE(0)) return;
      const body = answer(decodeMessage(all.subarray(2, 2 + all.readUInt16BE(0))));
      const wire = Buffer.concat([u16(body.length), body]);
      for (let at = 0; at < wire.length && !socket.destroyed; at += piece) {
        socket.write(wire.subarray(at, at + piece));
        if (piece < wire.length) await sleep(1);
      }
      socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

describe('DNS answers from loopback servers (no BIND needed)', () => {
  const key = { name: 'portcullis-key', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 3) };

  test('an unsigned NOERROR answer with TSIG error BADSIG and an empty MAC (an on-path forgery) is no success', async (t) => {
    const port = await fakeDnsServer(t, (request) => {
      // What anyone between us and the server can write without the key: NOERROR, and a
      // TSIG record of our key name with error BADSIG and no MAC.
      const time = Buffer.alloc(6);
      time.writeUIntBE(Math.floor(Date.now() / 1000), 0, 6);
      const rdata = Buffer.concat([encodeName('hmac-sha256'), time, u16(300), u16(0), u16(request.id), u16(16), u16(0)]);
      return encodeMessage({
        id: request.id,
        flags: 0x8000 | (DnsOpcode.UPDATE << 11),
        questions: request.questions,
        answers: [],
        authorities: [],
        additionals: [{ name: key.name, type: DnsType.TSIG, class: DnsClass.ANY, ttl: 0, data: rdata }],
      });
    });
    const client = createRfc2136Client({ server: { host: '127.0.0.1', port }, key, timeoutMs: 5000 });
    assert.equal(
      await refusal(client.addTxt('example.test', '_acme-challenge.example.test', 'v', 60), key.secret.toString('base64')),
      `the DNS server 127.0.0.1:${port} (zone example.test, key "portcullis-key") answered the request to add TXT _acme-challenge.example.test, but the server answered with TSIG error BADSIG`,
    );
  });

  test('an answer trickled in 1-byte segments (its length prefix split too) is read whole', async (t) => {
    const soa = Buffer.concat([encodeName('ns1.example.test'), encodeName('hostmaster.example.test'), Buffer.alloc(20, 1)]);
    const port = await fakeDnsServer(
      t,
      (request) =>
        encodeMessage({
          id: request.id,
          flags: 0x8400, // QR, AA, NOERROR
          questions: request.questions,
          answers: [{ name: 'example.test', type: DnsType.SOA, class: DnsClass.IN, ttl: 60, data: soa }],
          authorities: [],
          additionals: [],
        }),
      1,
    );
    const client = createRfc2136Client({ server: { host: '127.0.0.1', port }, key, timeoutMs: 5000 });
    assert.equal(await client.findZone('_acme-challenge.app.example.test'), 'example.test');
  });
});

/**
 * A loopback TCP proxy to `port` that flips a header bit (AD) in the answer to the first
 * UPDATE after the server signed it: the server applied the update, but its answer does not
 * verify. Its `host:port`.
 */
async function tamperingProxy(t: TestContext, port: number): Promise<string> {
  let updates = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    const chunks: Buffer[] = [];
    upstream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length < 2 || all.length < 2 + all.readUInt16BE(0)) return;
      if (((all.readUInt16BE(4) >> 11) & 0xf) === DnsOpcode.UPDATE && updates++ === 0) all[5] = all[5]! ^ 0x20;
      client.end(all);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });
  return `127.0.0.1:${(proxy.address() as { port: number }).port}`;
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

  test('dns_challenge_override_domain is the whole name of the record, as in Caddy (certmagic)', async () => {
    const solver = createDns01Solver(settingsFor(bind, { overrideDomain: 'acme.example.test' }), { log, pollMs: 100 });
    const remove = await solver.present('www.customer.example', 'digest-two');
    assert.deepEqual(await txtAt(bind.server, 'acme.example.test'), ['digest-two']);
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.acme.example.test'), [], 'no _acme-challenge. prefix');
    await remove();
    assert.deepEqual(await txtAt(bind.server, 'acme.example.test'), []);
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
    const { logger: logged, lines } = recordingLogger<{ msg: string; record?: string; error?: string }>('info');
    const solver = createDns01Solver(settingsFor(bind, { keySecret: bind.otherKey.secret }), { log: logged });
    assert.match(await refusal(solver.present('refused.example.test', 'digest-five'), bind.otherKey.secret), /BADSIG/);
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.refused.example.test'), []);
    // The delete sent after any failed add is refused too, and that is logged, not thrown.
    const warned = lines.filter((l) => l.msg === 'removing the ACME DNS challenge record after a failed add failed');
    assert.deepEqual(warned.map((l) => l.record), ['_acme-challenge.refused.example.test']);
    assert.match(warned[0]!.error!, /BADSIG/);
  });

  test('an add the server applied but whose answer does not verify is deleted again, and present fails with the verification error', async (t) => {
    const proxied = await tamperingProxy(t, bind.port);
    const solver = createDns01Solver(settingsFor(bind, { server: proxied }), { log });
    assert.equal(
      await refusal(solver.present('tampered.example.test', 'digest-six'), bind.key.secret),
      `the DNS server ${proxied} (zone example.test, key "portcullis-key") answered the request to add TXT _acme-challenge.tampered.example.test, but the answer's TSIG signature does not verify`,
    );
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.tampered.example.test'), [], 'the applied add was deleted');
  });
});
