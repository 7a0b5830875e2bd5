/** reverse_proxy through a real Portcullis instance (Caddyfile, front door, routes): WebSocket and errors. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { deadAddress, listen, send } from './reverse-proxy-harness.ts';
import { startPortcullis, type Running } from './support/instance.ts';

describe('reverse_proxy end to end', () => {
  let portcullis: Running;
  let upstreamPort: number;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => res.end(`plain ${req.url} xff=${req.headers['x-forwarded-for']}`));

  before(async () => {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      // Echo one short masked text frame back unmasked (enough for this test).
      socket.on('data', (data: Buffer) => {
        const opcode = data[0]! & 0x0f;
        const length = data[1]! & 0x7f;
        const mask = data.subarray(2, 6);
        const payload = Buffer.from(data.subarray(6, 6 + length).map((b, i) => b ^ mask[i % 4]!));
        if (opcode === 8) return void socket.end(Buffer.from([0x88, 0]));
        socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
      });
      socket.on('error', () => socket.destroy());
    });
    upstreamPort = await listen(server);
    portcullis = await startPortcullis(`
{
	admin off
	default_bind 127.0.0.1
}
http://:0 {
	handle /dead/* {
		reverse_proxy ${await deadAddress()}
	}
	reverse_proxy 127.0.0.1:${upstreamPort} {
		header_down X-Via portcullis
	}
}
`);
  });

  after(async () => {
    await portcullis?.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('plain requests and a 502 from a dead upstream', async () => {
    const port = portcullis.port();
    const ok = await send(port, { path: '/hello', headers: { 'x-forwarded-for': '6.6.6.6' } });
    assert.equal(ok.text, 'plain /hello xff=127.0.0.1');
    assert.equal(ok.headers['x-via'], 'portcullis');
    const dead = await send(port, { path: '/dead/x' });
    assert.equal(dead.status, 502);
  });

  test('a WebSocket goes through the front door, the routes and the proxy', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${portcullis.port()}/socket`);
    const echoed = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo in time')), 3000);
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onopen = () => ws.send('ping through portcullis');
      ws.onmessage = (event) => {
        clearTimeout(timer);
        resolve(String(event.data));
      };
    });
    assert.equal(echoed, 'ping through portcullis');
    await new Promise<void>((resolve) => {
      ws.onclose = () => resolve();
      ws.close();
    });
    // The server stays healthy after the tunnel closed.
    assert.equal((await send(portcullis.port(), { path: '/after' })).text, 'plain /after xff=127.0.0.1');
  });
});
