/**
 * On-demand TLS (`on_demand_tls { ask }` + `tls { on_demand }`): a name the ask endpoint
 * permits gets a certificate at its first handshake; a refused name fails the handshake and
 * nothing is stored; decisions are cached; an ask endpoint that is down refuses; on_demand
 * without ask is a config error naming file:line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { freePort, startPortcullis, type Running } from './support/instance.ts';

interface Outcome {
  status?: number;
  body?: string;
  error?: string;
}

/** One GET over HTTPS to 127.0.0.1 with `servername` as SNI and Host; never throws. */
function get(port: number, ca: string, servername: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, servername, path: '/', headers: { host: servername }, ca, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

interface AskServer {
  server: Server;
  url: string;
  calls: Map<string, number>;
}

/** An ask endpoint permitting only `allowed`, counting the calls per name. */
async function askServer(allowed: Set<string>): Promise<AskServer> {
  const calls = new Map<string, number>();
  const server = createServer((req, res) => {
    const domain = new URL(req.url ?? '/', 'http://x').searchParams.get('domain') ?? '';
    calls.set(domain, (calls.get(domain) ?? 0) + 1);
    res.writeHead(allowed.has(domain) ? 200 : 403).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}/check`, calls };
}

async function config(ask: string | null, site = 'https://'): Promise<{ text: string; port: number }> {
  const port = await freePort();
  const httpPort = await freePort();
  const text = `{
	storage file_system $DIR/data
	default_bind 127.0.0.1
	https_port ${port}
	http_port ${httpPort}
	${ask === null ? '' : `on_demand_tls {\n\t\task ${ask}\n\t}`}
}

${site} {
	tls internal {
		on_demand
	}
	respond "hello {host}"
}
`;
  return { text, port };
}

describe('on-demand TLS with the internal CA', () => {
  let ask: AskServer;
  let p: Running;
  let port: number;
  let ca: string;

  before(async () => {
    ask = await askServer(new Set(['good.test', 'twice.test', 'burst.test']));
    const c = await config(ask.url);
    port = c.port;
    p = await startPortcullis(c.text);
    ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
  });
  after(async () => {
    await p?.stop();
    ask?.server.close();
  });

  test('a permitted name gets a certificate at its first handshake, trusted by the internal root', async () => {
    const r = await get(port, ca, 'good.test');
    assert.deepEqual(r, { status: 200, body: 'hello good.test' });
    assert.equal(ask.calls.get('good.test'), 1);
    assert.ok(existsSync(join(p.dir, 'data', 'certificates', 'local', 'good.test', 'good.test.crt')));
  });

  test('a refused name fails the handshake and nothing is stored', async () => {
    const r = await get(port, ca, 'evil.test');
    assert.ok(r.error !== undefined, `expected a handshake failure, got ${JSON.stringify(r)}`);
    assert.equal(ask.calls.get('evil.test'), 1);
    assert.equal(existsSync(join(p.dir, 'data', 'certificates', 'local', 'evil.test')), false);
    // The refusal is cached: a second handshake does not ask again.
    assert.ok((await get(port, ca, 'evil.test')).error !== undefined);
    assert.equal(ask.calls.get('evil.test'), 1);
  });

  test('ask is consulted once per name within the cache window', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await get(port, ca, 'twice.test')).status, 200);
    assert.equal(ask.calls.get('twice.test'), 1);
  });

  test('concurrent first handshakes for one name share one ask and one issuance', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => get(port, ca, 'burst.test')));
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r));
    assert.equal(ask.calls.get('burst.test'), 1);
  });

  test('names that are not DNS names never reach the ask endpoint', async () => {
    const before = [...ask.calls.values()].reduce((a, b) => a + b, 0);
    assert.ok((await get(port, ca, 'bad_name-.test')).error !== undefined);
    const after = [...ask.calls.values()].reduce((a, b) => a + b, 0);
    assert.equal(after, before);
  });
});

describe('on-demand TLS refusals', () => {
  test('an ask endpoint that is down refuses every name', async () => {
    const dead = await freePort();
    const c = await config(`http://127.0.0.1:${dead}/check`);
    const p = await startPortcullis(c.text);
    try {
      const ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
      const r = await get(c.port, ca, 'good.test');
      assert.ok(r.error !== undefined, `expected a handshake failure, got ${JSON.stringify(r)}`);
      assert.equal(existsSync(join(p.dir, 'data', 'certificates', 'local', 'good.test')), false);
    } finally {
      await p.stop();
    }
  });

  test('a wildcard site covers one label deep only', async () => {
    const ask = await askServer(new Set(['a.apps.test', 'a.b.apps.test']));
    const c = await config(ask.url, '*.apps.test');
    const p = await startPortcullis(c.text);
    try {
      const ca = readFileSync((await p.instance.certificateAuthority())!, 'utf8');
      assert.equal((await get(c.port, ca, 'a.apps.test')).status, 200);
      assert.ok((await get(c.port, ca, 'a.b.apps.test')).error !== undefined);
      assert.equal(ask.calls.get('a.b.apps.test'), undefined);
    } finally {
      await p.stop();
      ask.server.close();
    }
  });

  test('on_demand without the global ask endpoint is a config error with file:line', async () => {
    const c = await config(null);
    await assert.rejects(startPortcullis(c.text), (error: Error) => {
      assert.match(String(error.message ?? error) + JSON.stringify(error), /Portcullisfile:\d+.*on_demand needs the global option on_demand_tls/s);
      return true;
    });
  });
});
