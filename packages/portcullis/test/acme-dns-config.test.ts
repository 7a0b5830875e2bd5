/**
 * The DNS challenge in the config: the global `acme_dns rfc2136 { ... }` and a site's `tls {
 * dns ...; propagation_delay; propagation_timeout; resolvers; dns_ttl;
 * dns_challenge_override_domain }` in Caddy's spelling, every refusal with its file:line, the
 * JSON reader's same checks, the TSIG key redacted in printed configs, and the site planner's
 * load-time errors: an ACME wildcard without a DNS provider, DNS options without one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REDACTED_SECRET, redactSecrets } from '../src/config/redact.ts';
import type { Config } from '../src/config/types.ts';
import { parseConfigJson } from '../src/config/validate-json.ts';
import type { PortcullisError } from '../src/kernel/errors.ts';
import { planSites, type OnDemandRule, type SitePlan, type TlsSite } from '../src/tls/site-plan.ts';
import { adaptTestCaddyfile, caddyfileErrors, jsonConfigErrors } from './support/config-errors.ts';

const KEY = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=';
const PROVIDER = `rfc2136 {
		key_name portcullis-key
		key_alg hmac-sha256
		key ${KEY}
		server 127.0.0.1:53
	}`;
const GLOBAL = `{\n\tacme_dns ${PROVIDER}\n}\n`;

/** `body` as the block of a global `acme_dns rfc2136`. */
const globalBlock = (body: string) => `{\n\tacme_dns rfc2136 {\n${body}\n\t}\n}\n`;
/** `body` as the tls block of a site `*.example.com`. */
const siteTls = (body: string, args = '') => `*.example.com {\n\ttls ${args}{\n${body}\n\t}\n}\n`;

function plan(config: Config): { plans: SitePlan[]; errors: string[]; onDemand: OnDemandRule[] } {
  const sites: TlsSite[] = config.sites.map((s) => ({ name: s.name, source: s.source, hosts: s.addresses.map((a) => a.host).filter((h) => h !== ''), tls: s.tls }));
  const errors: PortcullisError[] = [];
  const onDemand: OnDemandRule[] = [];
  const plans = planSites(sites, config.tls, errors, onDemand);
  return { plans, errors: errors.map((e) => e.describe().replace('/etc/portcullis/', '')), onDemand };
}

