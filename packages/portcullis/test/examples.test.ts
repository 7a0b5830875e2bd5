/** The bundled examples start and serve what the README promises. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
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
