/** The value of a hexadecimal digit's character code (either case), or -1 when it is not one. */
export function hexDigitValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 32;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}