describe('acme_dns and tls { dns ... } in the Caddyfile', () => {
  test("the global acme_dns in caddy-dns/rfc2136's spelling, quotes and all", () => {
    const config = adaptTestCaddyfile(`{
	acme_dns rfc2136 {
		key_name "Portcullis-Key."
		key_alg "HMAC-SHA512"
		key "${KEY}"
		server "[::1]:5353"
	}
}
example.com {
	respond ok
}
`);
    assert.deepEqual(config.tls.acmeDns, {
      provider: 'rfc2136',
      keyName: 'portcullis-key',
      keyAlg: 'hmac-sha512',
      key: KEY,
      server: '[::1]:5353',
      source: { file: '/etc/portcullis/Caddyfile', line: 2 },
    });
    assert.equal(config.sites[0]!.tls, null, 'a site without tls just uses it');
  });

  test('key_alg defaults to hmac-sha256; hmac-md5 may be written with its long name', () => {
    const noAlg = adaptTestCaddyfile(globalBlock(`\t\tkey_name k\n\t\tkey ${KEY}\n\t\tserver ns1.example.com:53`));
    assert.equal(noAlg.tls.acmeDns?.keyAlg, 'hmac-sha256');
    assert.equal(noAlg.tls.acmeDns?.server, 'ns1.example.com:53');
    const md5 = adaptTestCaddyfile(globalBlock(`\t\tkey_name k\n\t\tkey_alg hmac-md5.sig-alg.reg.int.\n\t\tkey ${KEY}\n\t\tserver 10.0.0.1:53`));
    assert.equal(md5.tls.acmeDns?.keyAlg, 'hmac-md5');
    for (const alg of ['hmac-sha1', 'hmac-sha256', 'hmac-sha512']) {
      assert.equal(adaptTestCaddyfile(globalBlock(`\t\tkey_name k\n\t\tkey_alg ${alg}\n\t\tkey ${KEY}\n\t\tserver 10.0.0.1:53`)).tls.acmeDns?.keyAlg, alg);
    }
  });

  test("a site's tls block: dns and every propagation option, with their values as the TLS module reads them", () => {
    const config = adaptTestCaddyfile(siteTls(`\t\tdns ${PROVIDER.replaceAll('\n\t', '\n\t\t')}
		propagation_timeout 2m
		propagation_delay 5s
		resolvers 127.0.0.1:5353 10.0.0.53 [::1] [2001:db8::1]:53
		dns_ttl 60s
		dns_challenge_override_domain ACME.example.net.`));
    const tls = config.sites[0]!.tls!;
    assert.equal(tls.mode, 'acme', 'the DNS options ask for an ACME CA, as in Caddy');
    assert.deepEqual(tls.dns, {
      source: { file: '/etc/portcullis/Caddyfile', line: 3 },
      provider: { provider: 'rfc2136', keyName: 'portcullis-key', keyAlg: 'hmac-sha256', key: KEY, server: '127.0.0.1:53', source: { file: '/etc/portcullis/Caddyfile', line: 3 } },
      propagationTimeoutMs: 120_000,
      propagationDelayMs: 5000,
      resolvers: ['127.0.0.1:5353', '10.0.0.53:53', '[::1]:53', '[2001:db8::1]:53'],
      ttlSeconds: 60,
      overrideDomain: 'acme.example.net',
    });
  });

  test('propagation_timeout -1 turns the check off; propagation options alone use the global provider', () => {
    const config = adaptTestCaddyfile(GLOBAL + siteTls('\t\tpropagation_timeout -1'));
    assert.deepEqual(config.sites[0]!.tls!.dns, { source: { file: '/etc/portcullis/Caddyfile', line: 11 }, propagationTimeoutMs: -1 });
    const { plans, errors } = plan(config);
    assert.deepEqual(errors, []);
    assert.equal(plans[0]!.dns?.propagationTimeoutMs, -1);
    assert.equal(plans[0]!.dns?.keyName, 'portcullis-key');
  });

  test('propagation_timeout 0 means the default 2m, as in Caddy (certmagic), not one check and fail', () => {
    for (const zero of ['0', '0s', '0ms']) {
      const config = adaptTestCaddyfile(GLOBAL + siteTls(`\t\tpropagation_timeout ${zero}`));
      assert.equal(config.sites[0]!.tls!.dns?.propagationTimeoutMs, 120_000, zero);
      const { plans, errors } = plan(config);
      assert.deepEqual(errors, []);
      assert.equal(plans[0]!.dns?.propagationTimeoutMs, 120_000, zero);
    }
  });

  test('another provider is refused at its line, naming the supported one', () => {
    assert.deepEqual(caddyfileErrors('{\n\tacme_dns cloudflare {\n\t\tapi_token abc\n\t}\n}\n'), [
      'Caddyfile:2: acme_dns: DNS provider "cloudflare" is not supported; the supported one is rfc2136 (RFC 2136 dynamic updates signed with TSIG, as BIND, Knot and PowerDNS accept them)',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('\t\tdns route53 {\n\t\t\tregion x\n\t\t}')), [
      'Caddyfile:3: tls: DNS provider "route53" is not supported; the supported one is rfc2136 (RFC 2136 dynamic updates signed with TSIG, as BIND, Knot and PowerDNS accept them)',
    ]);
  });

  test('bad values in the provider block are refused at their lines; the key itself is never shown', () => {
    const errors = caddyfileErrors(globalBlock(`\t\tkey_name "bad name"
		key_alg hmac-sha384
		key not!base64${KEY}
		server 127.0.0.1
		keyname x`));
    assert.deepEqual(errors, [
      'Caddyfile:3: acme_dns: key_name: "bad name" is not a key name (a DNS name such as portcullis-key or acme.example.com)',
      'Caddyfile:4: acme_dns: key_alg: unsupported algorithm "hmac-sha384" (expected hmac-sha256, hmac-sha512, hmac-sha1, hmac-md5)',
      "Caddyfile:5: acme_dns: key: the key must be the base64 secret from the server's key statement (tsig-keygen prints it)",
      'Caddyfile:6: acme_dns: server: "127.0.0.1" is not host:port (for example 127.0.0.1:53, [::1]:53 or ns1.example.com:53)',
      'Caddyfile:7: acme_dns: unknown subdirective "keyname" (did you mean "key_name"?)',
    ]);
    assert.ok(errors.every((e) => !e.includes(KEY)));
    for (const server of ['127.0.0.1:0', '127.0.0.1:65536', '[127.0.0.1]:53', '::1:53', 'a b:53', 'host:port']) {
      assert.match(caddyfileErrors(globalBlock(`\t\tkey_name k\n\t\tkey ${KEY}\n\t\tserver "${server}"`))[0]!, /server: .* is not host:port/, server);
    }
    for (const key of ['a', 'abc$', '====', 'YWJj=x']) {
      assert.match(caddyfileErrors(globalBlock(`\t\tkey_name k\n\t\tkey "${key}"\n\t\tserver 127.0.0.1:53`))[0]!, /key: the key must be the base64 secret/, key);
    }
  });

  test('missing, repeated and misplaced parts are refused at their lines', () => {
    assert.deepEqual(caddyfileErrors(globalBlock('\t\tkey_alg hmac-sha256')), [
      'Caddyfile:2: acme_dns: key_name is missing (the name of the TSIG key the server allows to update the zone)',
      'Caddyfile:2: acme_dns: key is missing (the base64 TSIG secret)',
      'Caddyfile:2: acme_dns: server is missing (the host:port of the DNS server that takes the updates)',
    ]);
    assert.deepEqual(caddyfileErrors(globalBlock(`\t\tkey_name k\n\t\tkey_name k\n\t\tkey ${KEY}\n\t\tserver 127.0.0.1:53`)), [
      'Caddyfile:4: acme_dns: key_name is given twice (first at /etc/portcullis/Caddyfile:3)',
    ]);
    assert.deepEqual(caddyfileErrors(`{\n\tacme_dns ${PROVIDER}\n\tacme_dns ${PROVIDER}\n}\n`), ['Caddyfile:8: acme_dns: already set at /etc/portcullis/Caddyfile:2; write it once']);
    assert.deepEqual(caddyfileErrors('{\n\tacme_dns rfc2136\n}\n'), [
      'Caddyfile:2: acme_dns: expected a block: acme_dns rfc2136 { key_name <name>; key_alg <algorithm>; key <base64_secret>; server <host:port> }',
    ]);
    assert.deepEqual(caddyfileErrors('{\n\tacme_dns rfc2136 extra {\n\t}\n}\n'), [
      'Caddyfile:2: acme_dns: expected 1 argument, got 2 (usage: acme_dns rfc2136 { key_name <name>; key_alg <algorithm>; key <base64_secret>; server <host:port> })',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls(`\t\tdns ${PROVIDER}\n\t\tdns ${PROVIDER}`)), ['Caddyfile:9: tls: dns is given twice']);
    assert.deepEqual(caddyfileErrors(siteTls('\t\tdns rfc2136')), [
      'Caddyfile:3: tls: dns: expected a block: dns rfc2136 { key_name <name>; key_alg <algorithm>; key <base64_secret>; server <host:port> }',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls(`\t\tdns rfc2136 {\n\t\t\tkey ${KEY}\n\t\t\tserver 127.0.0.1:53\n\t\t}`)), [
      'Caddyfile:3: tls: dns: key_name is missing (the name of the TSIG key the server allows to update the zone)',
    ]);
  });

  test('bad propagation options are refused at their lines', () => {
    assert.deepEqual(
      caddyfileErrors(
        siteTls(`\t\tpropagation_delay -5s
		propagation_timeout 2h
		dns_ttl 1.5s
		resolvers dns.google 1.1.1.1:99999
		dns_challenge_override_domain "not a domain"
		propagation_delay 2h
		dns_ttl 48h
		propagation_timeout -2
		resolvers
		dns_challenge_override_domain 192.0.2.1`),
      ),
      [
        'Caddyfile:3: tls: propagation_delay: duration "-5s" must not be negative',
        'Caddyfile:4: tls: propagation_timeout: at most 1h (or -1 for no propagation check)',
        'Caddyfile:5: tls: dns_ttl: whole seconds, at most 24h (for example 60s or 2m)',
        'Caddyfile:6: tls: resolvers: "dns.google" is not an IP address with an optional port (for example 127.0.0.1:53 or [::1]:53)',
        'Caddyfile:6: tls: resolvers: "1.1.1.1:99999" is not an IP address with an optional port (for example 127.0.0.1:53 or [::1]:53)',
        'Caddyfile:7: tls: dns_challenge_override_domain: "not a domain" is not a domain name',
        'Caddyfile:8: tls: propagation_delay: at most 1h',
        'Caddyfile:9: tls: dns_ttl: whole seconds, at most 24h (for example 60s or 2m)',
        'Caddyfile:10: tls: propagation_timeout: invalid duration "-2": missing unit (use ms, s, m, h or d, e.g. 2s)',
        'Caddyfile:11: tls: resolvers: expected at least 1 argument, got 0 (usage: resolvers <ip[:port]>...)',
        'Caddyfile:12: tls: dns_challenge_override_domain: "192.0.2.1" is not a domain name',
      ],
    );
    assert.deepEqual(caddyfileErrors(siteTls('\t\tdns_ttl 1m\n\t\tdns_ttl 2m')), ['Caddyfile:4: tls: dns_ttl is given twice']);
  });

  test('DNS options beside tls internal or a certificate file are refused: they would do nothing', () => {
    assert.deepEqual(caddyfileErrors(siteTls(`\t\tdns ${PROVIDER}`, 'internal ')), ['Caddyfile:3: tls: dns is an ACME option; it cannot be used with tls internal']);
    assert.deepEqual(caddyfileErrors(siteTls('\t\tpropagation_delay 5s', '/etc/ssl/a.crt /etc/ssl/a.key ')), [
      'Caddyfile:3: tls: propagation_delay is an ACME option; it cannot be used with a certificate and key file',
    ]);
  });
});

