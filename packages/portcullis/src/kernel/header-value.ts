/**
 * An identity value (a display name, a group name) as an HTTP header value: control characters
 * dropped (a CR/LF would be header injection, and Node refuses it with an exception), and
 * UTF-8 sent as raw bytes (what Authelia and Authentik send) since Node writes header strings
 * as Latin-1.
 */
export function headerValue(value: string): string {
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '');
  return /^[\u0020-\u007e]*$/.test(clean) ? clean : Buffer.from(clean, 'utf8').toString('latin1');
}
