/**
 * Precompressed sidecar files (`app.js.br`, `app.js.gz`, `app.js.zst`) and the choice among them
 * from Accept-Encoding (RFC 9110 §12.5.3): highest q first, ties broken by the configured order,
 * q=0 meaning "not acceptable".
 */

export type Encoding = 'br' | 'gzip' | 'zstd';

/** File name suffix of each encoding's sidecar, as Caddy's precompressed modules use. */
export const SIDECAR_SUFFIX: Record<Encoding, string> = { br: '.br', gzip: '.gz', zstd: '.zst' };

const QVALUE = /^\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i;

/** Weight of one `coding;params` element; 0 when the q parameter is malformed. */
function weightOf(params: string): number {
  for (const param of params.split(';')) {
    if (param.trim() === '') continue;
    const m = QVALUE.exec(param);
    if (m !== null) return Number(m[1]);
    if (/^\s*q\s*=/i.test(param)) return 0;
  }
  return 1;
}

/**
 * The configured encodings the client accepts, best first. Empty when the header is absent:
 * without Accept-Encoding a client gets the identity representation.
 */
export function acceptedEncodings(header: string | undefined, offered: readonly Encoding[]): Encoding[] {
  if (header === undefined || header === '') return [];
  const weights = new Map<string, number>();
  for (const element of header.split(',')) {
    const semi = element.indexOf(';');
    let name = (semi === -1 ? element : element.slice(0, semi)).trim().toLowerCase();
    if (name === '') continue;
    if (name === 'x-gzip') name = 'gzip'; // RFC 9110 §8.4.1.3
    const weight = semi === -1 ? 1 : weightOf(element.slice(semi + 1));
    weights.set(name, Math.max(weight, weights.get(name) ?? 0));
  }
  const star = weights.get('*');
  const chosen: { encoding: Encoding; weight: number; order: number }[] = [];
  for (let i = 0; i < offered.length; i++) {
    const encoding = offered[i]!;
    const weight = weights.get(encoding) ?? star ?? 0;
    if (weight > 0) chosen.push({ encoding, weight, order: i });
  }
  chosen.sort((a, b) => b.weight - a.weight || a.order - b.order);
  return chosen.map((c) => c.encoding);
}
