/**
 * `tls { client_auth }`: mutual TLS per site. A `require_and_verify` site refuses clients with
 * no certificate or one from another CA and admits one from its CA; a site on the same port
 * without client_auth never asks for a certificate; verify_if_given, require and request
 * behave as in Caddy. Plus a regression test of the Node private API the listener uses.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, createSecureContext, createServer, type TLSSocket } from 'node:tls';
import { createLeafCertificate, createRootCertificate, generateKeyPair, privateKeyToPem } from '../src/tls/sign-certificates.ts';
import { admittedBy, requestClientCertificate } from '../src/proxy/tls-client-auth.ts';
import { freePort, startPortcullis, type Running } from './support/instance.ts';

interface Identity {
  caPem: string;
  cert: string;
  key: string;
}

const DAY = 24 * 60 * 60 * 1000;

/** A CA and one client certificate it signed. */
async function makeIdentity(name: string): Promise<Identity> {
  const validity = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) };
  const caKeys = await generateKeyPair();
  const caPem = await createRootCertificate(caKeys, `${name} CA`, validity);
  const leafKeys = await generateKeyPair();
  const cert = await createLeafCertificate(leafKeys.publicKey, [`${name}.client.test`], { certPem: caPem, key: caKeys.privateKey }, validity);
  return { caPem, cert, key: privateKeyToPem(leafKeys.privateKey) };
}

interface Outcome {
  status?: number;
  body?: string;
  error?: string;
}

/** One GET over HTTPS/1.1 to 127.0.0.1 with `servername` as SNI and Host; never throws. */
function get(port: number, ca: string, servername: string, client?: Identity): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername,
        path: '/',
        headers: { host: servername },
        ca,
        agent: false,
        timeout: 5000,
        ...(client ? { cert: client.cert, key: client.key } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/** Whether the server sent a TLS CertificateRequest, as openssl s_client -msg reports it; null without openssl. */
function certificateRequested(port: number, servername: string): Promise<boolean | null> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-msg', '-tls1_3'],
      { timeout: 10_000 },
      (error, stdout) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return resolve(null);
        resolve(/CertificateRequest/.test(stdout));
      },
    );
    child.stdin?.end();
  });
}

function hasOpenssl(): Promise<boolean> {
  return new Promise((resolve) => execFile('openssl', ['version'], (error) => resolve(error === null)));
}

