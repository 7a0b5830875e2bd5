/**
 * The two spellings of a DNS name the config and certificates accept, written once. Both take
 * lower-case text (callers lower-case first) without a trailing dot.
 */

/** An RFC 1123 host label: letters, digits, inner hyphens; 1-63 characters. */
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A DNS label as names in certificates and DNS records carry them: `_` too (`_acme-challenge`, RFC 8555 section 8.4). */
const DNS_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A host name (RFC 1123 section 2.1): dot-separated host labels, 253 characters at most. */
export function isHostName(name: string): boolean {
  return labelsMatch(name, HOST_LABEL);
}

/** A DNS name whose labels may also hold `_` (certificate names, DNS-01 record names), 253 characters at most. */
export function isDnsName(name: string): boolean {
  return labelsMatch(name, DNS_LABEL);
}

function labelsMatch(name: string, label: RegExp): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((part) => label.test(part));
}
