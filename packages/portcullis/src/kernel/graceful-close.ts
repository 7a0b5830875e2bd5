/**
 * Closing an HTTP server without cutting requests in flight: stop accepting, close idle
 * keep-alive connections now and busy ones as soon as their response is done, and cut
 * whatever is left when the grace period ends.
 */
import type { Server } from 'node:http';

export async function closeGracefully(server: Server, graceMs: number, beforeCut: () => void = () => {}): Promise<void> {
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
