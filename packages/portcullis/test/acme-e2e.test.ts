/**
 * ACME end to end through a running Portcullis: a real pebble validates the HTTP-01 answer on
 * Portcullis's HTTP port (and TLS-ALPN-01 on its HTTPS port as the fallback), the certificate
 * arrives in the background, and the site then serves it, verified against pebble's root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { awaitServedCertificate } from './support/tls.ts';
import { pebbleMissing, startPebble, type Pebble, type PebbleOptions } from './support/pebble.ts';

const missing = pebbleMissing();

/** The issuer of the certificate served for `name`, once issuance (in the background) is done; bounded to 30 s. */
async function servedIssuer(port: number, pebble: Pebble, name: string): Promise<{ issuer: string; lastError: string }> {
  const { cert, lastError } = await awaitServedCertificate(port, await pebble.issuingRoot(), name);
  return { issuer: cert?.issuer ?? '', lastError };
}

interface AcmeSite {
  pebble: Pebble;
  p: Running;
  httpsPort: number;
}

/** pebble validating on two fresh ports, and a Portcullis answering there: one site `name`, extra global lines. */
async function startAcmeSite(pebbleOptions: Omit<PebbleOptions, 'httpPort' | 'tlsPort'>, email: string, name: string, globalLines = ''): Promise<AcmeSite> {
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const pebble = await startPebble({ ...pebbleOptions, httpPort, tlsPort: httpsPort });
  try {
    const p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${httpsPort}
	storage file_system $DIR/data
	email ${email}
	acme_ca ${pebble.directoryUrl}
	acme_ca_root ${pebble.caRootFile}
${globalLines}}
${name} {
	respond "${name} over ACME"
}
`);
    return { pebble, p, httpsPort };
  } catch (error) {
    await pebble.stop();
    throw error;
  }
}

describe('ACME through a running instance (pebble)', { skip: missing ?? false }, () => {
  let site: AcmeSite;
  before(async () => {
    site = await startAcmeSite({}, 'ops@shop.example', 'shop.example');
  });
  after(async () => {
    await site?.p.stop();
    await site?.pebble.stop();
  });

  test('the certificate is ordered, validated on our ports, and served', async () => {
    const { issuer, lastError } = await servedIssuer(site.httpsPort, site.pebble, 'shop.example');
    assert.notEqual(issuer, '', `no certificate was served: ${lastError}`);
    assert.match(issuer, /Pebble/i);
  });
});

describe('ACME with external account binding through a running instance (pebble requiring EAB)', { skip: missing ?? false }, () => {
  const KEY_ID = 'portcullis-e2e';
  // base64url, as CAs hand them out; pebble checks the account's binding with it.
  const MAC_KEY = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';
  let site: AcmeSite;
  before(async () => {
    site = await startAcmeSite({ eabKeys: { [KEY_ID]: MAC_KEY } }, 'ops@bound.example', 'bound.example', `\tacme_eab {\n\t\tkey_id ${KEY_ID}\n\t\tmac_key ${MAC_KEY}\n\t}\n`);
  });
  after(async () => {
    await site?.p.stop();
    await site?.pebble.stop();
  });

  test('the global acme_eab reaches the CA: the account is bound, the certificate served', async () => {
    const { issuer, lastError } = await servedIssuer(site.httpsPort, site.pebble, 'bound.example');
    assert.notEqual(issuer, '', `no certificate was served (pebble refuses accounts without the binding): ${lastError}`);
    assert.match(issuer, /Pebble/i);
  });
});
