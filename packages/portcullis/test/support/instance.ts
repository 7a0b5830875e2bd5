/** Starts a real Portcullis instance from config text in a temp dir, for integration tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../src/kernel/logger.ts';
import { start, type Instance } from '../../src/main.ts';

// Tests never write certificates into the user's data dir: unless a config names its own
// storage, the internal CA and certificates go to a temp dir removed when the process exits.
if (process.env.PORTCULLIS_DATA_DIR === undefined) {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-test-data-'));
  process.env.PORTCULLIS_DATA_DIR = dataDir;
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
}

export interface Running {
  instance: Instance;
  dir: string;
  configFile: string;
  /** Port of the only (or the named) listener. */
  port(key?: string): number;
  /** `http://127.0.0.1:PORT` of the only listener. */
  url: string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (for configs that must name their port, e.g. reload tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startPortcullis(configText: string, options: { logger?: Logger; env?: Record<string, string>; files?: Record<string, string> } = {}): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
  const configFile = join(dir, 'Portcullisfile');
  writeFileSync(configFile, configText.replaceAll('$DIR', dir));
  let instance: Instance;
  try {
    instance = await start({ configFile, logger: options.logger ?? silentLogger(), env: { ...process.env, ...options.env } });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const port = (key?: string) => {
    const addresses = instance.addresses();
    const entry = key ? addresses.get(key) : addresses.values().next().value;
    if (!entry) throw new Error(`no listener ${key ?? ''}`);
    return entry.port;
  };
  return {
    instance,
    dir,
    configFile,
    port,
    url: `http://127.0.0.1:${port()}`,
    async stop() {
      await instance.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
