/**
 * The certificate options Caddy has and Portcullis either applies or refuses: the global
 * `key_type`, `cert_lifetime`, `renew_interval`, `fallback_sni`, `ocsp_stapling`,
 * `skip_install_trust`, `storage_clean_interval`, `cert_issuer`, `preferred_chains`,
 * `ocsp_interval`, and the tls block's `key_type`, `ca`, `ca_root`, `issuer`, `load`,
 * `get_certificate`, `insecure_secrets_log`: what each adapts to, and the file:line error a
 * refused one gets. The JSON reader checks the same fields.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigJson } from '../src/config/validate-json.ts';
import { adaptTestCaddyfile, caddyfileErrors, jsonConfigErrors } from './support/config-errors.ts';

const global = (options: string) => `{\n${options}\n}\nlocalhost {\n\trespond "x"\n}\n`;
const siteTls = (args: string, block: string) => `example.com {\n\ttls ${args}{\n${block}\n\t}\n\trespond "x"\n}\n`;

describe('global certificate options', () => {
  test('key_type: each of Caddy\'s types is read; another type, arguments or a second line are errors', () => {
    for (const type of ['ed25519', 'p256', 'p384', 'rsa2048', 'rsa4096']) {
      assert.equal(adaptTestCaddyfile(global(`\tkey_type ${type}`)).tls.keyType, type);
    }
    assert.equal(adaptTestCaddyfile(global('\tadmin off')).tls.keyType, undefined, 'absent: the default (p256) is the manager\'s');
    assert.deepEqual(caddyfileErrors(global('\tkey_type rsa1024')), ['Caddyfile:2: key_type: unknown key type "rsa1024" (expected ed25519, p256, p384, rsa2048, rsa4096)']);
    assert.deepEqual(caddyfileErrors(global('\tkey_type')), ['Caddyfile:2: key_type: expected 1 argument, got 0 (usage: key_type ed25519|p256|p384|rsa2048|rsa4096)']);
    assert.deepEqual(caddyfileErrors(global('\tkey_type p256\n\tkey_type p384')), ['Caddyfile:3: key_type: already set at /etc/portcullis/Caddyfile:2; write it once']);
  });

  test('cert_lifetime and renew_interval: durations within bounds', () => {
    const config = adaptTestCaddyfile(global('\tcert_lifetime 2d\n\trenew_interval 30m'));
    assert.equal(config.tls.certLifetimeMs, 2 * 24 * 3600_000);
    assert.equal(config.tls.renewIntervalMs, 30 * 60_000);
    assert.deepEqual(caddyfileErrors(global('\tcert_lifetime 30m')), ['Caddyfile:2: cert_lifetime: must be between 1h and 398d']);
    assert.deepEqual(caddyfileErrors(global('\tcert_lifetime 400d')), ['Caddyfile:2: cert_lifetime: must be between 1h and 398d']);
    assert.match(caddyfileErrors(global('\tcert_lifetime soon'))[0]!, /^Caddyfile:2: cert_lifetime: /);
    assert.deepEqual(caddyfileErrors(global('\trenew_interval 0s')), ['Caddyfile:2: renew_interval: must be between 1s and 1d']);
    assert.deepEqual(caddyfileErrors(global('\trenew_interval 2d')), ['Caddyfile:2: renew_interval: must be between 1s and 1d']);
  });

  test('fallback_sni: a host name or IP address, kept with its line for the "names no site" check', () => {
    const config = adaptTestCaddyfile(global('\tfallback_sni Origin.Example.com'));
    assert.deepEqual(config.tls.fallbackSni, { name: 'origin.example.com', source: { file: '/etc/portcullis/Caddyfile', line: 2 } });
    assert.equal(adaptTestCaddyfile(global('\tfallback_sni [::1]')).tls.fallbackSni?.name, '::1');
    assert.deepEqual(caddyfileErrors(global('\tfallback_sni not_a/name')), ['Caddyfile:2: fallback_sni: "not_a/name" is not a host name or IP address']);
  });

  test('ocsp_stapling off, storage_clean_interval off and skip_install_trust are accepted: they say what Portcullis does anyway', () => {
    const config = adaptTestCaddyfile(global('\tocsp_stapling off\n\tstorage_clean_interval off\n\tskip_install_trust'));
    assert.deepEqual(config.tls, adaptTestCaddyfile(global('\tadmin localhost:2019')).tls, 'nothing to store: no behaviour changes');
    assert.deepEqual(caddyfileErrors(global('\tocsp_stapling on')), ['Caddyfile:2: ocsp_stapling: only off is accepted: Portcullis does not staple OCSP responses (got "on")']);
    assert.deepEqual(caddyfileErrors(global('\tstorage_clean_interval 24h')), [
      'Caddyfile:2: storage_clean_interval: only off is accepted: Portcullis does not clean its storage (expired certificates stay on disk and are never served; delete them by hand)',
    ]);
    assert.deepEqual(caddyfileErrors(global('\tskip_install_trust yes')), ['Caddyfile:2: skip_install_trust: expected 0 arguments, got 1 (usage: skip_install_trust)']);
  });

  test('cert_issuer, preferred_chains and ocsp_interval are refused with what to do instead', () => {
    assert.deepEqual(caddyfileErrors(global('\tcert_issuer acme {\n\t\tdir https://ca.example/dir\n\t}')), [
      'Caddyfile:2: cert_issuer: not supported: use local_certs for the internal CA, or acme_ca, acme_ca_root, acme_eab and email for an ACME CA (tls { ca ... } per site)',
    ]);
    assert.deepEqual(caddyfileErrors(global('\tpreferred_chains smallest')), ['Caddyfile:2: preferred_chains: not supported yet: the chain the ACME CA offers by default is served']);
    assert.deepEqual(caddyfileErrors(global('\tocsp_interval 2h')), [
      'Caddyfile:2: ocsp_interval: not supported: Portcullis does not staple OCSP responses, so there is nothing to refresh; remove it',
    ]);
  });

  test('the JSON config reads and checks the same fields', () => {
    const json = {
      tls: {
        storage: null,
        localCerts: false,
        keyType: 'rsa2048',
        certLifetimeMs: 7200_000,
        renewIntervalMs: 60_000,
        fallbackSni: { name: 'example.com', source: { file: 'Caddyfile', line: 3 } },
      },
      sites: [],
    };
    const config = parseConfigJson(JSON.stringify(json), 'config.json');
    assert.equal(config.tls.keyType, 'rsa2048');
    assert.equal(config.tls.certLifetimeMs, 7200_000);
    assert.equal(config.tls.renewIntervalMs, 60_000);
    assert.deepEqual(config.tls.fallbackSni, json.tls.fallbackSni);
    const errors = jsonConfigErrors({ tls: { storage: null, localCerts: false, keyType: 'dsa', certLifetimeMs: 1000, renewIntervalMs: 0 }, sites: [] });
    assert.equal(errors.length, 3, errors.join('\n'));
    assert.ok(errors.some((e) => /tls\.keyType: expected one of "ed25519", "p256", "p384", "rsa2048", "rsa4096"/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /tls\.certLifetimeMs: 1000 is out of range/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /tls\.renewIntervalMs: 0 is out of range/.test(e)), errors.join('\n'));
  });

  test('acme_ca must be an https:// directory URL, in the Caddyfile and in JSON (ACME over plain HTTP is open to anyone on the path)', () => {
    assert.equal(adaptTestCaddyfile(global('\tacme_ca https://ca.internal.example/acme/directory')).tls.acmeCa, 'https://ca.internal.example/acme/directory');
    assert.deepEqual(caddyfileErrors(global('\tacme_ca http://ca.internal.example/acme/directory')), ['Caddyfile:2: acme_ca: "http://ca.internal.example/acme/directory" is not an https:// ACME directory URL']);
    assert.deepEqual(caddyfileErrors(global('\tacme_ca ca.internal.example')), ['Caddyfile:2: acme_ca: "ca.internal.example" is not an https:// ACME directory URL']);
    for (const garbage of ['https://[', 'https://user:secret@ca.internal.example/dir', 'https://ca.internal.example/dir#x', 'https://:443/dir']) {
      assert.deepEqual(caddyfileErrors(global(`\tacme_ca ${garbage}`)), [`Caddyfile:2: acme_ca: ${JSON.stringify(garbage)} is not an https:// ACME directory URL`], garbage);
    }
    const errors = jsonConfigErrors({ tls: { storage: null, localCerts: false, acmeCa: 'http://ca.internal.example/dir' }, sites: [] });
    assert.deepEqual(errors.map((e) => /tls\.acmeCa: expected an https:\/\/ ACME directory URL/.test(e)), [true], errors.join('\n'));
  });
});

describe('tls block certificate options', () => {
  test('key_type, ca and ca_root are read; ca and ca_root make the site ACME', () => {
    const tls = adaptTestCaddyfile(siteTls('', '\t\tkey_type rsa4096\n\t\tca https://ca.internal.example/acme/directory\n\t\tca_root /etc/ssl/private-ca.pem')).sites[0]!.tls!;
    assert.equal(tls.keyType, 'rsa4096');
    assert.equal(tls.ca, 'https://ca.internal.example/acme/directory');
    assert.equal(tls.caRoot, '/etc/ssl/private-ca.pem');
    assert.equal(tls.mode, 'acme');
    const internal = adaptTestCaddyfile(siteTls('internal ', '\t\tkey_type ed25519')).sites[0]!.tls!;
    assert.deepEqual([internal.mode, internal.keyType], ['internal', 'ed25519']);
    assert.equal(adaptTestCaddyfile(siteTls('', '\t\tca_root /etc/ssl/ca.pem')).sites[0]!.tls!.mode, 'acme');
  });

  test('wrong values and contradictions are errors at their line', () => {
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tkey_type p521')), ['Caddyfile:3: tls: key_type: unknown key type "p521" (did you mean "p256"?) (expected ed25519, p256, p384, rsa2048, rsa4096)']);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tca http://ca.example/dir')), ['Caddyfile:3: tls: ca: "http://ca.example/dir" is not an https:// ACME directory URL']);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tca https://a.example/dir\n\t\tca https://b.example/dir')), ['Caddyfile:4: tls: ca is already set at /etc/portcullis/Caddyfile:3']);
    assert.deepEqual(caddyfileErrors(siteTls('internal ', '\t\tca https://ca.example/dir')), ['Caddyfile:3: tls: ca is an ACME option; it cannot be used with tls internal']);
    assert.deepEqual(caddyfileErrors(siteTls('internal ', '\t\tca_root /etc/ssl/ca.pem')), ['Caddyfile:3: tls: ca_root is an ACME option; it cannot be used with tls internal']);
    assert.deepEqual(caddyfileErrors(siteTls('/etc/ssl/a.crt /etc/ssl/a.key ', '\t\tkey_type p384')), [
      'Caddyfile:3: tls: key_type cannot be used with a certificate and key file: the key is the one in the key file',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('/etc/ssl/a.crt /etc/ssl/a.key ', '\t\tca https://ca.example/dir')), [
      'Caddyfile:3: tls: ca is an ACME option; it cannot be used with a certificate and key file',
    ]);
  });

  test('an external account binding beside tls internal is an error, not silently unused', () => {
    const mac = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';
    assert.deepEqual(caddyfileErrors(siteTls('internal ', `\t\teab kid-1 ${mac}`)), ['Caddyfile:3: tls: eab is an ACME option; it cannot be used with tls internal']);
  });

  test('issuer internal|acme picks the issuer; options, other issuers, a second issuer and contradictions are errors', () => {
    assert.equal(adaptTestCaddyfile(siteTls('', '\t\tissuer internal')).sites[0]!.tls!.mode, 'internal');
    assert.equal(adaptTestCaddyfile(siteTls('', '\t\tissuer acme')).sites[0]!.tls!.mode, 'acme');
    assert.equal(adaptTestCaddyfile(siteTls('ops@example.com ', '\t\tissuer acme')).sites[0]!.tls!.mode, 'acme');
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tissuer zerossl')), [
      'Caddyfile:3: tls: issuer: "zerossl" is not supported (only internal and acme); for ZeroSSL write ca https://acme.zerossl.com/v2/DV90 with eab <key_id> <mac_key>',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tissuer acme {\n\t\t\tdir https://ca.example/dir\n\t\t}')), [
      'Caddyfile:3: tls: issuer acme: options are not supported; write ca, ca_root, eab and tls <email> in the tls block',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tissuer internal {\n\t\t\tlifetime 1d\n\t\t}')), [
      'Caddyfile:3: tls: issuer internal: options are not supported; the global cert_lifetime sets the lifetime',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tissuer acme\n\t\tissuer internal')), [
      'Caddyfile:4: tls: issuer is given twice (first at /etc/portcullis/Caddyfile:3); there is no fallback issuer',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('internal ', '\t\tissuer acme')), ['Caddyfile:3: tls: issuer acme contradicts tls internal']);
    assert.deepEqual(caddyfileErrors(siteTls('ops@example.com ', '\t\tissuer internal')), ['Caddyfile:3: tls: issuer internal contradicts tls <email>']);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tissuer internal\n\t\tca https://ca.example/dir')), ['Caddyfile:4: tls: ca is an ACME option; it cannot be used with tls internal']);
  });

  test('load, get_certificate and insecure_secrets_log are refused with what to do instead', () => {
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tload /etc/ssl/certs')), [
      'Caddyfile:3: tls: load: not supported: give each site its certificate and key with tls <cert_file> <key_file>',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tget_certificate tailscale')), [
      'Caddyfile:3: tls: get_certificate: not supported (certificates from an external manager such as tailscale or an HTTP endpoint); use tls <cert_file> <key_file>, tls internal or ACME',
    ]);
    assert.deepEqual(caddyfileErrors(siteTls('', '\t\tinsecure_secrets_log /tmp/keys.log')), [
      'Caddyfile:3: tls: insecure_secrets_log: not supported: to decrypt captured traffic while debugging, set SSLKEYLOGFILE for the client (curl, Firefox, Chrome) instead',
    ]);
  });

  test('the JSON config reads the site fields and refuses a non-https ca and an unknown key type', () => {
    const site = (tls: Record<string, unknown>) => ({
      tls: { storage: null, localCerts: false },
      sites: [{ addresses: [{ original: 'example.com', scheme: '', host: 'example.com', port: null, path: '' }], routes: [], tls: { source: { file: 'Caddyfile', line: 2 }, ...tls } }],
    });
    const config = parseConfigJson(JSON.stringify(site({ mode: 'acme', ca: 'https://ca.example/dir', caRoot: '/etc/ca.pem', keyType: 'p384' })), 'config.json');
    assert.deepEqual(
      [config.sites[0]!.tls!.ca, config.sites[0]!.tls!.caRoot, config.sites[0]!.tls!.keyType],
      ['https://ca.example/dir', '/etc/ca.pem', 'p384'],
    );
    const errors = jsonConfigErrors(site({ mode: 'acme', ca: 'http://ca.example/dir', keyType: 'rsa1024' }));
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.ok(errors.some((e) => /sites\[0\]\.tls\.ca: expected an https:\/\/ ACME directory URL/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /sites\[0\]\.tls\.keyType: expected one of/.test(e)), errors.join('\n'));
    const internal = jsonConfigErrors(site({ mode: 'internal', ca: 'https://ca.example/dir', caRoot: '/etc/ca.pem' }));
    assert.equal(internal.length, 1, internal.join('\n'));
    assert.match(internal[0]!, /ca, caRoot cannot be used with mode "internal": they are ACME settings/);
    assert.match(jsonConfigErrors(site({ mode: 'files', certFile: '/a.crt', keyFile: '/a.key', keyType: 'p384' }))[0]!, /keyType cannot be used with mode "files"/);
  });
});
