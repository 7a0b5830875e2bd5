/**
 * ACME external account binding (RFC 8555 section 7.3.4) in Caddy's two spellings: the global
 * `acme_eab { key_id <id>; mac_key <key> }` and the site's `tls { eab <key_id> <mac_key> }`.
 * The checks are shared with the JSON reader, so both refuse the same values.
 */
import type { Directive, Token } from './ast.ts';
import type { AcmeEabConfig } from './types.ts';
import { argCount, eachSubdirective, noBlock, singleArg, where, type Dispenser } from './dispenser.ts';

/** Longest key id accepted; CAs hand out ids of a few dozen characters. */
const MAX_KEY_ID = 1024;
/** base64url (RFC 4648 section 5), padding tolerated: what CAs print for the MAC key. */
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Why `text` cannot be an EAB key id, or null. */
export function eabKeyIdProblem(text: string): string | null {
  if (text === '') return 'the key id is empty';
  if (text.length > MAX_KEY_ID) return `the key id is longer than ${MAX_KEY_ID} characters`;
  // It goes into a JWS header and the logs; whitespace or control characters are a paste error.
  if (/[\s\p{Cc}]/u.test(text)) return 'the key id must not contain spaces or control characters';
  return null;
}

/** Why `text` cannot be an EAB MAC key (base64url, as the CA gives it), or null. */
export function eabMacKeyProblem(text: string): string | null {
  if (text === '') return 'the MAC key is empty';
  const bare = text.replace(/=+$/, '');
  if (!BASE64URL.test(text) || bare.length % 4 === 1) {
    const standard = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? ' (this looks like standard base64; the CA gives it with - and _ instead of + and /)' : '';
    return `the MAC key must be base64url as the CA gives it (letters, digits, - and _)${standard}`;
  }
  return null;
}

function keyIdArg(disp: Dispenser, t: Token, label: string): string | null {
  const problem = eabKeyIdProblem(t.text);
  if (problem === null) return t.text;
  disp.error(t, `${label}: ${problem}`);
  return null;
}

function macKeyArg(disp: Dispenser, t: Token, label: string): string | null {
  // The key itself never goes into the message: error output ends up in logs and CI output.
  const problem = eabMacKeyProblem(t.text);
  if (problem === null) return t.text;
  disp.error(t, `${label}: ${problem}`);
  return null;
}

/** The global `acme_eab { key_id <id>; mac_key <key> }`; null after reporting what is wrong. */
export function parseAcmeEabOption(d: Directive, disp: Dispenser): AcmeEabConfig | null {
  const usage = 'acme_eab { key_id <key_id>; mac_key <mac_key> }';
  argCount(disp, d, d.args, 0, 0, usage);
  if (d.block === null) {
    disp.error(d, `expected a block: ${usage}`);
    return null;
  }
  const before = disp.errors.errors.length;
  const seen = new Map<string, Directive>();
  let keyId: string | null = null;
  let macKey: string | null = null;
  const once = (sub: Directive): boolean => {
    const first = seen.get(sub.name);
    if (first === undefined) {
      seen.set(sub.name, sub);
      return true;
    }
    disp.error(sub, `${sub.name} is given twice (first at ${first.source.file}:${first.source.line})`);
    return false;
  };
  eachSubdirective(disp, d, {
    key_id: (sub) => {
      const t = singleArg(disp, sub, 'key_id <key_id>');
      if (t !== null && once(sub)) keyId = keyIdArg(disp, t, 'key_id');
    },
    mac_key: (sub) => {
      const t = singleArg(disp, sub, 'mac_key <base64url_key>');
      if (t !== null && once(sub)) macKey = macKeyArg(disp, t, 'mac_key');
    },
  });
  if (!seen.has('key_id')) disp.error(d, 'key_id is missing (the key identifier the CA gave with the MAC key)');
  if (!seen.has('mac_key')) disp.error(d, 'mac_key is missing (the base64url MAC key the CA gave with the key id)');
  if (disp.errors.errors.length !== before || keyId === null || macKey === null) return null;
  return { keyId, macKey, source: where(d) };
}

/** The site's `tls { eab <key_id> <mac_key> }`; null after reporting what is wrong. */
export function adaptTlsEab(sub: Directive, disp: Dispenser): AcmeEabConfig | null {
  noBlock(disp, sub);
  if (!argCount(disp, sub, sub.args, 2, 2, 'eab <key_id> <mac_key>')) return null;
  const keyId = keyIdArg(disp, sub.args[0]!, 'eab');
  const macKey = macKeyArg(disp, sub.args[1]!, 'eab');
  if (keyId === null || macKey === null) return null;
  return { keyId, macKey, source: where(sub) };
}
