// The benchmark's upstream: answers GET /proxy/1k and GET /proxy/100k with fixed bodies.
//
// Two implementations: nginx serving the bodies from files (default when nginx is installed:
// it is several times cheaper per request than Node, so the upstream never limits a proxy
// under test; see README.md for the numbers) and a minimal node:http server holding the
// bodies in memory (fallback, or BENCH_UPSTREAM=node). Run directly, this file is that Node
// server: `node bench/upstream.mjs PORT`.
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from './lib/template.mjs';
import { waitReady } from './lib/net.mjs';
import { logTail } from './lib/processes.mjs';

/** Paths the upstream serves, and their body sizes in bytes. */
export const UPSTREAM_BODIES = { '/proxy/1k': 1024, '/proxy/100k': 100 * 1024 };

/**
 * A body of `size` printable bytes (so a misrouted response is readable in a terminal).
 * @param {number} size
 * @returns {Buffer}
 */
export function makeBody(size) {
  const line = Buffer.from('portcullis-bench-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ\n');
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(body, i, 0, Math.min(line.length, size - i));
  return body;
}

/**
 * Starts the upstream on a loopback port, pinned to `cpus`.
 * @param {{ kind: 'nginx' | 'node', port: number, dir: string, cpus?: string,
 *   nginx: string | null, procs: ReturnType<typeof import('./lib/processes.mjs').createProcessSet> }} opts
 */
export async function startUpstream({ kind, port, dir, cpus, nginx, procs }) {
  let proc;
  if (kind === 'nginx') {
    if (!nginx) throw new Error('BENCH_UPSTREAM=nginx but nginx is not installed');
    const root = join(dir, 'upstream-root');
    mkdirSync(join(root, 'proxy'), { recursive: true, mode: 0o755 });
    mkdirSync(join(dir, 'upstream-tmp'), { recursive: true });
    for (const [path, size] of Object.entries(UPSTREAM_BODIES)) {
      writeFileSync(join(root, path), makeBody(size), { mode: 0o644 });
    }
    const conf = join(dir, 'upstream-nginx.conf');
    const template = fileURLToPath(new URL('./configs/upstream-nginx.conf.tmpl', import.meta.url));
    writeFileSync(conf, renderTemplate(template, { DIR: dir, ROOT: root, PORT: port }));
    proc = procs.start({
      name: 'upstream (nginx)', command: nginx, args: ['-c', conf, '-g', 'daemon off;'],
      cpus, logFile: join(dir, 'upstream.log'),
    });
  } else {
    proc = procs.start({
      name: 'upstream (node)', command: process.execPath,
      args: [fileURLToPath(import.meta.url), String(port)],
      cpus, logFile: join(dir, 'upstream.log'),
    });
  }
  try {
    await waitReady(`http://127.0.0.1:${port}/proxy/1k`, { exited: proc.exited });
  } catch (err) {
    throw new Error(`upstream (${kind}): ${err.message}\n${logTail(proc.logFile)}`);
  }
  return { kind, port, proc };
}

/** The Node upstream: bodies and headers prepared once, nothing parsed per request. */
function serveNode(port) {
  const routes = new Map(Object.entries(UPSTREAM_BODIES).map(([path, size]) => {
    const body = makeBody(size);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': body.length };
    return [path, { body, headers }];
  }));
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const route = routes.get(req.url ?? '');
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    res.writeHead(200, route.headers);
    res.end(req.method === 'HEAD' ? undefined : route.body);
  });
  server.listen(port, '127.0.0.1');
  const close = () => server.close(() => process.exit(0));
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error('usage: node bench/upstream.mjs PORT');
    process.exit(2);
  }
  serveNode(port);
}
