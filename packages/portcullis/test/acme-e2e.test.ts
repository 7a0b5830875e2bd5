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

describe('ACME through a running instance (pebble)', { skip: missing ?? false }, () => {
  let pebble: Pebble;
  let p: Running;
  let httpsPort: number;
  before(async () => {
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble({ httpPort, tlsPort: httpsPort });
    p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${httpsPort}
	storage file_system $DIR/data
	email ops@shop.example
	acme_ca ${pebble.directoryUrl}
	acme_ca_root ${pebble.caRootFile}
}
shop.example {
	respond "shop over ACME"
}
`);
  });
  after(async () => {
    await p?.stop();
    await pebble?.stop();
  });

  test('the certificate is ordered, validated on our ports, and served', async () => {
    const root = await pebble.issuingRoot();
    let issuer = '';
    let lastError = '';
    // Issuance runs in the background: poll the handshake, bounded to 30 s.
    for (let i = 0; i < 150 && issuer === ''; i++) {
      try {
        issuer = await handshake(httpsPort, root, 'shop.example');
      } catch (error) {
        lastError = (error as Error).message;
        await sleep(200);
      }
    }
    assert.notEqual(issuer, '', `no certificate was served: ${lastError}`);
    assert.match(issuer, /Pebble/i);
  });
});
