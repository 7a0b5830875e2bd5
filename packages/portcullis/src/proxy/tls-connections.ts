/**
 * Connection tracking for HTTPS listeners. node:http2's server has no closeIdleConnections /
 * closeAllConnections; this gives it both: HTTP/2 sessions get a GOAWAY (they finish open
 * streams, then close), HTTP/1.1 sockets close when no response is in flight on them.
 */
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Closable } from '../kernel/graceful-close.ts';

export function trackConnections(server: Http2SecureServer): Closable {
  /** Every TCP connection, handshake done or not: what closeAll cuts. */
  const raw = new Set<Socket>();
  /** HTTP/1.1 connections after the handshake: what closeIdle may close. */
  const http1 = new Set<TLSSocket>();
  const sessions = new Set<ServerHttp2Session>();
  const busy = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    http1.add(socket);
    socket.once('close', () => {
      http1.delete(socket);
      busy.delete(socket);
    });
  });
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // HTTP/1.1 requests on this server: count responses in flight per socket.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (left <= 0) busy.delete(socket);
      else busy.set(socket, left);
    });
  });
  return {
    close: (callback) => void server.close(() => callback()),
    closeIdleConnections() {
      for (const session of sessions) if (!session.closed) session.close();
      for (const socket of http1) if (!busy.has(socket)) socket.destroy();
    },
    closeAllConnections() {
      for (const session of sessions) session.destroy();
      for (const socket of raw) socket.destroy();
    },
  };
}
