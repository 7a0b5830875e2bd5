/**
 * DNS-01 end to end: pebble validates through a real BIND 9 (`-dnsserver`), and Portcullis
 * publishes the challenge record there with RFC 2136 updates signed with TSIG. A Caddyfile
 * with `acme_dns rfc2136 { ... }` and a `*.example.test` site is planned, ordered and issued a
 * wildcard certificate that Node's TLS client trusts for `a.example.test` with pebble's root;
 * the maintainer answers only dns-01 for such a site even where HTTP-01 is enabled; and the
 * challenge records are gone afterwards, whether the order passed or failed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { systemClock } from '../src/kernel/clock.ts';
import type { PortcullisError } from '../src/kernel/errors.ts';
import type { Logger } from '../src/kernel/logger.ts';
import { createAcmeIssuer, type AcmeIssuer } from '../src/tls/acme/acme-issuer.ts';
import { createAcmeMaintainer } from '../src/tls/acme/acme-maintainer.ts';
import { createChallengeStore } from '../src/tls/acme/challenge-store.ts';
import type { Dns01Settings } from '../src/tls/acme/dns-01.ts';
import { planSites, type TlsSite } from '../src/tls/site-plan.ts';
import { bind9Missing, startBind9, txtAt, type Bind9 } from './support/bind9.ts';
import { adaptTestCaddyfile } from './support/config-errors.ts';
import { pebbleConnection, pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';
import { verifiedBy } from './support/tls.ts';
import { recordingLogger } from './support/recording-logger.ts';

interface LogLine {
  level: number;
  msg: string;
  host?: string;
  challenge?: string;
  record?: string;
  error?: string;
}

const missing = bind9Missing() ?? pebbleMissing();

async function tempStorage(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-dns01-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The DNS settings the site planner gives `*.example.test` in a Caddyfile written as for
 * Caddy's rfc2136 module; `tlsLines` are more lines of its tls block.
 */
function plannedDns(bind: Bind9, key = bind.key.secret, tlsLines = ''): Dns01Settings {
  const config = adaptTestCaddyfile(`{
	acme_dns rfc2136 {
		key_name ${bind.key.name}
		key_alg ${bind.key.algorithm}
		key ${key}
		server ${bind.server}
	}
}
*.example.test {
	tls {
		propagation_timeout 20s
		dns_ttl 60s
${tlsLines}	}
	respond "wildcard"
}
`);
  const site = config.sites[0]!;
  const sites: TlsSite[] = [{ name: site.name, source: site.source, hosts: site.addresses.map((a) => a.host), tls: site.tls }];
  const errors: PortcullisError[] = [];
  const plans = planSites(sites, config.tls, errors);
  assert.deepEqual(errors, []);
  assert.equal(plans.length, 1);
  assert.equal(plans[0]!.issuer, 'acme');
  assert.deepEqual(plans[0]!.hosts, ['*.example.test']);
  return plans[0]!.dns!;
}

