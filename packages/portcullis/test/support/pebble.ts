/**
 * A real ACME server for tests: Debian's `pebble`, all on loopback ports, a fresh TLS
 * certificate for pebble's own listener, PEBBLE_VA_NOSLEEP=1, stopped by PID. Its validation
 * asks `pebble-challtestsrv` (every name resolves to 127.0.0.1), or a DNS server the test
 * names (`dnsServer`, e.g. BIND from bind9.ts, so DNS-01 is checked against the records
 * Portcullis really published). `pebbleMissing()` says why tests must skip.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'node:https';
import type { AcmeConnection } from '../../src/tls/acme/acme-client.ts';
import { launch, type Peer } from './peers.ts';
import { freePort } from './instance.ts';

export interface Pebble {
  directoryUrl: string;
  /** PEM file of the certificate pebble's own HTTPS listener presents (the `acme_ca_root`). */
  caRootFile: string;
  /** Pebble's issuing root for the certificates it signs (GET /roots/0 on the management API). */
  issuingRoot(): Promise<string>;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /**
   * Where pebble's validation connects for HTTP-01 and TLS-ALPN-01 (on 127.0.0.1). Absent: a
   * port free at start where nothing answers, so that challenge cannot pass.
   */
  httpPort?: number;
  tlsPort?: number;
  /**
   * External account binding MAC keys (base64url) by key id: pebble then refuses every new
   * account without a valid binding (`externalAccountBindingRequired`). Absent: no EAB.
   */
  eabKeys?: Record<string, string>;
  /**
   * The DNS server (`127.0.0.1:port`) pebble's validation asks (`-dnsserver`) instead of a
   * pebble-challtestsrv started here. Names then resolve only as that server says: HTTP-01
   * and TLS-ALPN-01 would not find 127.0.0.1, so use it for DNS-01.
   */
  dnsServer?: string;
}

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

/** Why pebble-based tests cannot run here, or null when they can. */
export function pebbleMissing(): string | null {
  for (const binary of ['pebble', 'pebble-challtestsrv', 'openssl']) {
    if (!onPath(binary)) return `${binary} is not installed (apt-get install pebble openssl; scripts/install-peers.sh)`;
  }
  return null;
}

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

/** The environment pebble and challtestsrv run with. */
const ENV = {
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C',
  // Deterministic runs: no validation delay, no rejected nonces, every order re-validated.
  PEBBLE_VA_NOSLEEP: '1',
  PEBBLE_WFE_NONCEREJECT: '0',
  PEBBLE_AUTHZREUSE: '0',
};

/**
 * Starts pebble (and challtestsrv unless `options.dnsServer` is given); resolves once pebble's
 * directory answers (at most about 10 s), else stops what it started and throws with the output.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-pebble-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const openssl = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=pebble test listener',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (openssl.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`openssl failed: ${openssl.stderr.toString()}`);
  }
  const [acmePort, managementPort] = [await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: certFile,
      privateKey: keyFile,
      httpPort: options.httpPort ?? (await freePort()),
      tlsPort: options.tlsPort ?? (await freePort()),
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eabKeys !== undefined,
      ...(options.eabKeys === undefined ? {} : { externalAccountMACKeys: options.eabKeys }),
    },
  };
  await writeFile(join(dir, 'pebble.json'), JSON.stringify(config));
  // Stopped in the reverse order of starting (pebble before its DNS); `dir` goes last.
  const peers: Peer[] = [];
  const stop = async () => {
    for (const peer of [...peers].reverse()) await peer.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let dnsServer = options.dnsServer;
    if (dnsServer === undefined) {
      const [dnsPort, challManagementPort] = [await freePort(), await freePort()];
      dnsServer = `127.0.0.1:${dnsPort}`;
      peers.push(
        await launch({
          name: 'pebble-challtestsrv',
          dir,
          command: 'pebble-challtestsrv',
          args: [
            '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
            '-dns01', dnsServer, '-management', `127.0.0.1:${challManagementPort}`,
            '-http01', '', '-https01', '', '-tlsalpn01', '',
          ],
          env: ENV,
          ports: [challManagementPort],
          logFiles: [],
          keepDir: true,
        }),
      );
    }
    peers.push(
      await launch({
        name: 'pebble',
        dir,
        command: 'pebble',
        args: ['-config', join(dir, 'pebble.json'), '-dnsserver', dnsServer],
        env: ENV,
        ports: [acmePort, managementPort],
        logFiles: [],
        keepDir: true,
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const ca = await readFile(certFile, 'utf8');
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  for (let i = 0; ; i++) {
    if (await get(directoryUrl, ca, 1000).then((r) => r.status === 200, () => false)) break;
    if (i >= 100) {
      const output = peers.map((peer) => peer.log()).join('\n');
      await stop();
      throw new Error(`pebble's directory did not answer:\n${output}`);
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
    stop,
  };
}

/** How a test's ACME client reaches `pebble`: its directory, its listener's certificate trusted, fast polls. */
export async function pebbleConnection(pebble: Pebble, signal: AbortSignal): Promise<AcmeConnection> {
  return {
    directoryUrl: pebble.directoryUrl,
    caRootPem: await readFile(pebble.caRootFile, 'utf8'),
    requestTimeoutMs: 5000,
    pollMinMs: 100,
    pollMaxMs: 500,
    signal,
  };
}
