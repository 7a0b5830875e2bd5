/**
 * Caddy sizes (go-humanize's ParseBytes): a number, optionally with a fraction or thousands
 * commas, and an optional unit. Decimal units are powers of 1000 (`10MB`, `10M`), binary units
 * powers of 1024 (`1KiB`, `1Ki`); no unit means bytes. Case-insensitive.
 */
import type { Parsed } from './durations.ts';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 1024,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1e12,
  tb: 1e12,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
  p: 1e15,
  pb: 1e15,
  pi: 1024 ** 5,
  pib: 1024 ** 5,
};

/** Parses a size into whole bytes (fractions of a byte are dropped, as in Caddy). */
export function parseSize(text: string): Parsed<number> {
  const m = /^([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)$/.exec(text.trim());
  if (m === null) {
    return { ok: false, error: `invalid size ${JSON.stringify(text)} (expected forms like 512, 64KB, 10MB, 1GiB)` };
  }
  const number = Number(m[1]!.replaceAll(',', ''));
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined || !Number.isFinite(number)) {
    return { ok: false, error: `invalid size ${JSON.stringify(text)}: unknown unit ${JSON.stringify(m[2])} (use B, KB, MB, GB, KiB, MiB, GiB)` };
  }
  const bytes = Math.floor(number * unit);
  if (!Number.isSafeInteger(bytes)) return { ok: false, error: `size ${JSON.stringify(text)} is too large` };
  return { ok: true, value: bytes };
}
