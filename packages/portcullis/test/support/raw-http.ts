/** Raw HTTP over a socket, for requests no well-behaved client would send. */
import { connect } from 'node:net';

export interface RawResponse {
  /** Everything the server sent until it closed or the timeout passed. */
  text: string;
  /** Status of the first response, 0 if none. */
  status: number;
  /** True when the server closed the connection. */
  closed: boolean;
}

/** Sends `payload` as is and collects the reply; bounded by timeoutMs. */
export function rawRequest(port: number, payload: string | Buffer, timeoutMs = 2000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: match ? Number(match[1]) : 0, closed });
      socket.destroy();
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      closed = true;
      done();
    });
    socket.on('close', () => {
      closed = true;
      done();
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (chunks.length > 0) done();
      else reject(error);
    });
    socket.write(payload);
  });
}
