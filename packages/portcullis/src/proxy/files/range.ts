/**
 * The Range header (RFC 9110 §14.2), bytes unit only. Syntactically invalid headers and unknown
 * units are ignored (the whole file is sent, as §14.2 allows); a valid header none of whose
 * ranges overlaps the file is unsatisfiable (416).
 */

/** Inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest =
  | { kind: 'none' }
  | { kind: 'unsatisfiable' }
  | { kind: 'ranges'; ranges: ByteRange[] };

const NONE: RangeRequest = { kind: 'none' };
const UNSATISFIABLE: RangeRequest = { kind: 'unsatisfiable' };

/**
 * More ranges than this, overlapping ranges, or ranges adding up to more than the file are
 * answered with the whole file: many small or overlapping ranges are a known amplification
 * vector (RFC 9110 §17.15, CVE-2011-3192 "Apache Killer").
 */
const MAX_RANGES = 16;
/** Bounds the work spent on a hostile header before deciding. */
const MAX_SPECS = 64;

const SPEC = /^(\d*)-(\d*)$/;

/** Parses a Range header against a file of `size` bytes. */
export function parseRange(header: string, size: number): RangeRequest {
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return NONE;
  const specs = header.slice(eq + 1).split(',');
  if (specs.length > MAX_SPECS) return NONE;
  const ranges: ByteRange[] = [];
  let valid = 0;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue; // empty list elements are allowed (RFC 9110 §5.6.1)
    const m = SPEC.exec(spec);
    if (m === null) return NONE;
    const first = m[1]!;
    const last = m[2]!;
    if (first === '' && last === '') return NONE;
    valid++;
    if (first === '') {
      const suffix = Number(last);
      if (suffix === 0 || size === 0) continue; // `-0` selects nothing
      ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(first);
    const end = last === '' ? size - 1 : Number(last);
    if (end < start) return NONE; // invalid per §14.1.1, so the header is ignored
    if (start >= size) continue;
    ranges.push({ start, end: Math.min(end, size - 1) });
  }
  if (valid === 0) return NONE;
  if (ranges.length === 0) return UNSATISFIABLE;
  if (ranges.length > 1 && !reasonable(ranges, size)) return NONE;
  return { kind: 'ranges', ranges };
}

function reasonable(ranges: ByteRange[], size: number): boolean {
  if (ranges.length > MAX_RANGES) return false;
  let total = 0;
  for (const r of ranges) total += r.end - r.start + 1;
  if (total > size) return false;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.start <= sorted[i - 1]!.end) return false;
  }
  return true;
}
