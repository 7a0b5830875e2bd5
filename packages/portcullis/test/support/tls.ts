/**
 * TLS on loopback for tests: a server that takes its certificates from a CertificateManager
 * the way the HTTPS listener does, a check that a certificate verifies against a root, and
 * the certificate a server serves for a name.
 */
import type { X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tls from 'node:tls';
import type { LoadedCertificate } from '../../src/tls/certificate.ts';
import type { CertificateManager } from '../../src/tls/index.ts';

/**
 * A TLS server on 127.0.0.1 asking `m` for certificates, the way the HTTPS listener does
 * (address context first, then SNI); closed after `t`. Each connection is wrapped in a
 * TLSSocket by hand because tls.Server ignores a `secureContext` option: that is the public
 * way to give clients without SNI the context for the address they reached.
 */
export async function tlsServer(t: TestContext, m: CertificateManager): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
    const byAddress = m.contextForAddress(raw.localAddress ?? '');
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      ...(byAddress ? { secureContext: byAddress } : {}),
      SNICallback: (name, cb) =>
        void Promise.resolve(m.contextFor(name)).then(
          (ctx) => (ctx ? cb(null, ctx) : cb(new Error('no certificate'))),
          (error: Error) => cb(error),
        ),
    });
    socket.once('secure', () => socket.end('ok'));
    socket.on('error', () => raw.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

/** Serves `cert` on loopback and handshakes for `servername` trusting only `ca`; resolves with whether Node verified it. */
export async function verifiedBy(cert: LoadedCertificate, servername: string, ca: string): Promise<boolean> {
  const server = tls.createServer({ cert: cert.chainPem, key: cert.keyPem }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, timeout: 5000 }, () => {
        const ok = socket.authorized;
        socket.destroy();
        resolve(ok);
      });
      socket.on('timeout', () => socket.destroy(new Error('handshake timeout')));
      socket.on('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The certificate a TLS server on 127.0.0.1:`port` serves for `servername`, verified against `ca`; at most 5 s. */
export function servedCertificate(port: number, ca: string, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, timeout: 5000 }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert === undefined) reject(new Error('no certificate'));
      else resolve(cert);
    });
    socket.on('timeout', () => socket.destroy(new Error('handshake timeout')));
    socket.on('error', reject);
  });
}

/**
 * servedCertificate once a certificate obtained in the background is there: retried every
 * 200 ms, 150 times at most; null (with the last error) when it never came.
 */
export async function awaitServedCertificate(port: number, ca: string, servername: string): Promise<{ cert: X509Certificate | null; lastError: string }> {
  let lastError = '';
  for (let i = 0; i < 150; i++) {
    try {
      return { cert: await servedCertificate(port, ca, servername), lastError };
    } catch (error) {
      lastError = (error as Error).message;
      await sleep(200);
    }
  }
  return { cert: null, lastError };
}
