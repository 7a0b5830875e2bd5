/**
 * A real DNS server for tests: Debian's BIND 9 (`named -g`) on a free loopback port, UDP and
 * TCP, with two primary zones in a temp dir: `example.test.`, which the TSIG key
 * `portcullis-key` (and one key of each other algorithm) may update (`allow-update`), and
 * `locked.test.`, which only `other-key` may. `_acme-challenge.delegated.example.test` is a
 * CNAME to `acme.example.test` (a delegated challenge name, as Caddy's
 * `dns_challenge_override_domain acme.example.test` expects). Fresh random
 * secrets each start; stopped by PID. `bind9Missing()` says why tests skip; `txtAt()` reads
 * what the server answers.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, type Peer } from './peers.ts';

export const NAMED_BINARY = '/usr/sbin/named';
export const NAMED_CHECKCONF_BINARY = '/usr/bin/named-checkconf';

export interface Bind9Key {
  name: string;
  algorithm: 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha1' | 'hmac-md5';
  /** base64, as in named.conf. */
  secret: string;
}

export interface Bind9 extends Peer {
  port: number;
  /** `127.0.0.1:<port>`, as `server` in the rfc2136 block. */
  server: string;
  /** May update `zone`. */
  key: Bind9Key;
  /** May update `lockedZone` only. */
  otherKey: Bind9Key;
  /** Keys of the other algorithms, each allowed to update `zone` too. */
  algorithmKeys: Bind9Key[];
  zone: 'example.test';
  lockedZone: 'locked.test';
}

/** Why BIND-based tests cannot run here, or null when they can. */
export function bind9Missing(): string | null {
  for (const binary of [NAMED_BINARY, NAMED_CHECKCONF_BINARY]) {
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      return `${binary} is not installed (apt-get install bind9 bind9-utils; scripts/install-peers.sh)`;
    }
  }
  return null;
}

async function tryPort(): Promise<number | null> {
  const tcp = createServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as { port: number }).port;
  const udp = createSocket('udp4');
  const udpFree = await new Promise<boolean>((resolve) => {
    udp.once('error', () => resolve(false));
    udp.bind(port, '127.0.0.1', () => resolve(true));
  });
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  if (udpFree) await new Promise<void>((resolve) => udp.close(() => resolve()));
  return udpFree ? port : null;
}

/** A loopback port free for both TCP and UDP at the time of asking (named takes a fixed one). */
export async function freeDnsPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await tryPort();
    if (port !== null) return port;
  }
  throw new Error('no loopback port was free for both TCP and UDP');
}

function zoneFile(zone: string, extra = ''): string {
  return `$TTL 60
@	IN	SOA	ns1.${zone}. hostmaster.${zone}. ( 1 3600 600 86400 60 )
@	IN	NS	ns1.${zone}.
ns1	IN	A	127.0.0.1
${extra}`;
}

function keyBlock(key: Bind9Key): string {
  return `key "${key.name}" {\n\talgorithm ${key.algorithm};\n\tsecret "${key.secret}";\n};\n`;
}

/** Starts named with the two zones; resolves once it accepts TCP connections (at most 10 s). */
export async function startBind9(): Promise<Bind9> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bind9-'));
  const port = await freeDnsPort();
  const key: Bind9Key = { name: 'portcullis-key', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const otherKey: Bind9Key = { name: 'other-key', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const algorithmKeys: Bind9Key[] = (['hmac-sha512', 'hmac-sha1', 'hmac-md5'] as const).map((algorithm) => ({
    name: `${algorithm}-key`,
    algorithm,
    secret: randomBytes(algorithm === 'hmac-sha512' ? 64 : 32).toString('base64'),
  }));
  // The CNAME delegation dns_challenge_override_domain is for: delegated.example.test's
  // challenge is answered at acme.example.test (the override is the whole record name).
  writeFileSync(join(dir, 'example.test.zone'), zoneFile('example.test', '_acme-challenge.delegated\tIN\tCNAME\tacme\n'));
  writeFileSync(join(dir, 'locked.test.zone'), zoneFile('locked.test'));
  const conf = join(dir, 'named.conf');
  writeFileSync(
    conf,
    `options {
	directory "${dir}";
	pid-file "${join(dir, 'named.pid')}";
	session-keyfile "${join(dir, 'session.key')}";
	managed-keys-directory "${dir}";
	listen-on port ${port} { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	allow-query { 127.0.0.1; };
	allow-transfer { none; };
	notify no;
	dnssec-validation no;
};
controls { };
${[key, otherKey, ...algorithmKeys].map(keyBlock).join('')}
zone "example.test" {
	type primary;
	file "${join(dir, 'example.test.zone')}";
	allow-update { ${[key, ...algorithmKeys].map((k) => `key "${k.name}"; `).join('')}};
};
zone "locked.test" {
	type primary;
	file "${join(dir, 'locked.test.zone')}";
	allow-update { key "${otherKey.name}"; };
};
`,
  );
  const check = spawnSync(NAMED_CHECKCONF_BINARY, [conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`named-checkconf refused the test config:\n${check.stdout}${check.stderr}`);
  // -g: foreground, log to stderr; -4: IPv4 only; no -u, so it runs as the current user.
  const peer = await launch({
    name: 'named',
    dir,
    command: NAMED_BINARY,
    args: ['-g', '-4', '-c', conf],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    ports: [port],
    logFiles: [],
  });
  return { ...peer, port, server: `127.0.0.1:${port}`, key, otherKey, algorithmKeys, zone: 'example.test', lockedZone: 'locked.test' };
}

/** The TXT texts at `name` as `server` answers now (a fresh resolver: nothing cached); [] when there are none. */
export async function txtAt(server: string, name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([server]);
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw error;
  }
}
