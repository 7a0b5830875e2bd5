/** Trusted-proxy sources: the Caddyfile options, the shipped Cloudflare list, range files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { adaptCaddyfileText } from '../config/load.ts';
import { parseConfigJson } from '../config/validate-json.ts';
import { ConfigErrors } from '../kernel/errors.ts';
import { compileIpRanges } from '../kernel/ip-ranges.ts';
import { createClientIpSetup } from './client-ip-setup.ts';
import { loadTrustedProxies, readRangeList, SHIPPED_CLOUDFLARE_LIST } from './trusted-proxies.ts';

function adapt(servers: string) {
  return adaptCaddyfileText(`{\n\tservers {\n${servers}\n\t}\n}\n:8080 {\n\trespond ok\n}\n`, '/etc/portcullis/Caddyfile');
}

function adaptErrors(servers: string): string[] {
  try {
    adapt(servers);
  } catch (error) {
    if (error instanceof ConfigErrors) return error.errors.map((e) => e.describe());
    throw error;
  }
  assert.fail('expected config errors');
}

test('Caddy 2.7 spelling: static ranges, private_ranges, several lines add up, strict accepted', () => {
  const config = adapt('\t\ttrusted_proxies static private_ranges 203.0.113.0/24\n\t\ttrusted_proxies static 2001:db8::/32\n\t\ttrusted_proxies_strict\n\t\tclient_ip_headers CF-Connecting-IP X-Forwarded-For');
  assert.deepEqual(config.server.trustedProxies, ['192.168.0.0/16', '172.16.0.0/12', '10.0.0.0/8', '127.0.0.1/8', 'fd00::/8', '::1', '203.0.113.0/24', '2001:db8::/32']);
  assert.deepEqual(config.server.clientIpHeaders, ['CF-Connecting-IP', 'X-Forwarded-For']);
  assert.equal(config.server.trustedProxiesCloudflare, undefined);
});

test('trusted_proxies cloudflare: the shipped list, or a file relative to the config', () => {
  assert.deepEqual(adapt('\t\ttrusted_proxies cloudflare').server.trustedProxiesCloudflare, { file: null });
  // The caddy-cloudflare-ip plugin's block loads too (its refresh settings have no effect).
  assert.deepEqual(adapt('\t\ttrusted_proxies cloudflare {\n\t\t\tinterval 12h\n\t\t\ttimeout 15s\n\t\t}').server.trustedProxiesCloudflare, { file: null });
  assert.deepEqual(adapt('\t\ttrusted_proxies cloudflare file cf.txt').server.trustedProxiesCloudflare, { file: '/etc/portcullis/cf.txt' });
});

test('trusted_proxies and client_ip_headers mistakes are reported', () => {
  const errors = adaptErrors(
    [
      '\t\ttrusted_proxies dynamic 1.2.3.4',
      '\t\ttrusted_proxies static not-an-ip',
      '\t\ttrusted_proxies static',
      '\t\ttrusted_proxies cloudflare url https://www.cloudflare.com/ips-v4 interval 12h',
      '\t\ttrusted_proxies cloudflare file',
      '\t\tclient_ip_headers X-Forwarded-For x-forwarded-for "Bad Header" Host',
      '\t\ttrusted_proxies_strict yes',
    ].join('\n'),
  ).join('\n');
  assert.match(errors, /unknown source "dynamic" \(expected static or cloudflare\)/);
  assert.match(errors, /"not-an-ip" is not an IP address or CIDR range/);
  assert.match(errors, /expected at least 2 arguments, got 1/);
  assert.match(errors, /downloading the list is not supported yet/);
  assert.match(errors, /expected trusted_proxies cloudflare \[file <path>\]/);
  assert.match(errors, /x-forwarded-for is listed twice/);
  assert.match(errors, /"Bad Header" is not a header name/);
  assert.match(errors, /Host does not carry a client address/);
  assert.match(errors, /trusted_proxies_strict: expected 0 arguments/);
  assert.match(adaptErrors('\t\ttrusted_proxies cloudflare\n\t\ttrusted_proxies cloudflare file x').join('\n'), /given twice/);
});

test('the JSON config takes the same options and checks them', () => {
  const base = { sites: [] };
  const ok = parseConfigJson({ ...base, server: { trustedProxiesCloudflare: { file: '/etc/cf.txt' }, clientIpHeaders: ['X-Real-IP'] } });
  assert.deepEqual(ok.server.trustedProxiesCloudflare, { file: '/etc/cf.txt' });
  assert.deepEqual(ok.server.clientIpHeaders, ['X-Real-IP']);
  assert.deepEqual(parseConfigJson({ ...base, server: { trustedProxiesCloudflare: {} } }).server.trustedProxiesCloudflare, { file: null });
  assert.equal(parseConfigJson(base).server.clientIpHeaders, undefined, 'absent stays absent: X-Forwarded-For');
  assert.throws(() => parseConfigJson({ ...base, server: { trustedProxiesCloudflare: { file: 'relative.txt' } } }), /expected an absolute path/);
  assert.throws(() => parseConfigJson({ ...base, server: { clientIpHeaders: [] } }), /non-empty list/);
  assert.throws(() => parseConfigJson({ ...base, server: { clientIpHeaders: ['a b'] } }), /not a header name/);
});

test('the shipped Cloudflare list is in the package and every line is a range', () => {
  const ranges = readRangeList(SHIPPED_CLOUDFLARE_LIST, 'test');
  assert.ok(ranges.includes('173.245.48.0/20') && ranges.includes('2606:4700::/32'), 'IPv4 and IPv6 ranges');
  assert.equal(ranges.length, 22);
  assert.match(readFileSync(SHIPPED_CLOUDFLARE_LIST, 'utf8'), /https:\/\/www\.cloudflare\.com\/ips-v4/, 'says where it comes from');
  const isCloudflare = compileIpRanges(ranges);
  assert.ok(isCloudflare('104.16.1.1') && isCloudflare('2a06:98c0::1') && !isCloudflare('8.8.8.8'));
});

test('loadTrustedProxies adds the cloudflare source to the static ranges; bad files fail the load', () => {
  const server = { ...adapt('\t\ttrusted_proxies static 10.0.0.0/8').server };
  assert.deepEqual(loadTrustedProxies(server), ['10.0.0.0/8']);
  const files: Record<string, string> = {
    '/cf.txt': '# comment\n\n198.51.100.0/24   # inline comment\r\n2001:db8::/32\n',
    '/empty.txt': '# nothing here\n',
    '/bad.txt': '198.51.100.0/24\nprivate_ranges\n',
    '/two.txt': '198.51.100.0/24 203.0.113.0/24\n',
  };
  const read = (path: string) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    return text;
  };
  const withFile = (file: string | null) => ({ ...server, trustedProxiesCloudflare: { file } });
  assert.deepEqual(loadTrustedProxies(withFile('/cf.txt'), read), ['10.0.0.0/8', '198.51.100.0/24', '2001:db8::/32']);
  assert.equal(loadTrustedProxies(withFile(null)).length, 23, 'the shipped list');
  assert.throws(() => loadTrustedProxies(withFile('/missing.txt'), read), /cannot read \/missing\.txt: ENOENT/);
  assert.throws(() => loadTrustedProxies(withFile('/empty.txt'), read), /lists no ranges/);
  assert.throws(() => loadTrustedProxies(withFile('/bad.txt'), read), /\/bad\.txt:2: "private_ranges" is not an IP address/);
  assert.throws(() => loadTrustedProxies(withFile('/two.txt'), read), /\/two\.txt:1:/);
});

test('createClientIpSetup: nothing trusted means no resolver at all', () => {
  const none = createClientIpSetup(adapt('\t\tmax_header_size 64KiB').server);
  assert.equal(none.resolve, null);
  const cf = createClientIpSetup({ ...adapt('\t\tclient_ip_headers CF-Connecting-IP').server, trustedProxiesCloudflare: { file: null } });
  assert.equal(cf.resolve!('162.158.1.1', { 'cf-connecting-ip': '203.0.113.7' }), '203.0.113.7');
  assert.equal(cf.resolve!('198.51.100.1', { 'cf-connecting-ip': '203.0.113.7' }), '198.51.100.1', 'CF-Connecting-IP spoofing from outside Cloudflare');
});
