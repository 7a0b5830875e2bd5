/**
 * ACME external account binding in the config: the global `acme_eab` block and the site's
 * `tls { eab }`, their errors with file:line, the JSON reader's same checks, and the MAC key
 * redacted in printed configs and refused when read back so.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigErrors } from '../kernel/errors.ts';
import { adaptCaddyfileText } from './load.ts';
import { eabKeyIdProblem, eabMacKeyProblem } from './acme-eab.ts';
import { REDACTED_SECRET, redactSecrets } from './redact.ts';
import { parseConfigJson } from './validate-json.ts';
import { jsonConfigErrors } from '../../test/support/config-errors.ts';

const MAC = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';
const MAC2 = 'b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH';

function errorsOf(text: string): string[] {
  try {
    adaptCaddyfileText(text, 'Caddyfile');
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.describe());
  }
  assert.fail('expected errors');
}


const global = (body: string) => `{\n\tacme_eab {\n${body}\n\t}\n}\nexample.com {\n\trespond ok\n}\n`;

describe('global acme_eab', () => {
  it('is read into tls.acmeEab with its line', () => {
    const config = adaptCaddyfileText(global(`\t\tkey_id kid-1\n\t\tmac_key ${MAC}`), 'Caddyfile');
    assert.deepEqual(config.tls.acmeEab, { keyId: 'kid-1', macKey: MAC, source: { file: 'Caddyfile', line: 2 } });
  });

  it('is no longer accepted and ignored: without it there is no binding', () => {
    assert.equal(adaptCaddyfileText('example.com {\n\trespond ok\n}\n', 'Caddyfile').tls.acmeEab, undefined);
  });

  it('needs both key_id and mac_key', () => {
    assert.deepEqual(errorsOf(global('\t\tkey_id kid-1')), ['Caddyfile:2: acme_eab: mac_key is missing (the base64url MAC key the CA gave with the key id)']);
    assert.deepEqual(errorsOf(global(`\t\tmac_key ${MAC}`)), ['Caddyfile:2: acme_eab: key_id is missing (the key identifier the CA gave with the MAC key)']);
  });

  it('needs a block and takes no arguments', () => {
    assert.deepEqual(errorsOf('{\n\tacme_eab\n}\n'), ['Caddyfile:2: acme_eab: expected a block: acme_eab { key_id <key_id>; mac_key <mac_key> }']);
    const errors = errorsOf(`{\n\tacme_eab kid-1 {\n\t\tkey_id kid-1\n\t\tmac_key ${MAC}\n\t}\n}\n`);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^Caddyfile:2: acme_eab: expected 0 arguments, got 1/);
  });

  it('refuses a MAC key that is not base64url, without printing it', () => {
    const errors = errorsOf(global(`\t\tkey_id kid-1\n\t\tmac_key ab+c/def==`));
    assert.deepEqual(errors, [
      'Caddyfile:4: acme_eab: mac_key: the MAC key must be base64url as the CA gives it (letters, digits, - and _) (this looks like standard base64; the CA gives it with - and _ instead of + and /)',
    ]);
    assert.match(errorsOf(global('\t\tkey_id kid-1\n\t\tmac_key "not a key!"'))[0]!, /^Caddyfile:4: acme_eab: mac_key: the MAC key must be base64url/);
    assert.ok(!errors[0]!.includes('ab+c/def'));
  });

  it('refuses an empty or spaced key id', () => {
    assert.deepEqual(errorsOf(global(`\t\tkey_id ""\n\t\tmac_key ${MAC}`)), ['Caddyfile:3: acme_eab: key_id: the key id is empty']);
    assert.deepEqual(errorsOf(global(`\t\tkey_id "kid 1"\n\t\tmac_key ${MAC}`)), ['Caddyfile:3: acme_eab: key_id: the key id must not contain spaces or control characters']);
  });

  it('suggests the right name for a misspelt subdirective', () => {
    const errors = errorsOf(global(`\t\tkey_id kid-1\n\t\tmac_ky ${MAC}`));
    assert.deepEqual(errors, [
      'Caddyfile:2: acme_eab: mac_key is missing (the base64url MAC key the CA gave with the key id)',
      'Caddyfile:4: acme_eab: unknown subdirective "mac_ky" (did you mean "mac_key"?)',
    ]);
  });

  it('refuses a subdirective or the whole option given twice', () => {
    assert.deepEqual(errorsOf(global(`\t\tkey_id kid-1\n\t\tkey_id kid-2\n\t\tmac_key ${MAC}`)), ['Caddyfile:4: acme_eab: key_id is given twice (first at Caddyfile:3)']);
    const twice = `{\n\tacme_eab {\n\t\tkey_id a\n\t\tmac_key ${MAC}\n\t}\n\tacme_eab {\n\t\tkey_id b\n\t\tmac_key ${MAC2}\n\t}\n}\n`;
    assert.deepEqual(errorsOf(twice), ['Caddyfile:6: acme_eab: already set at Caddyfile:2; write it once']);
  });
});

describe('site tls { eab }', () => {
  const site = (line: string) => `example.com {\n\ttls {\n\t\t${line}\n\t}\n\trespond ok\n}\n`;

  it('is read into the site tls config and asks an ACME CA', () => {
    const tls = adaptCaddyfileText(site(`eab kid-2 ${MAC2}`), 'Caddyfile').sites[0]!.tls!;
    assert.equal(tls.mode, 'acme');
    assert.deepEqual(tls.eab, { keyId: 'kid-2', macKey: MAC2, source: { file: 'Caddyfile', line: 3 } });
  });

  it('keeps an email given with it', () => {
    const tls = adaptCaddyfileText(`example.com {\n\ttls ops@example.com {\n\t\teab kid-2 ${MAC2}\n\t}\n}\n`, 'Caddyfile').sites[0]!.tls!;
    assert.equal(tls.email, 'ops@example.com');
    assert.equal(tls.eab?.keyId, 'kid-2');
  });

  it('takes exactly a key id and a MAC key', () => {
    assert.deepEqual(errorsOf(site('eab kid-2')), ['Caddyfile:3: tls: eab: expected 2 arguments, got 1 (usage: eab <key_id> <mac_key>)']);
    assert.deepEqual(errorsOf(site(`eab kid-2 ${MAC2} extra`)), ['Caddyfile:3: tls: eab: expected 2 arguments, got 3 (usage: eab <key_id> <mac_key>)']);
  });

  it('refuses a MAC key that is not base64url', () => {
    assert.deepEqual(errorsOf(site('eab kid-2 a/b+c')), [
      'Caddyfile:3: tls: eab: the MAC key must be base64url as the CA gives it (letters, digits, - and _) (this looks like standard base64; the CA gives it with - and _ instead of + and /)',
    ]);
    // One character over a multiple of four cannot be base64 at all.
    assert.match(errorsOf(site('eab kid-2 abcde'))[0]!, /^Caddyfile:3: tls: eab: the MAC key must be base64url/);
  });

  it('refuses eab given twice', () => {
    const text = `example.com {\n\ttls {\n\t\teab kid-1 ${MAC}\n\t\teab kid-2 ${MAC2}\n\t}\n}\n`;
    assert.deepEqual(errorsOf(text), ['Caddyfile:4: tls: eab is given twice (first at Caddyfile:3)']);
  });

  it('suggests eab for a misspelling', () => {
    assert.match(errorsOf(site(`eba kid-2 ${MAC2}`))[0]!, /^Caddyfile:3: tls: unknown subdirective "eba" \(did you mean "eab"\?\)/);
  });
});

describe('EAB value checks', () => {
  it('accept what CAs hand out, padded or not', () => {
    assert.equal(eabMacKeyProblem(MAC), null);
    assert.equal(eabMacKeyProblem('c2VjcmV0LWtleQ'), null);
    assert.equal(eabMacKeyProblem('c2VjcmV0LWtleQ=='), null);
    assert.equal(eabKeyIdProblem('f2f6bc4e-5a0b-4d1e-9c1a-6b5a'), null);
  });

  it('refuse empty, padded-only and control characters', () => {
    assert.notEqual(eabMacKeyProblem(''), null);
    assert.notEqual(eabMacKeyProblem('=='), null);
    assert.notEqual(eabKeyIdProblem('kid\u0000'), null);
    assert.notEqual(eabKeyIdProblem('x'.repeat(1025)), null);
  });
});

describe('EAB in JSON configs and printed configs', () => {
  const text = `{\n\tacme_eab {\n\t\tkey_id kid-1\n\t\tmac_key ${MAC}\n\t}\n}\nexample.com {\n\ttls {\n\t\teab kid-2 ${MAC2}\n\t}\n\trespond ok\n}\n`;

  it('an adapted config reads back from JSON with both bindings', () => {
    const adapted = adaptCaddyfileText(text, 'Caddyfile');
    const config = parseConfigJson(JSON.stringify(adapted), 'config.json');
    assert.deepEqual(config.tls.acmeEab, adapted.tls.acmeEab);
    assert.deepEqual(config.sites[0]!.tls!.eab, adapted.sites[0]!.tls!.eab);
  });

  it('printing redacts both MAC keys and keeps the key ids', () => {
    const adapted = adaptCaddyfileText(text, 'Caddyfile');
    const printed = JSON.stringify(redactSecrets(adapted));
    assert.ok(!printed.includes(MAC) && !printed.includes(MAC2));
    const redacted = JSON.parse(printed) as typeof adapted;
    assert.equal(redacted.tls.acmeEab?.macKey, REDACTED_SECRET);
    assert.equal(redacted.tls.acmeEab?.keyId, 'kid-1');
    assert.equal(redacted.sites[0]!.tls!.eab?.macKey, REDACTED_SECRET);
    assert.equal(redacted.sites[0]!.tls!.eab?.keyId, 'kid-2');
    // The original keeps its keys: the server needs them.
    assert.equal(adapted.tls.acmeEab?.macKey, MAC);
  });

  it('a config without bindings prints unchanged', () => {
    const adapted = adaptCaddyfileText('example.com {\n\trespond ok\n}\n', 'Caddyfile');
    assert.equal(redactSecrets(adapted), adapted);
  });

  it('a redacted MAC key read back is refused, saying so', () => {
    const errors = jsonConfigErrors({
      tls: { acmeEab: { keyId: 'kid-1', macKey: REDACTED_SECRET } },
      sites: [{ addresses: [{ original: 'example.com', host: 'example.com' }], tls: { mode: 'acme', eab: { keyId: 'kid-2', macKey: REDACTED_SECRET } } }],
    });
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /tls\.acmeEab\.macKey.*redacted when the config was printed; put the real MAC key here/);
    assert.match(errors[1]!, /sites\[0\]\.tls\.eab\.macKey.*redacted when the config was printed; put the real MAC key here/);
  });

  it('the JSON reader applies the Caddyfile checks', () => {
    const errors = jsonConfigErrors({ tls: { acmeEab: { keyId: '', macKey: 'a+b/' } }, sites: [] });
    assert.equal(errors.length, 2);
    assert.match(errors.join('\n'), /tls\.acmeEab\.keyId.*the key id is empty/);
    assert.match(errors.join('\n'), /tls\.acmeEab\.macKey.*must be base64url/);
    assert.match(jsonConfigErrors({ tls: { acmeEab: { macKey: MAC } }, sites: [] }).join('\n'), /tls\.acmeEab: missing field "keyId"/);
  });
});
