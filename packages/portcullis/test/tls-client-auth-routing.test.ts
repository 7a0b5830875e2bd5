/**
 * Security regressions: the client-certificate policy a handshake asks for and a request is
 * checked against is the one of the site the name routes to, never the one of whatever
 * certificate happens to serve the name. A client_auth site whose own certificate is missing
 * (pending, failed) is served by a wildcard, default_sni or fallback_sni certificate; a request
 * checked against that certificate's site (no client_auth) walked past the client check.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect as connectH2 } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { systemClock } from '../src/kernel/clock.ts';
import { ConfigErrors } from '../src/kernel/errors.ts';
import { createRootCertificate, generateKeyPair } from '../src/tls/sign-certificates.ts';
import { createCertificateManager, type CertificateManager, type TlsSite } from '../src/tls/index.ts';
import { freePort, startPortcullis } from './support/instance.ts';

const DAY = 24 * 60 * 60 * 1000;

async function clientCaFile(dir: string): Promise<string> {
  const keys = await generateKeyPair();
  const validity = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) };
  const caPem = await createRootCertificate(keys, 'clients CA', validity);
  const file = join(dir, 'clients-ca.pem');
  await writeFile(file, caPem);
  return file;
}

async function manager(t: TestContext): Promise<{ m: CertificateManager; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-client-auth-'));
  const m = await createCertificateManager({ storage: dir, global: { storage: null, localCerts: false }, logger: pino({ level: 'silent' }), clock: systemClock });
  t.after(async () => {
    await m.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { m, dir };
}

function site(name: string, hosts: string[], clientAuthCa: string | null): TlsSite {
  const source = { file: 'Caddyfile', line: 1 };
  return {
    name,
    source,
    hosts,
    tls: { mode: 'internal', source, ...(clientAuthCa === null ? {} : { clientAuth: { mode: 'require_and_verify' as const, trustedCaFiles: [clientAuthCa], source } }) },
  };
}

describe('client_auth follows the routed site, not the serving certificate', () => {
  test('security: the policy of a name is its own site\'s, in any spelling, and no other site\'s', async (t) => {
    const { m, dir } = await manager(t);
    const ca = await clientCaFile(dir);
    await m.prepare([site('wild', ['*.example.test'], null), site('admin', ['admin.example.test'], ca), site('open', ['open.example.test'], null)]);
    assert.ok(m.clientAuthFor('admin.example.test'), 'the client_auth site asks');
    // Any spelling that routes to it (case, trailing dot) asks too.
    assert.ok(m.clientAuthFor('ADMIN.example.test'));
    assert.ok(m.clientAuthFor('admin.example.test.'));
    assert.equal(m.clientAuthFor('open.example.test'), null, 'an exact site without client_auth');
    assert.equal(m.clientAuthFor('other.example.test'), null, 'a name only the wildcard site serves');
  });

  test('security: a wildcard site with client_auth covers its one-label names, not names with sites of their own', async (t) => {
    const { m, dir } = await manager(t);
    const ca = await clientCaFile(dir);
    await m.prepare([site('wild', ['*.example.test'], ca), site('open', ['open.example.test'], null)]);
    assert.ok(m.clientAuthFor('a.example.test'));
    assert.equal(m.clientAuthFor('open.example.test'), null);
    assert.equal(m.clientAuthFor('a.b.example.test'), null, 'a wildcard covers one label');
  });

  test('security: an IPv6 client_auth site is found from the bracketed Host a request carries', async (t) => {
    const { m, dir } = await manager(t);
    const ca = await clientCaFile(dir);
    await m.prepare([site('v6', ['2001:db8::1'], ca), site('v4', ['192.0.2.1'], null)]);
    assert.ok(m.clientAuthFor('[2001:db8::1]'));
    assert.ok(m.clientAuthFor('[2001:DB8:0::1]'), 'any spelling of the address');
    assert.ok(m.clientAuthFor('2001:db8::1'), 'SNI-style, unbracketed');
    assert.equal(m.clientAuthFor('192.0.2.1'), null);
  });

  test('security: client_auth on a site without host names is refused at load (it would never ask)', async (t) => {
    const { m, dir } = await manager(t);
    const ca = await clientCaFile(dir);
    await assert.rejects(m.prepare([site('any', [], ca)]), (error: unknown) => {
      assert.ok(error instanceof ConfigErrors);
      assert.match(error.errors.map((e) => e.describe()).join('\n'), /Caddyfile:1: .*client_auth needs a site with host names/);
      return true;
    });
  });

  test('security: client_auth on a site served over plain HTTP is refused at load with its line (it would serve everyone)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-client-auth-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const ca = await clientCaFile(dir);
    const port = await freePort();
    const tlsBlock = `tls {\n\t\tclient_auth {\n\t\t\tmode require_and_verify\n\t\t\ttrusted_ca_cert_file ${ca}\n\t\t}\n\t}`;
    const configs = [
      `{\n\tadmin off\n\tdefault_bind 127.0.0.1\n}\nhttp://admin.localhost:${port} {\n\t${tlsBlock}\n\trespond "SECRET"\n}\n`,
      `{\n\tadmin off\n\tdefault_bind 127.0.0.1\n\tauto_https off\n}\nadmin.localhost:${port} {\n\t${tlsBlock}\n\trespond "SECRET"\n}\n`,
    ];
    for (const [i, config] of configs.entries()) {
      // The client_auth line: 7, or 8 below the auto_https line.
      const line = 7 + i;
      const outcome = await startPortcullis(config).catch((error: unknown) => error);
      if (!(outcome instanceof ConfigErrors)) {
        // Started after all: stopped here, so the failure is reported instead of a hung run.
        if (outcome !== null && typeof outcome === 'object' && 'stop' in outcome) await (outcome as { stop(): Promise<void> }).stop();
        assert.fail(`expected a config error, got ${outcome instanceof Error ? outcome.message : 'a running instance serving the site over plain HTTP'}`);
      }
      assert.match(outcome.errors.map((e) => e.describe()).join('\n'), new RegExp(`Portcullisfile:${line}: .*client_auth cannot protect site address .*served over plain HTTP`));
    }
  });
});

describe('client_auth through a running instance', () => {
  test('security: a client_auth site whose certificate is pending, served by fallback_sni\'s, still asks for and checks a client certificate', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-client-auth-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const ca = await clientCaFile(dir);
    const httpPort = await freePort();
    const httpsPort = await freePort();
    const deadPort = await freePort();
    const p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${httpsPort}
	storage file_system $DIR/data
	# Nothing listens there: the ACME certificate of admin.example.test stays pending.
	acme_ca https://127.0.0.1:${deadPort}/directory
	fallback_sni public.localhost
}
public.localhost {
	tls internal
	respond "public"
}
admin.example.test {
	tls {
		client_auth {
			mode require_and_verify
			trusted_ca_cert_file ${ca}
		}
	}
	respond "admin"
}
`);
    t.after(() => p.stop());
    const get = (name: string) =>
      new Promise<{ status?: number; body?: string; error?: string; san?: string }>((resolve) => {
        // The client takes whatever certificate comes (fallback_sni's) and sends none of its own.
        const req = request({ host: '127.0.0.1', port: httpsPort, servername: name, headers: { host: name }, rejectUnauthorized: false, agent: false, timeout: 5000 }, (res) => {
          const san = (res.socket as TLSSocket).getPeerX509Certificate()?.subjectAltName;
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body, ...(san === undefined ? {} : { san }) }));
        });
        req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
        req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
        req.end();
      });
    // The premise: the instance serves, and fallback_sni's certificate is what unknown names get.
    assert.deepEqual(await get('public.localhost'), { status: 200, body: 'public', san: 'DNS:public.localhost' });
    const outcome = await get('admin.example.test');
    assert.notEqual(outcome.body, 'admin', `the client_auth site answered a client without a certificate: ${JSON.stringify(outcome)}`);
    assert.ok(outcome.error === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || outcome.status === 421, `refused in the handshake (certificate required) or with 421, got ${JSON.stringify(outcome)}`);
  });

  test('security: a request routed to a wildcard client_auth site meets its policy, whatever Host first label, port or path sent it there (h1 and h2)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-client-auth-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const ca = await clientCaFile(dir);
    const [httpPort, httpsPort, otherPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const p = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
	http_port ${httpPort}
	https_port ${httpsPort}
	storage file_system $DIR/data
}
www.localhost {
	tls internal
	respond "public"
}
a.corp.internal:${otherPort} {
	tls internal
	respond "a on its own port"
}
b.corp.internal/public* {
	tls internal
	respond "b public"
}
*.corp.internal {
	tls {
		client_auth {
			mode require_and_verify
			trusted_ca_cert_file ${ca}
		}
	}
	respond "SECRET"
}
`);
    t.after(() => p.stop());
    const h1 = (servername: string, host: string, path = '/') =>
      new Promise<string>((resolve) => {
        const req = request({ host: '127.0.0.1', port: httpsPort, path, servername, headers: { host }, rejectUnauthorized: false, agent: false, timeout: 5000 }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        });
        req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
        req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
        req.end();
      });
    const h2 = (servername: string, authority: string) =>
      new Promise<string>((resolve) => {
        const session = connectH2(`https://127.0.0.1:${httpsPort}`, { servername, rejectUnauthorized: false });
        session.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
        const stream = session.request({ ':path': '/', ':authority': authority });
        let status = 0;
        let body = '';
        stream.setTimeout(5000, () => stream.close());
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (d: Buffer) => (body += d.toString()));
        stream.on('close', () => {
          session.close();
          resolve(`${status} ${body}`);
        });
        stream.end();
      });
    // The premise: the wildcard site's own names ask for a certificate in the handshake.
    assert.match(await h1('c.corp.internal', 'c.corp.internal'), /^error ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$/);
    assert.equal(await h1('www.localhost', 'www.localhost'), '200 public');
    assert.equal(await h1('b.corp.internal', 'b.corp.internal', '/public/x'), '200 b public');
    // Handshake for another site, then a Host the router sends to the wildcard site but no
    // certificate lookup reads as a name; a name whose exact site is on another port; a path
    // outside the exact site's prefix.
    const attempts = [
      await h1('www.localhost', 'x!.corp.internal'),
      await h1('www.localhost', '*.corp.internal'),
      await h1('www.localhost', 'a%2e.corp.internal'),
      await h1('a.corp.internal', 'a.corp.internal'),
      await h1('b.corp.internal', 'b.corp.internal', '/admin'),
      await h2('www.localhost', 'x!.corp.internal'),
      await h2('a.corp.internal', 'a.corp.internal'),
    ];
    for (const outcome of attempts) assert.match(outcome, /^421 /, `refused, not served: ${outcome}`);
  });
});
