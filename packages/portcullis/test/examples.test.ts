/** The bundled examples start and serve what the README promises. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { freePort, startPortcullis } from './support/instance.ts';

const EXAMPLES = new URL('../../../examples/', import.meta.url).pathname;

describe('examples/Portcullisfile', () => {
  test('serves the site, the proxied API and the listing', async () => {
    // Same file, ports moved so the test does not collide with a running example.
    const [web, backend, admin] = await Promise.all([freePort(), freePort(), freePort()]);
    const text = readFileSync(`${EXAMPLES}Portcullisfile`, 'utf8')
      .replaceAll('localhost:8080', `localhost:${web}`)
      .replaceAll('localhost:8081', `localhost:${backend}`)
      .replaceAll('localhost:2019', `localhost:${admin}`)
      .replace('output stdout', 'output discard');
    const p = await startPortcullis(text, { env: { EXAMPLE_ROOT: `${EXAMPLES}site` } });
    try {
      const base = `http://127.0.0.1:${web}`;
      const page = await request(`${base}/`, { headers: { host: `localhost:${web}` } });
      assert.equal(page.statusCode, 200);
      assert.match(await page.body.text(), /Portcullis is serving this page/);
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      const api = await request(`${base}/api/hello`, { headers: { host: `localhost:${web}` } });
      assert.equal(api.statusCode, 200);
      assert.deepEqual(await api.body.json(), { message: 'hello from the backend', path: '/hello' });
      const listing = await request(`${base}/css/`, { headers: { host: `localhost:${web}`, accept: 'application/json' } });
      assert.equal(listing.statusCode, 200);
      assert.ok(((await listing.body.json()) as { name: string }[]).some((f) => f.name === 'site.css'));
    } finally {
      await p.stop();
    }
  });
});

describe('examples/https.Portcullisfile', () => {
  test('serves localhost over HTTPS from the internal CA and redirects plain HTTP', async () => {
    const [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
    const text = readFileSync(`${EXAMPLES}https.Portcullisfile`, 'utf8')
      .replace('http_port 8480', `http_port ${httpPort}\n\tdefault_bind 127.0.0.1`)
      .replace('https_port 8443', `https_port ${httpsPort}`);
    const p = await startPortcullis(text);
    try {
      const ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
      const dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
      const page = await request(`https://127.0.0.1:${httpsPort}/`, { dispatcher, headers: { host: `localhost:${httpsPort}` } });
      assert.equal(page.statusCode, 200);
      assert.match(await page.body.text(), /^Hello over HTTP\/(1\.1|2\.0) with TLS from Portcullis$/);
      assert.equal(page.headers['strict-transport-security'], 'max-age=31536000');
      await dispatcher.close();
      const redirect = await request(`http://127.0.0.1:${httpPort}/x`, { headers: { host: 'localhost' } });
      assert.equal(redirect.statusCode, 308);
      assert.equal(redirect.headers.location, `https://localhost:${httpsPort}/x`);
      await redirect.body.dump();
    } finally {
      await p.stop();
    }
  });
});

describe('examples/identity.Portcullisfile', () => {
  test('serves discovery for its issuer and the first-administrator link on a fresh store', async () => {
    const port = await freePort();
    const text = readFileSync(`${EXAMPLES}identity.Portcullisfile`, 'utf8')
      .replaceAll('localhost:9000', `localhost:${port}`)
      .replace('admin off', 'admin off\n\tdefault_bind 127.0.0.1\n\tdatabase sqlite $DIR/example.db');
    const p = await startPortcullis(text);
    try {
      const res = await request(`http://127.0.0.1:${port}/.well-known/openid-configuration`, { headers: { host: `localhost:${port}` } });
      assert.equal(res.statusCode, 200);
      const doc = (await res.body.json()) as { issuer: string; authorization_endpoint: string };
      assert.equal(doc.issuer, `http://localhost:${port}`);
      assert.equal(doc.authorization_endpoint, `http://localhost:${port}/auth`);
      const link = p.instance.identitySetupLink();
      assert.match(link ?? '', new RegExp(`^http://localhost:${port}/setup\\?token=[A-Za-z0-9_-]{20,}$`));
      const setup = await request(link!.replace(`localhost:${port}`, `127.0.0.1:${port}`), { headers: { host: `localhost:${port}` } });
      assert.equal(setup.statusCode, 200);
      assert.match(await setup.body.text(), /name="passwordConfirm"/);
    } finally {
      await p.stop();
    }
  });
});

describe('examples/guard.Portcullisfile', () => {
  test('answers what its comment promises: the site, a probe refused, the login rate limited, a blocklisted client refused', async () => {
    const port = await freePort();
    const text = readFileSync(`${EXAMPLES}guard.Portcullisfile`, 'utf8')
      .replaceAll('localhost:8090', `localhost:${port}`)
      .replace('admin off', 'admin off\n\tdatabase sqlite $DIR/example.db');
    const p = await startPortcullis(text, {
      env: { EXAMPLE_ROOT: `${EXAMPLES}site` },
      files: { 'guard-blocklist.txt': readFileSync(`${EXAMPLES}guard-blocklist.txt`, 'utf8') },
    });
    try {
      const get = async (path: string, headers: Record<string, string> = {}) => {
        const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: `localhost:${port}`, ...headers } });
        await res.body.dump();
        return res;
      };
      assert.equal((await get('/')).statusCode, 200);
      assert.equal((await get('/.env')).statusCode, 403);
      assert.equal((await get('/xmlrpc.php')).statusCode, 403);
      const logins = [];
      for (let i = 0; i < 6; i++) logins.push(await get('/login'));
      assert.deepEqual(logins.map((r) => r.statusCode), [200, 200, 200, 200, 200, 429]);
      assert.match(String(logins[5]!.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.equal((await get('/', { 'x-forwarded-for': '203.0.113.7' })).statusCode, 403);
      assert.equal((await get('/', { 'x-forwarded-for': '198.51.100.7' })).statusCode, 200);
    } finally {
      await p.stop();
    }
  });
});