describe('the DNS challenge in JSON configs and printed configs', () => {
  const text = `${GLOBAL}*.example.com {\n\ttls {\n\t\tdns ${PROVIDER.replace(KEY, 'b3RoZXIta2V5')}\n\t\tpropagation_timeout -1\n\t\tresolvers 127.0.0.1\n\t}\n\trespond ok\n}\n`;

  test('an adapted config reads back from JSON unchanged', () => {
    const adapted = adaptTestCaddyfile(text);
    assert.deepEqual(parseConfigJson(JSON.stringify(adapted), 'config.json'), JSON.parse(JSON.stringify(adapted)));
  });

  test('printing redacts both TSIG keys and keeps everything else', () => {
    const adapted = adaptTestCaddyfile(text);
    const printed = JSON.stringify(redactSecrets(adapted));
    assert.ok(!printed.includes(KEY) && !printed.includes('b3RoZXIta2V5'));
    const redacted = JSON.parse(printed) as Config;
    assert.equal(redacted.tls.acmeDns?.key, REDACTED_SECRET);
    assert.equal(redacted.tls.acmeDns?.keyName, 'portcullis-key');
    assert.equal(redacted.sites[0]!.tls!.dns?.provider?.key, REDACTED_SECRET);
    assert.equal(redacted.sites[0]!.tls!.dns?.propagationTimeoutMs, -1);
    assert.equal(adapted.tls.acmeDns?.key, KEY, 'the adapted config keeps the key: the server needs it');
    const plain = adaptTestCaddyfile('example.com {\n\trespond ok\n}\n');
    assert.equal(redactSecrets(plain), plain);
  });

  test('a redacted key read back is refused, saying so', () => {
    const redacted = JSON.parse(JSON.stringify(redactSecrets(adaptTestCaddyfile(text)))) as Record<string, unknown>;
    const errors = jsonConfigErrors(redacted);
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /tls\.acmeDns\.key: this secret was redacted when the config was printed; put the real TSIG key here/);
    assert.match(errors[1]!, /sites\[0\]\.tls\.dns\.provider\.key: this secret was redacted/);
  });

  test('the JSON reader applies the Caddyfile checks', () => {
    const provider = { provider: 'rfc2136', keyName: 'k', keyAlg: 'hmac-sha256', key: KEY, server: '127.0.0.1:53' };
    const errors = jsonConfigErrors({
      tls: { acmeDns: { ...provider, provider: 'cloudflare', keyAlg: 'hmac-sha384', key: 'a', server: 'x', keyName: 'a b' } },
      sites: [
        {
          addresses: [{ original: '*.example.com', host: '*.example.com' }],
          tls: { mode: 'acme', dns: { provider, propagationTimeoutMs: -5, propagationDelayMs: 7_200_000, resolvers: ['dns.google', '127.0.0.1'], ttlSeconds: 1.5, overrideDomain: 'a b' } },
        },
      ],
    });
    const text = errors.join('\n');
    for (const field of ['acmeDns.provider', 'acmeDns.keyName', 'acmeDns.keyAlg', 'acmeDns.key', 'acmeDns.server', 'dns.propagationTimeoutMs', 'dns.propagationDelayMs', 'dns.resolvers[0]', 'dns.resolvers[1]', 'dns.ttlSeconds', 'dns.overrideDomain']) {
      assert.ok(text.includes(field), `${field} in\n${text}`);
    }
    assert.ok(!text.includes(KEY));
  });
});

