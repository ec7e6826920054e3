/** Small statistics helpers for the harness. */

/** The p-th percentile (0..100) of sorted values, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Median of unsorted values. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Index of the run whose value is the median (the lower middle for an even count). */
export function medianIndex(values: number[]): number {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  return order[(order.length - 1) >> 1]![1];
}

/** Rounds to `d` decimals (numbers in the JSON stay readable). */
export function round(v: number, d = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

/** p50/p99/p99.9 of samples in microseconds. */
export function latencySummary(us: number[]): { p50: number; p99: number; p999: number; mean: number; max: number; n: number } {
  const s = Float64Array.from(us).sort();
  const mean = us.reduce((a, b) => a + b, 0) / (us.length || 1);
  return { p50: round(percentile(s, 50), 1), p99: round(percentile(s, 99), 1), p999: round(percentile(s, 99.9), 1), mean: round(mean, 1), max: round(s[s.length - 1] ?? NaN, 1), n: us.length };
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