describe('DNS-01 and wildcard certificates (pebble validating through BIND 9)', { skip: missing ?? false }, () => {
  let bind: Bind9;
  let pebble: Pebble;
  let issuingRoot = '';
  const shutdown = new AbortController();

  before(async () => {
    bind = await startBind9();
    pebble = await startPebble({ dnsServer: bind.server });
    issuingRoot = await pebble.issuingRoot();
  });

  after(async () => {
    shutdown.abort();
    await pebble?.stop();
    await bind?.stop();
  });

  const issuer = async (storage: string, log: Logger): Promise<AcmeIssuer> =>
    createAcmeIssuer({
      storage,
      clock: systemClock,
      log,
      store: createChallengeStore(),
      connection: await pebbleConnection(pebble, shutdown.signal),
    });

  test('a wildcard certificate is issued through DNS-01; Node trusts it for a.example.test; the TXT record is gone', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log, lines } = recordingLogger<LogLine>('info');
    const dns = plannedDns(bind);
    assert.equal(dns.ttlSeconds, 60);
    assert.equal(dns.propagationTimeoutMs, 20_000);
    const acme = await issuer(storage, log);
    const cert = await acme.obtain('*.example.test', undefined, ['dns-01'], null, null, { dns });
    assert.equal(cert.leaf.subjectAltName, 'DNS:*.example.test');
    assert.equal(await verifiedBy(cert, 'a.example.test', issuingRoot), true);
    assert.equal(await verifiedBy(cert, 'b.example.test', issuingRoot), true);
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.example.test'), [], 'the challenge record was removed');
    const added = lines.filter((l) => l.msg === 'added the ACME DNS challenge record');
    const removed = lines.filter((l) => l.msg === 'removed the ACME DNS challenge record');
    assert.deepEqual(added.map((l) => l.record), ['_acme-challenge.example.test']);
    assert.deepEqual(removed.map((l) => l.record), ['_acme-challenge.example.test']);
    assert.ok(lines.some((l) => l.msg === 'answering an ACME challenge' && l.challenge === 'dns-01'));
    // Stored and reused like any other: the next obtain finds it without an order.
    assert.equal((await acme.stored('*.example.test'))?.fingerprint, cert.fingerprint);
  });

  test('the maintainer answers only dns-01 for a site with a DNS provider, although HTTP-01 is enabled', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log, lines } = recordingLogger<LogLine>('info');
    const dns = plannedDns(bind);
    let changes = 0;
    const maintainer = createAcmeMaintainer({
      issuer: await issuer(storage, log),
      clock: systemClock,
      log,
      // What a serving instance enables; pebble could reach neither here.
      challenges: ['http-01', 'tls-alpn-01'],
      renewalTime: (cert) => cert.notAfter,
      retryFirstMs: 60_000,
      retryMaxMs: 60_000,
      onChange: () => changes++,
    });
    t.after(() => maintainer.close());
    await maintainer.want([
      { host: '*.example.test', email: 'ops@example.test', dns },
      { host: 'www.example.test', email: 'ops@example.test', dns },
    ]);
    for (let i = 0; i < 150 && changes < 2; i++) await sleep(200);
    const served = new Map(maintainer.served());
    assert.equal(changes, 2, JSON.stringify(lines.filter((l) => l.level >= 40)));
    assert.equal(await verifiedBy(served.get('*.example.test')!.cert, 'x.example.test', issuingRoot), true);
    assert.equal(await verifiedBy(served.get('www.example.test')!.cert, 'www.example.test', issuingRoot), true);
    const answered = lines.filter((l) => l.msg === 'answering an ACME challenge').map((l) => l.challenge);
    assert.deepEqual(answered, ['dns-01', 'dns-01']);
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.example.test'), []);
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.www.example.test'), []);
  });

  test('dns_challenge_override_domain, as written for Caddy: the record is the CNAME\'s target itself, and the CA follows the CNAME to it', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log, lines } = recordingLogger<LogLine>('info');
    // BIND holds `_acme-challenge.delegated.example.test CNAME acme.example.test`.
    const dns = plannedDns(bind, bind.key.secret, '\t\tdns_challenge_override_domain acme.example.test\n');
    assert.equal(dns.overrideDomain, 'acme.example.test');
    const acme = await issuer(storage, log);
    const cert = await acme.obtain('*.delegated.example.test', undefined, ['dns-01'], null, null, { dns });
    assert.equal(await verifiedBy(cert, 'a.delegated.example.test', issuingRoot), true);
    assert.deepEqual(
      lines.filter((l) => l.msg === 'added the ACME DNS challenge record').map((l) => l.record),
      ['acme.example.test'],
    );
    assert.deepEqual(await txtAt(bind.server, 'acme.example.test'), []);
  });

  test('without the CNAME the CA does not find the delegated record: the order fails and the record is removed', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log, lines } = recordingLogger<LogLine>('info');
    const dns = plannedDns(bind, bind.key.secret, '\t\tdns_challenge_override_domain acme.example.test\n');
    const acme = await issuer(storage, log);
    await assert.rejects(acme.obtain('plain.example.test', undefined, ['dns-01'], null, null, { dns }), (error: Error) => {
      // pebble's own detail: it asked BIND for the name itself, which has no record.
      assert.match(error.message, /TXT records .*_acme-challenge\.plain\.example\.test/);
      return true;
    });
    assert.ok(lines.some((l) => l.msg === 'removed the ACME DNS challenge record' && l.record === 'acme.example.test'));
    assert.deepEqual(await txtAt(bind.server, 'acme.example.test'), []);
    assert.equal(await acme.stored('plain.example.test'), null);
  });

  test('a key the DNS server refuses fails the order with a message naming server, zone, record and key; nothing is left', async (t) => {
    const storage = await tempStorage(t);
    const { logger: log } = recordingLogger('info');
    const dns = plannedDns(bind, bind.otherKey.secret);
    const acme = await issuer(storage, log);
    await assert.rejects(acme.obtain('*.example.test', undefined, ['dns-01'], null, null, { dns }), (error: Error) => {
      assert.equal(
        error.message,
        `the DNS server ${bind.server} (zone example.test, key "portcullis-key") refused the TSIG signature when asked to add TXT _acme-challenge.example.test: BADSIG: the signature does not verify; the key secret or algorithm differs from the server's`,
      );
      assert.ok(!error.message.includes(bind.otherKey.secret));
      return true;
    });
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.example.test'), []);
    assert.equal(await acme.stored('*.example.test'), null);
  });
});
