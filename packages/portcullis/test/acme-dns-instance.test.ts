/**
 * DNS-01 through a running Portcullis: a Caddyfile with the global `acme_dns rfc2136 { ... }`
 * and a `*.example.test` site gets a wildcard certificate from pebble, which validates through
 * a real BIND 9 that Portcullis updated with TSIG-signed RFC 2136 messages; the site then
 * serves it for any one-label name, verified against pebble's root, and the challenge record
 * is gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bind9Missing, startBind9, txtAt, type Bind9 } from './support/bind9.ts';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';
import { awaitServedCertificate, servedCertificate } from './support/tls.ts';

const missing = bind9Missing() ?? pebbleMissing();

describe('a wildcard site over DNS-01 in a running instance (pebble + BIND 9)', { skip: missing ?? false }, () => {
  let bind: Bind9;
  let pebble: Pebble;
  let p: Running;
  let httpsPort: number;
  before(async () => {
    bind = await startBind9();
    pebble = await startPebble({ dnsServer: bind.server });
    httpsPort = await freePort();
    p = await startPortcullis(`{
	admin off
	default_bind 127.0.0.1
	http_port ${await freePort()}
	https_port ${httpsPort}
	storage file_system $DIR/data
	acme_ca ${pebble.directoryUrl}
	acme_ca_root ${pebble.caRootFile}
	acme_dns rfc2136 {
		key_name ${bind.key.name}
		key_alg ${bind.key.algorithm}
		key ${bind.key.secret}
		server ${bind.server}
	}
}
*.example.test {
	tls {
		propagation_timeout 20s
	}
	respond "wildcard"
}
`);
  });
  after(async () => {
    await p?.stop();
    await pebble?.stop();
    await bind?.stop();
  });

  test('the wildcard certificate arrives in the background and is served for a.example.test; the TXT record is gone', async () => {
    const root = await pebble.issuingRoot();
    const { cert, lastError } = await awaitServedCertificate(httpsPort, root, 'a.example.test');
    assert.equal(cert?.subjectAltName, 'DNS:*.example.test', `no certificate was served: ${lastError}`);
    assert.equal((await servedCertificate(httpsPort, root, 'other.example.test')).subjectAltName, 'DNS:*.example.test');
    assert.deepEqual(await txtAt(bind.server, '_acme-challenge.example.test'), []);
  });
});
