/** A figure measured several times: reported as median with min and max, never as a single number. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, runs: sorted.length };
}

/** Median of per-run ratios `a[i] / b[i]`, so both sides of each ratio come from the same moment of a noisy machine. */
export function pairedRatio(a: readonly number[], b: readonly number[]): Summary {
  return summarize(a.map((value, i) => value / (b[i] as number)).filter(Number.isFinite));
}

/** `12.3 (11.9–14.0)`: median, then min–max when there was more than one run. */
export function formatSummary(summary: Summary, digits = 0, unit = ''): string {
  if (summary.runs === 0) return 'n/a';
  const f = (n: number) => formatNumber(n, digits);
  return summary.runs > 1 ? `${f(summary.median)}${unit} (${f(summary.min)}–${f(summary.max)})` : `${f(summary.median)}${unit}`;
}

export function formatNumber(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
