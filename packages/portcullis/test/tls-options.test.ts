/**
 * `tls { protocols; ciphers; curves; alpn }`: the adapter's checks (unknown values are errors
 * with file:line), and the per-name SecureContext the certificate manager hands out, used as a
 * connection's starting context the way a listener uses it: a tls1.3-only name refuses a
 * TLS 1.2 client, curves and TLS 1.2 ciphers restrict what is negotiated.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, TLSSocket, type ConnectionOptions, type SecureContext } from 'node:tls';
import { adaptCaddyfileText } from '../src/config/load.ts';
import type { TlsConfig } from '../src/config/types.ts';
import { systemClock } from '../src/kernel/clock.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import { createCertificateManager, type CertificateManager } from '../src/tls/index.ts';

function adapt(block: string): TlsConfig | null {
  const config = adaptCaddyfileText(`localhost {\n\ttls internal {\n${block}\n\t}\n\trespond "x"\n}\n`, 'Caddyfile');
  return config.sites[0]!.tls;
}

function adaptError(text: string): string {
  try {
    adaptCaddyfileText(text, 'Caddyfile');
  } catch (error) {
    return String((error as Error).message);
  }
  assert.fail('expected a config error');
}

describe('tls block options: adapter', () => {
  test('protocols, ciphers, curves and alpn are read', () => {
    const tls = adapt('\t\tprotocols tls1.2 tls1.3\n\t\tciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n\t\talpn h2 http/1.1');
    assert.deepEqual(tls?.protocols, { min: 'tls1.2', max: 'tls1.3' });
    assert.deepEqual(tls?.ciphers, ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']);
    assert.deepEqual(tls?.alpn, ['h2', 'http/1.1']);
    assert.deepEqual(adapt('\t\tprotocols tls1.3')?.protocols, { min: 'tls1.3', max: 'tls1.3' });
  });

  test('unknown values are errors with file:line', () => {
    const site = (line: string) => `localhost {\n\ttls {\n\t\t${line}\n\t}\n}\n`;
    assert.match(adaptError(site('protocols tls1.1')), /Caddyfile:3.*unknown protocol "tls1.1"/);
    assert.match(adaptError(site('protocols tls1.3 tls1.2')), /Caddyfile:3.*minimum tls1.3 is above the maximum tls1.2/);
    assert.match(adaptError(site('ciphers TLS_RSA_WITH_3DES_EDE_CBC_SHA')), /Caddyfile:3.*ciphers: unknown value/);
    assert.match(adaptError(site('curves x448')), /Caddyfile:3.*curves: unknown value "x448"/);
    assert.match(adaptError(site('curves x25519')), /Caddyfile:3.*curves is not supported yet/);
    assert.match(adaptError(site('alpn spdy/3')), /Caddyfile:3.*alpn: unknown value/);
    assert.match(adaptError(site('on_demand extra')), /Caddyfile:3/);
    assert.match(adaptError('localhost {\n\ttls a.pem b.pem {\n\t\ton_demand\n\t}\n}\n'), /Caddyfile:3.*on_demand cannot be used with a certificate and key file/);
  });

  test('on_demand_tls: ask is required and must be an http(s) URL; interval and burst are accepted', () => {
    assert.match(adaptError('{\n\ton_demand_tls {\n\t\tinterval 2m\n\t}\n}\n'), /Caddyfile:2.*on_demand_tls needs ask <url>/);
    assert.match(adaptError('{\n\ton_demand_tls {\n\t\task ftp://x/\n\t}\n}\n'), /Caddyfile:3.*is not an http:\/\/ or https:\/\/ URL/);
    const config = adaptCaddyfileText('{\n\ton_demand_tls {\n\t\task http://127.0.0.1:9/ok\n\t\tinterval 2m\n\t\tburst 5\n\t}\n}\n', 'Caddyfile');
    assert.deepEqual(config.tls.onDemand, { ask: 'http://127.0.0.1:9/ok', source: { file: 'Caddyfile', line: 2 } });
    const permission = adaptCaddyfileText('{\n\ton_demand_tls {\n\t\tpermission http {\n\t\t\tendpoint https://ask.example/\n\t\t}\n\t}\n}\n', 'Caddyfile');
    assert.equal(permission.tls.onDemand?.ask, 'https://ask.example/');
  });
});

interface Handshake {
  protocol?: string | null;
  cipher?: string;
  group?: string;
  error?: string;
}

describe('tls block options: per-name contexts', () => {
  let dir: string;
  let manager: CertificateManager;
  let server: Server;
  let port: number;
  /** The name whose context the next connection starts with, as a listener that reads SNI first would. */
  let current: SecureContext | null = null;

  const site = (name: string, block: string) => {
    const config = adaptCaddyfileText(`${name} {\n\ttls internal {\n${block}\n\t}\n\trespond "x"\n}\n`, 'Caddyfile');
    const s = config.sites[0]!;
    return { name: s.name, source: s.source, hosts: [name], tls: s.tls };
  };

  const handshake = async (name: string, client: ConnectionOptions): Promise<Handshake> => {
    current = (await manager.contextFor(name)) ?? null;
    assert.ok(current, `no context for ${name}`);
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername: name, rejectUnauthorized: false, ...client });
      socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
      socket.on('secureConnect', () => {
        const info = socket.getEphemeralKeyInfo() as { name?: string } | null;
        resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name, ...(info?.name ? { group: info.name } : {}) });
        socket.destroy();
      });
      socket.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-options-'));
    manager = await createCertificateManager({ storage: dir, global: { storage: dir, localCerts: false }, logger: silentLogger(), clock: systemClock });
    await manager.prepare([
      site('modern.localhost', '\t\tprotocols tls1.3'),
      site('old.localhost', '\t\tprotocols tls1.2 tls1.2\n\t\tciphers TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'),
      site('plain.localhost', ''),
    ]);
    server = createServer((raw) => {
      const tls = new TLSSocket(raw, { isServer: true, secureContext: current! });
      tls.on('error', () => tls.destroy());
      tls.on('secure', () => tls.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(async () => {
    server?.close();
    await manager?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('protocols tls1.3: a TLS 1.2 client fails, a TLS 1.3 client works', async () => {
    const old = await handshake('modern.localhost', { maxVersion: 'TLSv1.2' });
    assert.ok(old.error !== undefined, JSON.stringify(old));
    assert.equal((await handshake('modern.localhost', {})).protocol, 'TLSv1.3');
    // A name without settings still speaks TLS 1.2.
    assert.equal((await handshake('plain.localhost', { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
  });

  test('security: the settings the listener enforces after the handshake are found for an SNI in any spelling (a trailing dot, upper case)', () => {
    for (const name of ['modern.localhost', 'modern.localhost.', 'MODERN.Localhost']) assert.deepEqual(manager.tlsSettingsFor(name), { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }, name);
    assert.equal(manager.tlsSettingsFor('plain.localhost.'), null);
    assert.equal(manager.tlsSettingsFor('not a name'), null);
  });

  test('protocols tls1.2 tls1.2 with ciphers: TLS 1.2 and the listed suite only', async () => {
    const r = await handshake('old.localhost', {});
    assert.equal(r.protocol, 'TLSv1.2');
    assert.equal(r.cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305');
    const other = await handshake('old.localhost', { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    assert.ok(other.error !== undefined, JSON.stringify(other));
  });

});
