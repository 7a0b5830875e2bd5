/**
 * Inputs a test has found nothing in, remembered so the next request with the same one skips
 * the test. Made for User-Agent strings: a site sees few distinct ones, and each costs a
 * lower-casing and a regexp over some hundred characters on every request otherwise.
 *
 * Only clean inputs are kept, so a remembered answer is always the test's own; a flood of
 * distinct inputs empties the memory (at `max`) rather than growing it, and inputs longer than
 * `maxLength` are never kept (4096 user agents of a header's 16 KB would otherwise hold 64 MB).
 */
export interface CleanInputs {
  has(input: string): boolean;
  add(input: string): void;
}

export function rememberCleanInputs(max = 4096, maxLength = 512): CleanInputs {
  const clean = new Set<string>();
  return {
    has: (input) => clean.has(input),
    add(input) {
      if (input.length > maxLength) return;
      if (clean.size >= max) clean.clear();
      clean.add(input);
    },
  };
}
