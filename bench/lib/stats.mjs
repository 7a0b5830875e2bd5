/**
 * Median of a non-empty list (mean of the two middle values for an even count).
 * @param {number[]} values
 * @returns {number}
 */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Mean of a list and its standard error (sample standard deviation over the square root of the
 * count): how far the mean of rounds may be from the machine's true figure. NaN error below two values.
 * @param {number[]} values
 * @returns {{ mean: number, standardError: number }}
 */
export function meanWithError(values) {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, standardError: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, standardError: Number.NaN };
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, standardError: Math.sqrt(variance / n) };
}
