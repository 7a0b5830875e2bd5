/**
 * Connection tracking for HTTPS listeners. node:http2's server has no closeIdleConnections /
 * closeAllConnections; this gives it both: HTTP/2 sessions get a GOAWAY (they finish open
 * streams, then close), HTTP/1.1 sockets close when no response is in flight on them.
 */
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Closable } from '../kernel/graceful-close.ts';

export function trackConnections(server: Http2SecureServer): Closable {
  /** Every TCP connection, handshake done or not: what closeAll cuts. */
  const raw = new Set<Socket>();
  /** HTTP/1.1 connections after the handshake: what closeIdle may close. */
  const http1 = new Set<TLSSocket>();
  const sessions = new Set<ServerHttp2Session>();
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    http1.add(socket);
    socket.once('close', () => http1.delete(socket));
  });
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return {
    close: (callback) => void server.close(() => callback()),
    closeIdleConnections() {
      for (const session of sessions) if (!session.closed) session.close();
      // Busy: a response is being written on it. Node's own closeIdleConnections asks the same
      // of `_httpMessage` (the response attached to the socket), and knowing it costs no
      // listener per request.
      for (const socket of http1) if (!responding(socket)) socket.destroy();
    },
    closeAllConnections() {
      for (const session of sessions) session.destroy();
      for (const socket of raw) socket.destroy();
    },
  };
}

/** Whether an HTTP/1.1 response is in flight on the socket (lib/_http_server.js: closeIdleConnections). */
function responding(socket: TLSSocket): boolean {
  const message = (socket as TLSSocket & { _httpMessage?: { writableFinished: boolean } | null })._httpMessage;
  return message !== undefined && message !== null && !message.writableFinished;
}
