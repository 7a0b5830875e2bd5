/**
 * Closing a server without cutting requests in flight: stop accepting, close idle
 * connections now and busy ones as soon as their response is done, and cut whatever is left
 * when the grace period ends.
 */
import type { Server } from 'node:http';

/** The three things a graceful close needs from a server. */
export interface Closable {
  close(callback: () => void): void;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

export async function closeGracefully(server: Server | Closable, graceMs: number, beforeCut: () => void = () => {}): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([closed, deadline]);
  clearTimeout(timer);
  clearInterval(sweep);
  server.closeAllConnections();
  beforeCut();
  await closed;
}
