/**
 * pebble whose validation asks a DNS server of the test's choosing (`-dnsserver`), here BIND
 * (support/bind9.ts), so DNS-01 is checked against the records Portcullis really published.
 * pebble.ts starts pebble with pebble-challtestsrv as its DNS instead; this one has no
 * challtestsrv, so HTTP-01 and TLS-ALPN-01 names would not resolve: DNS-01 only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launch } from './peers.ts';
import { freePort, type Pebble } from './pebble.ts';

function get(url: string, ca: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: new Agent({ ca }), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Starts pebble validating through `dnsServer` (`127.0.0.1:port`); resolves once its directory answers (at most 10 s). */
export async function startPebbleWithDns(dnsServer: string): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pebble-dns-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const openssl = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=pebble test listener',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (openssl.status !== 0) throw new Error(`openssl failed: ${openssl.stderr.toString()}`);
  const [acmePort, managementPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: certFile,
        privateKey: keyFile,
        // Nothing answers there: only DNS-01 can pass.
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const peer = await launch({
    name: 'pebble',
    dir,
    command: 'pebble',
    args: ['-config', join(dir, 'pebble.json'), '-dnsserver', dnsServer],
    // Deterministic runs: no validation delay, no rejected nonces, every order re-validated.
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    ports: [acmePort, managementPort],
    logFiles: [],
  });
  const ca = readFileSync(certFile, 'utf8');
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  for (let i = 0; ; i++) {
    if (await get(directoryUrl, ca, 1000).then((r) => r.status === 200, () => false)) break;
    if (i >= 100) {
      const log = peer.log();
      await peer.stop();
      throw new Error(`pebble's directory did not answer:\n${log}`);
    }
    await sleep(100);
  }
  return {
    directoryUrl,
    caRootFile: certFile,
    async issuingRoot() {
      const res = await get(`https://127.0.0.1:${managementPort}/roots/0`, ca, 5000);
      if (res.status !== 200) throw new Error(`pebble /roots/0 answered ${res.status}`);
      return res.body;
    },
    stop: () => peer.stop(),
  };
}