describe('the DNS challenge in JSON configs: what the Caddyfile would refuse or settle', () => {
  const provider = { provider: 'rfc2136', keyName: 'k', keyAlg: 'hmac-sha256', key: KEY, server: '127.0.0.1:53' };
  const site = (tls: Record<string, unknown>) => ({ tls: {}, sites: [{ addresses: [{ original: 'example.com', host: 'example.com' }], tls }] });

  test('dns (like ca, caRoot, eab) needs mode "acme": with another mode it would be dropped without a word', () => {
    for (const mode of ['internal', 'files']) {
      assert.match(jsonConfigErrors(site({ mode, dns: { provider } })).join('\n'), new RegExp(`sites\\[0\\]\\.tls: dns cannot be used with mode "${mode}"`), mode);
    }
    assert.match(jsonConfigErrors(site({ mode: 'default', dns: { provider } })).join('\n'), /sites\[0\]\.tls: dns need mode "acme", not "default"/);
    assert.ok(parseConfigJson(JSON.stringify(site({ mode: 'acme', dns: { provider } })), 'config.json').sites[0]!.tls!.dns);
  });

  test('propagationTimeoutMs 0 reads as the default 2m, as propagation_timeout 0 does', () => {
    const config = parseConfigJson(JSON.stringify(site({ mode: 'acme', dns: { provider, propagationTimeoutMs: 0 } })), 'config.json');
    assert.equal(config.sites[0]!.tls!.dns?.propagationTimeoutMs, 120_000);
  });
});

