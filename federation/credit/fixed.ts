// Fixed point for the credit index: hundredths of a point as integers, so
// every node computes the same number to the last digit. Products stay far
// below 2^53 (points and days are bounded by validateCreditPolicy), and
// division truncates toward zero exactly: the remainder is taken first, so the
// quotient of (a - a % b) / b is an exact integer, never a rounded float.

/** a * numerator / denominator, truncated toward zero; denominator > 0. */
export function scale(a: number, numerator: number, denominator: number): number {
  const product = a * numerator;
  const quotient = (product - (product % denominator)) / denominator;
  return quotient === 0 ? 0 : quotient; // no -0 in answers
}

export const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));

/** 8750 -> "87.50", -150 -> "-1.50". */
export function formatHundredths(value: number): string {
  const sign = value < 0 ? '-' : '';
  const magnitude = Math.abs(value);
  return `${sign}${Math.floor(magnitude / 100)}.${String(magnitude % 100).padStart(2, '0')}`;
}

/** "+1.50" / "-1.50" / "0.00": for points added or subtracted. */
export const formatPoints = (value: number): string => (value > 0 ? `+${formatHundredths(value)}` : formatHundredths(value));
