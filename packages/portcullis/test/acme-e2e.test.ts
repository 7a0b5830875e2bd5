/**
 * ACME end to end through a running Portcullis: a real pebble validates the HTTP-01 answer on
 * Portcullis's HTTP port (and TLS-ALPN-01 on its HTTPS port as the fallback), the certificate
 * arrives in the background, and the site then serves it, verified against pebble's root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';

const missing = pebbleMissing();

function handshake(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca }, () => {
      const issuer = socket.getPeerX509Certificate()?.issuer ?? '';
      socket.destroy();
      resolve(issuer);
    });
    socket.on('error', reject);
  });
}

/** The issuer of the certificate served for `name`, once issuance (in the background) is done; bounded to 30 s. */
async function servedIssuer(port: number, pebble: Pebble, name: string): Promise<{ issuer: string; lastError: string }> {
  const root = await pebble.issuingRoot();
  let lastError = '';
  for (let i = 0; i < 150; i++) {
    try {
      return { issuer: await handshake(port, root, name), lastError };
    } catch (error) {
      lastError = (error as Error).message;
      await sleep(200);
    }
  }
  return { issuer: '', lastError };
}

/** A Portcullis on pebble's validation ports, one site `name`, extra global lines. */
function startAcmeSite(pebble: Pebble, ports: { http: number; https: number }, email: string, name: string, globalLines = ''): Promise<Running> {
  return startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	http_port ${ports.http}
	https_port ${ports.https}
	storage file_system $DIR/data
	email ${email}
	acme_ca ${pebble.directoryUrl}
	acme_ca_root ${pebble.caRootFile}
${globalLines}}
${name} {
	respond "${name} over ACME"
}
`);
}

describe('ACME through a running instance (pebble)', { skip: missing ?? false }, () => {
  let pebble: Pebble;
  let p: Running;
  let httpsPort: number;
  before(async () => {
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble({ httpPort, tlsPort: httpsPort });
    p = await startAcmeSite(pebble, { http: httpPort, https: httpsPort }, 'ops@shop.example', 'shop.example');
  });
  after(async () => {
    await p?.stop();
    await pebble?.stop();
  });

  test('the certificate is ordered, validated on our ports, and served', async () => {
    const { issuer, lastError } = await servedIssuer(httpsPort, pebble, 'shop.example');
    assert.notEqual(issuer, '', `no certificate was served: ${lastError}`);
    assert.match(issuer, /Pebble/i);
  });
});

describe('ACME with external account binding through a running instance (pebble requiring EAB)', { skip: missing ?? false }, () => {
  const KEY_ID = 'portcullis-e2e';
  // base64url, as CAs hand them out; pebble checks the account's binding with it.
  const MAC_KEY = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';
  let pebble: Pebble;
  let p: Running;
  let httpsPort: number;
  before(async () => {
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble({ httpPort, tlsPort: httpsPort, eabKeys: { [KEY_ID]: MAC_KEY } });
    p = await startAcmeSite(pebble, { http: httpPort, https: httpsPort }, 'ops@bound.example', 'bound.example', `\tacme_eab {\n\t\tkey_id ${KEY_ID}\n\t\tmac_key ${MAC_KEY}\n\t}\n`);
  });
  after(async () => {
    await p?.stop();
    await pebble?.stop();
  });

  test('the global acme_eab reaches the CA: the account is bound, the certificate served', async () => {
    const { issuer, lastError } = await servedIssuer(httpsPort, pebble, 'bound.example');
    assert.notEqual(issuer, '', `no certificate was served (pebble refuses accounts without the binding): ${lastError}`);
    assert.match(issuer, /Pebble/i);
  });
});
