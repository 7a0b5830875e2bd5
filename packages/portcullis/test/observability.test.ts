/** Access logs with Caddy's field names, rolled log files, and the Prometheus endpoint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startPortcullis } from './support/instance.ts';
import { startUpstream } from './support/upstream.ts';

test('access log: Caddy field names, credentials redacted, log_skip honoured, file rolled', async () => {
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	log {
		output file $DIR/logs/access.log {
			roll_size 2KiB
			roll_keep 2
		}
	}
	log_skip /health
	respond /health "ok"
	respond "hello"
}
`);
  try {
    for (let i = 0; i < 12; i++) {
      const res = await request(`${p.url}/page/${i}?q=1`, { headers: { cookie: 'session=secret-cookie', authorization: 'Bearer secret-token' } });
      await res.body.text();
    }
    await (await request(`${p.url}/health`)).body.text();
  } finally {
    await p.instance.stop();
  }
  const files = readdirSync(join(p.dir, 'logs')).sort();
  assert.deepEqual(files, ['access.log', 'access.log.1', 'access.log.2'], 'rolled, keeping two old files');
  const lines = files.flatMap((f) => readFileSync(join(p.dir, 'logs', f), 'utf8').split('\n')).filter((l) => l !== '').map((l) => JSON.parse(l));
  assert.ok(lines.length >= 6 && lines.length <= 12, `${lines.length} lines kept`);
  const entry = lines.find((l) => l.request.uri === '/page/11?q=1');
  assert.ok(entry, 'the newest request is in the current file');
  assert.equal(entry.logger, 'http.log.access');
  assert.equal(entry.msg, 'handled request');
  assert.equal(entry.status, 200);
  assert.equal(entry.size, 5);
  assert.equal(entry.request.method, 'GET');
  assert.equal(entry.request.remote_ip, '127.0.0.1');
  assert.equal(typeof entry.duration, 'number');
  assert.deepEqual(entry.request.headers.Cookie, ['REDACTED']);
  assert.deepEqual(entry.request.headers.Authorization, ['REDACTED']);
  assert.ok(!JSON.stringify(lines).includes('secret-'), 'no credential in any line');
  assert.ok(!lines.some((l) => l.request.uri === '/health'), 'log_skip requests are not logged');
  await p.stop();
});

test('metrics: requests by site, route and code, and upstream health', async () => {
  const up = await startUpstream();
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	handle /metrics {
		metrics
	}
	handle /api/* {
		reverse_proxy 127.0.0.1:${up.port} 127.0.0.1:1 {
			health_uri /
			health_interval 100ms
		}
	}
	handle {
		respond "home"
	}
}
`);
  try {
    for (let i = 0; i < 3; i++) await (await request(`${p.url}/`)).body.text();
    await new Promise((r) => setTimeout(r, 400));
    const res = await request(`${p.url}/metrics`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/plain/);
    const text = await res.body.text();
    const line = text.split('\n').find((l) => l.startsWith('portcullis_http_requests_total{') && l.includes('code="200"') && l.includes('site="http://127.0.0.1:0"'));
    assert.ok(line, text.slice(0, 2000));
    assert.ok(Number(line.split(' ').at(-1)) >= 3);
    assert.match(text, /portcullis_http_request_duration_seconds_bucket\{/);
    assert.match(text, new RegExp(`portcullis_reverse_proxy_upstreams_healthy\\{upstream="127\\.0\\.0\\.1:${up.port}"\\} 1`));
    assert.match(text, /portcullis_reverse_proxy_upstreams_healthy\{upstream="127\.0\.0\.1:1"\} 0/);
  } finally {
    await p.stop();
    await up.close();
  }
});

test('access log size is the body that went out: compressed length, and chunked proxied bodies', async () => {
  const up = await startUpstream((_req, res) => {
    res.write('x'.repeat(300));
    res.end('y'.repeat(200));
  });
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	log {
		output file $DIR/access.log
	}
	handle /zipped {
		encode gzip {
			minimum_length 1
		}
		respond "${'a'.repeat(5000)}"
	}
	handle /chunked {
		reverse_proxy 127.0.0.1:${up.port}
	}
}
`);
  let zippedBytes = 0;
  try {
    const zipped = await request(`${p.url}/zipped`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    zippedBytes = Buffer.from(await zipped.body.arrayBuffer()).length;
    const chunked = await request(`${p.url}/chunked`);
    assert.equal(chunked.headers['content-length'], undefined);
    assert.equal((await chunked.body.text()).length, 500);
  } finally {
    await p.instance.stop();
    await up.close();
  }
  const lines = readFileSync(join(p.dir, 'access.log'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const byUri = (uri: string) => lines.find((l) => l.request.uri === uri);
  assert.ok(zippedBytes > 0 && zippedBytes < 5000);
  assert.equal(byUri('/zipped').size, zippedBytes);
  assert.equal(byUri('/chunked').size, 500);
  await p.stop();
});
