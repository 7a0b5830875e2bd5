/**
 * The form request rules inspect a raw path or query in: percent-decoded until no escape is
 * left (at most three rounds, so `%252e` is a `.` as it is to an application that decodes
 * twice), then lower-cased. The attacker chooses the encoding; the rules should not care.
 *
 * Decoding is byte-wise into a binary string (one char per byte, never a UTF-8 error): overlong
 * UTF-8 (`%c0%ae`, the IIS traversal of CVE-2000-0884) survives as its bytes, and a malformed
 * escape stays as written instead of throwing. Lower-casing then also maps the Latin-1 bytes
 * 0xc0-0xde to 0xe0-0xfe, so built-in patterns spell overlong lead bytes lower-cased
 * (`\xe0\xae` for `%c0%ae`).
 */

const ESCAPE = /%[0-9a-fA-F]{2}/g;

/** More rounds than this gain nothing: no application decodes a query three times. */
const MAX_ROUNDS = 3;

function byteOf(escape: string): string {
  return String.fromCharCode(parseInt(escape.slice(1), 16));
}

/** `raw` decoded for inspection; `plus` also reads `+` as a space (form-encoded queries). */
export function decodeForInspection(raw: string, plus: boolean): string {
  let s = plus && raw.indexOf('+') !== -1 ? raw.replaceAll('+', ' ') : raw;
  for (let round = 0; round < MAX_ROUNDS && s.indexOf('%') !== -1; round++) {
    const next = s.replace(ESCAPE, byteOf);
    if (next === s) break;
    s = next;
  }
  return s.toLowerCase();
}

/**
 * Like decodeForInspection, without lower-casing and read as UTF-8 where the bytes allow (what
 * the application sees): for regexps an operator wrote, which may care about case.
 */
export function decodeForCustomRules(raw: string, plus: boolean): string {
  let s = plus && raw.indexOf('+') !== -1 ? raw.replaceAll('+', ' ') : raw;
  for (let round = 0; round < MAX_ROUNDS && s.indexOf('%') !== -1; round++) {
    const next = s.replace(ESCAPE, byteOf);
    if (next === s) break;
    s = next;
  }
  // Node reads the request line's bytes as Latin-1, and escapes decode to bytes: either way,
  // bytes above 0x7f are UTF-8 to the application.
  return /[\x80-\xff]/.test(s) && !/[^\x00-\xff]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}
