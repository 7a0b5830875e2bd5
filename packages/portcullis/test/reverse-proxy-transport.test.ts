/** reverse_proxy transports: WebSocket and other upgrades, unix sockets, https upstreams. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { after, describe, test } from 'node:test';
import { deadAddress, listen, proxyConfig, send, startProxy, type Proxy } from './reverse-proxy-harness.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function proxy(...args: Parameters<typeof startProxy>): Promise<Proxy> {
  const p = await startProxy(...args);
  cleanups.push(() => p.close());
  return p;
}

/** Closes a server and every socket it accepted (upgraded ones are no longer the server's to close). */
function closeServer(server: Server): () => Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return () => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Text frames from the client (masked, RFC 6455 §5.2) back as unmasked frames; close answered. */
function echoFrames(socket: Duplex, head: Buffer): void {
  let buffer = head;
  const consume = (): void => {
    while (buffer.length >= 2) {
      const opcode = buffer[0]! & 0x0f;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      }
      const masked = (buffer[1]! & 0x80) !== 0;
      const maskAt = offset;
      if (masked) offset += 4;
      if (buffer.length < offset + length) return;
      const payload = Buffer.from(buffer.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= buffer[maskAt + (i % 4)]!;
      buffer = buffer.subarray(offset + length);
      if (opcode === 8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      socket.write(frame(opcode, payload));
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    consume();
  });
  socket.on('error', () => socket.destroy());
  consume();
}

function frame(opcode: number, payload: Buffer, mask = false): Buffer {
  const header = payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  if (!mask) return Buffer.concat([header, payload]);
  header[1]! |= 0x80;
  const key = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([header, key, body]);
}

/** An upstream that upgrades /ws to a WebSocket echo and refuses other upgrades with 403. */
async function startWebSocketUpstream(): Promise<{ port: number; dial: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.push(req);
    if (req.url !== '/ws' && req.url !== '/ws?room=1') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nConnection: close\r\n\r\nno way');
      return;
    }
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}${WS_GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Upstream: ws\r\n\r\n`);
    echoFrames(socket, head);
  });
  const port = await listen(server);
  cleanups.push(closeServer(server));
  return { port, dial: `127.0.0.1:${port}`, seen };
}

describe('upgrades', () => {
  test('a WebSocket client talks to a WebSocket upstream through the proxy', async () => {
    const up = await startWebSocketUpstream();
    const p = await proxy(proxyConfig([up.dial], { headers: { response: { set: { 'x-proxied': ['yes'] } } } }));
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws?room=1`);
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo in time')), 3000);
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onopen = () => ws.send('hello');
      ws.onmessage = (event) => {
        messages.push(String(event.data));
        if (messages.length === 1) ws.send('x'.repeat(300));
        else {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    ws.close();
    assert.deepEqual(messages, ['hello', 'x'.repeat(300)]);
    const req = up.seen[0]!;
    assert.equal(req.headers.upgrade, 'websocket');
    assert.equal(req.headers.connection?.toLowerCase(), 'upgrade');
    assert.ok(req.headers['sec-websocket-key']);
    assert.equal(req.headers['x-forwarded-for'], '127.0.0.1');
  });

  test('bytes sent right after the handshake (the upgrade head) reach the upstream', async () => {
    const up = await startWebSocketUpstream();
    const p = await proxy(proxyConfig([up.dial], { headers: { response: { set: { 'x-proxied': ['yes'] } } } }));
    const socket = connect(p.port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    const handshake =
      'GET /ws HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    // Handshake and first frame in one write: the frame arrives as the 'upgrade' head.
    socket.write(Buffer.concat([Buffer.from(handshake), frame(1, Buffer.from('early'), true)]));
    const text = await readUntil(socket, (b) => b.includes(Buffer.from('early')));
    const headEnd = text.indexOf('\r\n\r\n');
    const headText = text.subarray(0, headEnd).toString('latin1');
    assert.match(headText, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(headText, /\r\nupgrade: websocket/i);
    assert.match(headText, /\r\nconnection: Upgrade/i);
    assert.match(headText, /\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    assert.match(headText, /\r\nx-proxied: yes/i);
    assert.deepEqual(text.subarray(headEnd + 4), frame(1, Buffer.from('early')));
    assert.equal(up.seen[0]!.headers.host, 'chat.example');
  });

  test('an upstream that refuses the upgrade answers through the proxy as a normal response', async () => {
    const up = await startWebSocketUpstream();
    const p = await proxy(proxyConfig([up.dial]));
    const socket = connect(p.port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    socket.write('GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const text = (await readUntil(socket, (b) => b.includes(Buffer.from('no way')))).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 403 /);
  });

  test('an upgrade to a dead upstream gets 502 on its socket', async () => {
    const p = await proxy(proxyConfig([await deadAddress()]));
    const socket = connect(p.port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const text = (await readUntil(socket, (b) => b.includes(Buffer.from('ERR_UPSTREAM_FAILED')))).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 502 /);
  });

  test('closing the client side closes the upstream side of the tunnel', async () => {
    let upstreamClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const server = createServer();
    server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tunnel\r\nConnection: Upgrade\r\n\r\n');
      // FIN (end) or a reset (close): either way the proxy let go of the upstream.
      socket.on('end', () => upstreamClosed());
      socket.on('close', () => upstreamClosed());
      socket.on('error', () => {});
      socket.resume();
    });
    const port = await listen(server);
    cleanups.push(closeServer(server));
    const p = await proxy(proxyConfig([`127.0.0.1:${port}`]));
    const socket = connect(p.port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: tunnel\r\nConnection: Upgrade\r\n\r\n');
    await readUntil(socket, (b) => b.includes(Buffer.from('\r\n\r\n')));
    socket.destroy();
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('upstream not closed')), 3000).unref())]);
  });
});

