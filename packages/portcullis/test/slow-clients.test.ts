/**
 * Review: slowloris. With `servers { timeouts { read_header 1s; read_body 1s } }` a client that
 * trickles its head or its body one byte at a time must be cut off shortly after the limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startPortcullis, type Running } from './support/instance.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

/** Writes `head` then one byte of `drip` every intervalMs; resolves with ms until the server closed, or null. */
function trickle(port: number, head: string, drip: string, intervalMs: number, giveUpMs: number): Promise<{ closedAfterMs: number | null; text: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let i = 0;
    const finish = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      resolve({ closedAfterMs: closed ? Date.now() - started : null, text });
    };
    const timer = setInterval(() => {
      if (i < drip.length && socket.writable) socket.write(drip[i++]!);
    }, intervalMs);
    const limit = setTimeout(() => finish(false), giveUpMs);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
    socket.write(head);
  });
}

describe('slow clients', () => {
  let p: Running;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    p = await startPortcullis(`
{
	admin off
	servers {
		timeouts {
			read_header 1s
			read_body 1s
		}
	}
}
http://127.0.0.1:0 {
	reverse_proxy 127.0.0.1:${up.port}
}
`);
  });
  after(async () => {
    await p.stop();
    await up.close();
  });

  test('a head trickled one byte at a time is cut off after read_header', async () => {
    const r = await trickle(p.port(), 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 'a'.repeat(100), 200, 4500);
    assert.ok(r.closedAfterMs !== null && r.closedAfterMs < 3500, `connection still open after 4.5s (${JSON.stringify(r.text.slice(0, 60))})`);
  });

  test('a body trickled one byte at a time is cut off after read_body', async () => {
    const r = await trickle(p.port(), 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n', 'b'.repeat(100), 200, 4500);
    assert.ok(r.closedAfterMs !== null && r.closedAfterMs < 3500, `connection still open after 4.5s (${JSON.stringify(r.text.slice(0, 60))})`);
  });
});
