/**
 * A real ACME server for tests: Debian's `pebble` with `pebble-challtestsrv` as its DNS (every
 * name resolves to 127.0.0.1), all on loopback ports, a fresh TLS certificate for pebble's own
 * listener, PEBBLE_VA_NOSLEEP=1, stopped by PID. `pebbleMissing()` says why tests must skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'node:https';

export interface Pebble {
  directoryUrl: string;
  /** PEM file of the certificate pebble's own HTTPS listener presents (the `acme_ca_root`). */
  caRootFile: string;
  /** Pebble's issuing root for the certificates it signs (GET /roots/0 on the management API). */
  issuingRoot(): Promise<string>;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Where pebble's validation connects for HTTP-01 and TLS-ALPN-01 (on 127.0.0.1). */
  httpPort: number;
  tlsPort: number;
  /**
   * External account binding MAC keys (base64url) by key id: pebble then refuses every new
   * account without a valid binding (`externalAccountBindingRequired`). Absent: no EAB.
   */
  eabKeys?: Record<string, string>;
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

/** A loopback port free at the time of asking (the programs below take fixed ports). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

/** Starts challtestsrv and pebble; resolves once pebble's directory answers (bounded wait). */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-pebble-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const openssl = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=pebble test listener',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (openssl.status !== 0) throw new Error(`openssl failed: ${openssl.stderr.toString()}`);
  const [acmePort, managementPort, dnsPort, challManagementPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: certFile,
      privateKey: keyFile,
      httpPort: options.httpPort,
      tlsPort: options.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eabKeys !== undefined,
      ...(options.eabKeys === undefined ? {} : { externalAccountMACKeys: options.eabKeys }),
    },
  };
  await writeFile(join(dir, 'pebble.json'), JSON.stringify(config));
  const output: string[] = [];
  const capture = (child: ChildProcess) => {
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  };
  const challtestsrv = spawn('pebble-challtestsrv', [
    '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
    '-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${challManagementPort}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  capture(challtestsrv);
  const pebble = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Deterministic runs: no validation delay, no rejected nonces, every order re-validated.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
  });
  capture(pebble);
  const stop = async () => {
    await Promise.all([stopProcess(pebble), stopProcess(challtestsrv)]);
    await rm(dir, { recursive: true, force: true });
  };
  const ca = await readFile(certFile, 'utf8');
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await get(directoryUrl, ca, 1000).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline || pebble.exitCode !== null) {
      await stop();
      throw new Error(`pebble did not start:\n${output.join('')}`);
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
