/**
 * Review: `request_body max_size` in front of `reverse_proxy` with a chunked body over the
 * limit. The handler destroys the request; the proxy's body stream then emits an 'error' that
 * nobody listens to, and the whole process dies. Run in a child process, since that is the
 * failure being shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

const support = new URL('./support/', import.meta.url).href;

const script = `
import { startPortcullis } from '${support}instance.ts';
import { startUpstream } from '${support}upstream.ts';
import { rawRequest } from '${support}raw-http.ts';
const up = await startUpstream();
const p = await startPortcullis(\`
{
	admin off
}
http://127.0.0.1:0 {
	request_body {
		max_size 10
	}
	reverse_proxy 127.0.0.1:\${up.port}
}
\`);
console.log('dir ' + p.dir);
const chunk = 'x'.repeat(64);
const res = await rawRequest(p.port(), 'POST /u HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nTransfer-Encoding: chunked\\r\\nConnection: close\\r\\n\\r\\n40\\r\\n' + chunk + '\\r\\n40\\r\\n' + chunk + '\\r\\n0\\r\\n\\r\\n');
console.log('status ' + res.status);
await new Promise((r) => setTimeout(r, 500));
const again = await rawRequest(p.port(), 'GET / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n');
console.log('after ' + again.status);
await p.stop();
await up.close();
console.log('survived');
`;

test('an oversized chunked body under request_body + reverse_proxy does not crash the process', async () => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  // A crashed child could not remove its temp dir.
  const dir = /^dir (.+)$/m.exec(out)?.[1];
  if (dir) rmSync(dir, { recursive: true, force: true });
  assert.match(out, /survived/, `the process died (exit ${code}):\n${out.slice(0, 1500)}`);
  assert.match(out, /status 413/, out);
});