describe('client_auth on a real instance', () => {
  let p: Running;
  let port: number;
  let serverCa: string;
  let trusted: Identity;
  let stranger: Identity;
  before(async () => {
    [trusted, stranger] = await Promise.all([makeIdentity('trusted'), makeIdentity('stranger')]);
    const httpPort = await freePort();
    port = await freePort();
    const auth = (mode: string) => `tls internal {
		client_auth {
			mode ${mode}
			trusted_ca_cert_file $DIR/clients-ca.pem
		}
	}`;
    p = await startPortcullis(
      `
{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${port}
	storage file_system $DIR/data
}
localhost {
	${auth('require_and_verify')}
	respond "private"
}
other.localhost {
	respond "public"
}
optional.localhost {
	${auth('verify_if_given')}
	respond "optional"
}
need.localhost {
	${auth('require')}
	respond "need"
}
ask.localhost {
	tls internal {
		client_auth {
			mode request
		}
	}
	respond "ask"
}
`,
      { files: { 'clients-ca.pem': trusted.caPem } },
    );
    serverCa = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
  });
  after(async () => {
    await p?.stop();
  });

  test('require_and_verify: no certificate is refused in the handshake', async () => {
    const out = await get(port, serverCa, 'localhost');
    assert.equal(out.error, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', `got ${JSON.stringify(out)}`);
  });

  test('require_and_verify: a certificate from the configured CA is admitted', async () => {
    assert.deepEqual(await get(port, serverCa, 'localhost', trusted), { status: 200, body: 'private' });
  });

  test('require_and_verify: a certificate from another CA is refused', async () => {
    // TLS 1.3: the client has finished its side when the server verifies and closes.
    const out = await get(port, serverCa, 'localhost', stranger);
    assert.equal(out.status, undefined, `got ${JSON.stringify(out)}`);
    assert.ok(out.error, 'the request fails');
  });

  test('a site without client_auth on the same port serves clients with or without a certificate', async () => {
    assert.deepEqual(await get(port, serverCa, 'other.localhost'), { status: 200, body: 'public' });
    assert.deepEqual(await get(port, serverCa, 'other.localhost', stranger), { status: 200, body: 'public' });
  });

  test('a site without client_auth never sends a CertificateRequest (openssl s_client)', async (t) => {
    if (!(await hasOpenssl())) return t.skip('openssl is not installed');
    assert.equal(await certificateRequested(port, 'other.localhost'), false);
    // The probe itself works: the client_auth site does ask.
    assert.equal(await certificateRequested(port, 'optional.localhost'), true);
  });

  // Regression (Caddy's strict_sni_host): a handshake for a name without client_auth must not
  // carry requests for the client_auth site. Needs the check in front-door.ts onRequest
  // (admittedBy, src/proxy/tls-client-auth.ts); 421 Misdirected Request (RFC 9110 section 15.5.20).
  test('SNI of another site and Host of the client_auth site is refused with 421', async () => {
    const out = await new Promise<Outcome>((resolve) => {
      const req = request({ host: '127.0.0.1', port, servername: 'other.localhost', headers: { host: 'localhost' }, ca: serverCa, agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode! }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      req.end();
    });
    assert.equal(out.status, 421, `got ${JSON.stringify(out)}`);
  });

  test('verify_if_given: none is admitted, a trusted one is admitted, an untrusted one is refused', async () => {
    assert.deepEqual(await get(port, serverCa, 'optional.localhost'), { status: 200, body: 'optional' });
    assert.deepEqual(await get(port, serverCa, 'optional.localhost', trusted), { status: 200, body: 'optional' });
    assert.equal((await get(port, serverCa, 'optional.localhost', stranger)).status, undefined);
  });

  test('require: none is refused, any certificate is admitted (not verified)', async () => {
    assert.equal((await get(port, serverCa, 'need.localhost')).error, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    assert.deepEqual(await get(port, serverCa, 'need.localhost', stranger), { status: 200, body: 'need' });
  });

  test('request: asks, but admits clients with or without a certificate', async () => {
    assert.deepEqual(await get(port, serverCa, 'ask.localhost'), { status: 200, body: 'ask' });
    assert.deepEqual(await get(port, serverCa, 'ask.localhost', stranger), { status: 200, body: 'ask' });
  });
});

describe('Node private API', () => {
  // src/proxy/tls-client-auth.ts sets OpenSSL's verify mode from the SNI callback through
  // TLSSocket internals (_handle.setVerifyMode, _requestCert, _rejectUnauthorized). If a Node
  // upgrade changes them, this fails here rather than letting clients in unnoticed.
  test('requestClientCertificate turns client authentication on for one handshake', async () => {
    const [trusted, stranger] = await Promise.all([makeIdentity('trusted'), makeIdentity('stranger')]);
    const serverKeys = await generateKeyPair();
    const validity = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) };
    const caKeys = await generateKeyPair();
    const serverCaPem = await createRootCertificate(caKeys, 'server CA', validity);
    const serverCert = await createLeafCertificate(serverKeys.publicKey, ['localhost'], { certPem: serverCaPem, key: caKeys.privateKey }, validity);
    const serverKey = privateKeyToPem(serverKeys.privateKey);
    const context = createSecureContext({ cert: serverCert, key: serverKey, ca: trusted.caPem });
    const policy = { requireCertificate: true, verifyCertificate: true, id: 'p' };
    const admitted: boolean[] = [];
    const server = createServer(
      {
        SNICallback(this: TLSSocket, _name: string, cb: (error: Error | null, context?: unknown) => void) {
          assert.equal(requestClientCertificate(this, policy), true, 'the private API is there');
          cb(null, context);
        },
      } as never,
      (socket) => {
        admitted.push(admittedBy(socket, policy) && socket.authorized);
        socket.end('ok');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const attempt = (client?: Identity) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: serverCaPem, ...(client ? { cert: client.cert, key: client.key } : {}) });
        let data = '';
        socket.on('data', (d: Buffer) => (data += d.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
        socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
      });
    try {
      assert.equal(await attempt(trusted), 'ok');
      assert.notEqual(await attempt(), 'ok');
      assert.notEqual(await attempt(stranger), 'ok');
      assert.deepEqual(admitted, [true]);
    } finally {
      server.close();
    }
  });
});

describe('client_auth configuration errors', () => {
  test('a missing or non-CA trusted_ca_cert_file fails the start with the client_auth line', async () => {
    const leaf = await makeIdentity('leaf');
    const config = (file: string) => `
{
	admin off
	default_bind 127.0.0.1
	http_port ${0}
	https_port ${0}
	storage file_system $DIR/data
}
localhost {
	tls internal {
		client_auth {
			trusted_ca_cert_file $DIR/${file}
		}
	}
	respond "x"
}
`;
    await assert.rejects(startPortcullis(config('absent.pem')), (error: Error) => {
      assert.match(String(error.message), /Portcullisfile:11: .*client_auth: cannot read the trusted CA certificate file .*absent\.pem: no such file/);
      return true;
    });
    await assert.rejects(startPortcullis(config('leaf.pem'), { files: { 'leaf.pem': leaf.cert } }), (error: Error) => {
      assert.match(String(error.message), /Portcullisfile:11: .*client_auth: trusted_ca_cert_file .*leaf\.pem: the certificate is not a CA certificate/);
      return true;
    });
  });
});
