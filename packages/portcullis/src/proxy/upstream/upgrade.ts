/**
 * WebSocket and other HTTP/1.1 upgrades (RFC 9110 §7.8). Node hands upgrade requests to the
 * server's 'upgrade' event with the raw socket and the bytes read past the head; the front
 * door gives such a request a ServerResponse on that socket and marks it with `upgradeHead`,
 * so it runs through the same routes as any request. Here, once the upstream answers 101,
 * the 101 head goes to the client and the two sockets are joined until either side closes.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RequestContext } from '../context.ts';

/** How long a closing tunnel waits for its last bytes to drain before both sockets are cut. */
const TUNNEL_CLOSE_GRACE_MS = 5_000;

type UpgradeRequest = IncomingMessage & { upgradeHead?: Buffer; __upgradeHead?: Buffer };

/**
 * The bytes the client sent after the request head, present only when the request came through
 * the server's 'upgrade' event; null for an ordinary request (whose Upgrade header is ignored).
 */
export function upgradeHead(req: IncomingMessage): Buffer | null {
  const marked = req as UpgradeRequest;
  return marked.upgradeHead ?? marked.__upgradeHead ?? null;
}

/**
 * Sends the 101 head built from ctx.res's headers (the caller has put the upstream's there, and
 * the queued `header` edits run here as writeHead would run them), then pipes client <-> upstream.
 * Resolves when both sockets have closed.
 */
export function tunnel(ctx: RequestContext, upstream: Duplex, head: Buffer): Promise<void> {
  const res = ctx.res;
  const ops = ctx.responseHeaderOps;
  for (let i = 0; i < ops.length; i++) ops[i]!(res, 101);
  res.statusCode = 101;
  let text = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const name of res.getHeaderNames()) {
    const value = res.getHeader(name);
    if (value === undefined) continue;
    // setHeader already refused CR/LF, so no value can split the head.
    for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
  }
  text += '\r\n';
  const client = ctx.req.socket as Duplex & { setTimeout?(ms: number): unknown; setNoDelay?(on: boolean): unknown };
  if (client.destroyed) {
    upstream.destroy();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let open = 2;
    let closing = false;
    const destroyBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    // As Caddy does: when either direction ends, the tunnel is over. Each side gets what was
    // already written to it (end() flushes), then both go; a peer that never drains its
    // socket is cut after a grace period.
    const shutDown = (): void => {
      if (closing) return;
      closing = true;
      for (const socket of [client, upstream]) if (!socket.destroyed) socket.end(() => socket.destroy());
      setTimeout(destroyBoth, TUNNEL_CLOSE_GRACE_MS).unref();
    };
    const onClose = (): void => {
      shutDown();
      if (--open === 0) resolve();
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
    client.once('end', shutDown);
    upstream.once('end', shutDown);
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    // A tunnel can idle for long (a quiet WebSocket); the server's request timeouts no longer apply.
    client.setTimeout?.(0);
    client.setNoDelay?.(true);
    client.write(text, 'latin1');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client, { end: false });
    client.pipe(upstream, { end: false });
  });
}