describe('planning sites with the DNS challenge (errors at load)', () => {
  test('an ACME wildcard without a DNS provider is a config error that says DNS-01 is needed and how to give it', () => {
    const { errors, plans } = plan(adaptTestCaddyfile('*.example.com {\n\trespond ok\n}\n'));
    assert.deepEqual(plans, []);
    assert.deepEqual(errors, [
      "Caddyfile:1: tls: site *.example.com: an ACME wildcard certificate (*.example.com) needs the DNS challenge (DNS-01), and no DNS provider is configured: add `dns rfc2136 { ... }` to the site's tls block or set the global acme_dns option; or use `tls internal` or `tls <cert> <key>`",
    ]);
    const withTls = plan(adaptTestCaddyfile('*.example.com {\n\ttls ops@example.com\n\trespond ok\n}\n'));
    assert.match(withTls.errors[0]!, /^Caddyfile:2: tls: site \*\.example\.com: an ACME wildcard certificate/);
  });

  test('a wildcard with tls internal or certificate files keeps working without DNS', () => {
    assert.deepEqual(
      plan(adaptTestCaddyfile('*.example.com {\n\ttls internal\n\trespond ok\n}\n*.example.org {\n\ttls /etc/ssl/w.crt /etc/ssl/w.key\n\trespond ok\n}\n')).plans.map((p) => [p.hosts, p.issuer, p.dns]),
      [
        [['*.example.com'], 'internal', undefined],
        [['*.example.org'], 'files', undefined],
      ],
    );
  });

  test('with the global acme_dns every ACME site, wildcard or not, answers DNS-01; local names stay with the internal CA', () => {
    const { plans, errors } = plan(adaptTestCaddyfile(`${GLOBAL}*.example.com, example.com, nas.home.arpa {\n\trespond ok\n}\n`));
    assert.deepEqual(errors, []);
    assert.deepEqual(plans.map((p) => [p.issuer, p.hosts, p.dns === undefined]), [
      ['internal', ['nas.home.arpa'], true],
      ['acme', ['*.example.com', 'example.com'], false],
    ]);
    assert.deepEqual(plans[1]!.dns, {
      provider: 'rfc2136',
      server: '127.0.0.1:53',
      keyName: 'portcullis-key',
      keyAlgorithm: 'hmac-sha256',
      keySecret: KEY,
      propagationDelayMs: 0,
      propagationTimeoutMs: 120_000,
      resolvers: [],
      ttlSeconds: 120,
      overrideDomain: null,
    });
  });

  test("a site's own provider wins over the global one", () => {
    const own = PROVIDER.replace('portcullis-key', 'site-key').replace('127.0.0.1:53', '10.0.0.2:53').replaceAll('\n\t', '\n\t\t');
    const { plans } = plan(adaptTestCaddyfile(GLOBAL + siteTls(`\t\tdns ${own}\n\t\tdns_ttl 30s`)));
    assert.equal(plans[0]!.dns?.keyName, 'site-key');
    assert.equal(plans[0]!.dns?.server, '10.0.0.2:53');
    assert.equal(plans[0]!.dns?.ttlSeconds, 30);
  });

  test('DNS options without any provider are an error at the first of them', () => {
    const { plans, errors } = plan(adaptTestCaddyfile(siteTls('\t\tpropagation_delay 5s\n\t\tresolvers 127.0.0.1')));
    assert.deepEqual(plans, []);
    assert.deepEqual(errors, [
      'Caddyfile:3: tls: site *.example.com: the DNS challenge options need a DNS provider: add `dns rfc2136 { ... }` to this tls block or set the global acme_dns option',
    ]);
  });

  test('an on_demand site takes the DNS challenge along for the names the ACME CA signs', () => {
    const config = adaptTestCaddyfile(`{\n\tacme_dns ${PROVIDER}\n\ton_demand_tls {\n\t\task http://127.0.0.1:9/ask\n\t}\n}\nhttps:// {\n\ttls {\n\t\ton_demand\n\t}\n\trespond ok\n}\n`);
    const { onDemand, errors } = plan(config);
    assert.deepEqual(errors, []);
    assert.equal(onDemand[0]!.dns?.keyName, 'portcullis-key');
  });
});