describe('unix sockets', () => {
  test('an upstream on a unix socket (unix//path)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-rp-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'app.sock');
    const server = createServer((req, res) => res.end(`unix ${req.method} ${req.url} host=${req.headers.host}`));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(closeServer(server));
    const p = await proxy(proxyConfig([`unix/${path}`]));
    const reply = await send(p.port, { path: '/x?y=1', headers: { host: 'site.example' } });
    assert.equal(reply.text, 'unix GET /x?y=1 host=site.example');
  });
});

describe('https upstreams', () => {
  const openssl = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));

  /** A self-signed certificate for localhost and 127.0.0.1, made by openssl for this run. */
  function certificate(): { dir: string; key: Buffer; cert: Buffer; certFile: string } {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-rp-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync(
      openssl!,
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    return { dir, key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
  }

  test('TLS to the upstream: verification on and off, CA files, server name', { skip: openssl === undefined ? 'openssl is not installed' : false }, async () => {
    const { key, cert, certFile } = certificate();
    const server = createHttpsServer({ key, cert }, (req, res) => res.end(`tls sni=${(req.socket as TLSSocket).servername || '-'} host=${req.headers.host}`));
    const port = await listen(server as unknown as Server);
    cleanups.push(closeServer(server as unknown as Server));
    const upstream = { dial: `127.0.0.1:${port}`, scheme: 'https' as const };

    const verified = await proxy(proxyConfig([upstream]));
    assert.equal((await send(verified.port)).status, 502, 'a self-signed certificate is refused by default');

    const insecure = await proxy(proxyConfig([upstream], { transport: { tls: { insecure_skip_verify: true } } }));
    const reply = await send(insecure.port, { headers: { host: 'site.example' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'tls sni=- host=site.example');

    const withCa = await proxy(proxyConfig([upstream], { transport: { tls: { insecure_skip_verify: false, ca_files: [certFile] } } }));
    assert.equal((await send(withCa.port)).status, 200, 'trusted through ca_files (IP SAN)');

    const named = await proxy(proxyConfig([upstream], { transport: { tls: { insecure_skip_verify: false, ca_files: [certFile], server_name: 'localhost' } } }));
    const namedReply = await send(named.port);
    assert.equal(namedReply.status, 200);
    assert.match(namedReply.text, /^tls sni=localhost /);

    const wrongName = await proxy(proxyConfig([upstream], { transport: { tls: { insecure_skip_verify: false, ca_files: [certFile], server_name: 'other.example' } } }));
    assert.equal((await send(wrongName.port)).status, 502, 'the certificate must match server_name');
  });

  test('a missing ca_file is a config error', async () => {
    await assert.rejects(
      () => startProxy(proxyConfig([{ dial: '127.0.0.1:1', scheme: 'https' }], { transport: { tls: { insecure_skip_verify: false, ca_files: ['/nonexistent/ca.pem'] } } })),
      /ca_file/,
    );
  });
});

/** Reads from a socket until `done` says so (or 3 s pass), returns all bytes. */
function readUntil(socket: Socket, done: (buffer: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(buffer.toString('latin1'))}`)), 3000);
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(buffer);
    };
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      if (done(buffer)) finish();
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}
