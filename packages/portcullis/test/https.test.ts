/**
 * HTTPS end to end: a `localhost` site gets a certificate from the internal CA, serves HTTP/2
 * and HTTP/1.1 on one port, redirects plain HTTP, refuses unknown SNI names with a handshake
 * failure, and a restart reuses the stored certificate.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { freePort, startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

function peerFingerprint(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      cert ? resolve(cert.fingerprint256) : reject(new Error('no certificate'));
    });
    socket.on('error', reject);
  });
}

function h2Get(port: number, ca: string, path: string): Promise<{ status: number; body: string; alpn: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { ca, servername: 'localhost' });
    session.on('error', reject);
    const stream = session.request({ ':path': path, ':authority': `localhost:${port}` });
    let body = '';
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('end', () => {
      const alpn = (session.socket as unknown as { alpnProtocol: string }).alpnProtocol;
      session.close();
      resolve({ status, body, alpn });
    });
    stream.on('error', reject);
    stream.end();
  });
}

describe('HTTPS with the internal CA', () => {
  let p: Running;
  let up: Upstream;
  let httpPort: number;
  let httpsPort: number;
  let ca: string;
  let config: string;
  before(async () => {
    up = await startUpstream();
    httpPort = await freePort();
    httpsPort = await freePort();
    config = `
{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${httpsPort}
	storage file_system $DIR/data
}
localhost {
	handle /api/* {
		reverse_proxy 127.0.0.1:${up.port}
	}
	respond "secure {scheme}"
}
`;
    p = await startPortcullis(config);
    ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
  });
  after(async () => {
    await p.stop();
    await up.close();
  });

  test('HTTP/1.1 over TLS, verified against the internal root', async () => {
    const dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
    const res = await request(`https://127.0.0.1:${httpsPort}/`, { dispatcher, headers: { host: `localhost:${httpsPort}` } });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'secure https');
    await dispatcher.close();
  });

  test('HTTP/2 by ALPN on the same port, and reverse_proxy under it sends Host, not pseudo-headers', async () => {
    const page = await h2Get(httpsPort, ca, '/');
    assert.equal(page.alpn, 'h2');
    assert.deepEqual([page.status, page.body], [200, 'secure https']);
    const api = await h2Get(httpsPort, ca, '/api/thing?x=1');
    assert.equal(api.status, 200);
    const seen = JSON.parse(api.body);
    assert.equal(seen.url, '/api/thing?x=1');
    assert.equal(seen.headers.host, `localhost:${httpsPort}`);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    // The client's address read from the HTTP/2 session's socket.
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.ok(!Object.keys(seen.headers).some((name: string) => name.startsWith(':')));
  });

  test('plain HTTP is redirected to HTTPS with the same URI (308)', async () => {
    const res = await request(`http://127.0.0.1:${httpPort}/some/path?q=1`, { headers: { host: 'localhost' } });
    assert.equal(res.statusCode, 308);
    assert.equal(res.headers.location, `https://localhost:${httpsPort}/some/path?q=1`);
    await res.body.dump();
  });

  test('an SNI name with no certificate fails the handshake instead of showing another certificate', async () => {
    await assert.rejects(peerFingerprint(httpsPort, ca, 'unknown.example'));
  });

  test('a restart reuses the stored certificate', async (t) => {
    const before = await peerFingerprint(httpsPort, ca, 'localhost');
    await p.instance.stop();
    const firstDir = p.dir;
    p = await startPortcullis(config.replaceAll('$DIR/data', `${firstDir}/data`));
    t.after(() => rmSync(firstDir, { recursive: true, force: true }));
    const again = await peerFingerprint(httpsPort, ca, 'localhost');
    assert.equal(again, before);
    const cert = new X509Certificate(readFileSync((await p.instance.certificateAuthority())!, 'utf8'));
    assert.match(cert.subject, /Portcullis/);
  });
});

describe('HTTPS for an IP address site', () => {
  test('a client that sends no SNI gets the certificate for the address it connected to', async () => {
    const httpsPort = await freePort();
    const p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	https_port ${httpsPort}
	auto_https disable_redirects
	storage file_system $DIR/data
}
127.0.0.1 {
	respond "by address"
}
`);
    try {
      const ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
      // undici sends no SNI for an IP address, as browsers do.
      const dispatcher = new Agent({ connect: { ca } });
      const res = await request(`https://127.0.0.1:${httpsPort}/`, { dispatcher });
      assert.equal(await res.body.text(), 'by address');
      await dispatcher.close();
    } finally {
      await p.stop();
    }
  });
});

describe('tls protocols on the live listener', () => {
  test('a site limited to TLS 1.3 refuses a TLS 1.2 client; other sites on the port still accept it', async () => {
    const httpsPort = await freePort();
    const p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	https_port ${httpsPort}
	auto_https disable_redirects
	storage file_system $DIR/data
}
modern.localhost {
	tls internal {
		protocols tls1.3
	}
	respond "modern"
}
plain.localhost {
	respond "plain"
}
`);
    try {
      const ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
      const get = async (name: string, maxVersion: 'TLSv1.2' | 'TLSv1.3') => {
        const dispatcher = new Agent({ connect: { ca, servername: name, maxVersion } });
        try {
          const res = await request(`https://127.0.0.1:${httpsPort}/`, { dispatcher, headers: { host: name } });
          return await res.body.text();
        } finally {
          await dispatcher.destroy();
        }
      };
      assert.equal(await get('modern.localhost', 'TLSv1.3'), 'modern');
      await assert.rejects(get('modern.localhost', 'TLSv1.2'));
      assert.equal(await get('plain.localhost', 'TLSv1.2'), 'plain');
    } finally {
      await p.stop();
    }
  });
});
