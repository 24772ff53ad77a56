// Re-exported for the formatters: main.ts uses it too, for error lines, and may not reach into output/.
export { sanitizeForTerminal } from '../terminal-safe.js';

/** `1,234`: the one number format of terminal output (en-US grouping), whatever the locale. */
// One formatter: toLocaleString builds one for each call (tens of µs, per batch of an export's progress line). Made
// on first use: the first Intl.NumberFormat of a process loads ICU data, 12-30 ms that every table paid at import.
let countFormat: Intl.NumberFormat | undefined;
export const formatCount = (n: number): string => (countFormat ??= new Intl.NumberFormat('en-US')).format(n);

/** `1 entry`, `2,000 entries`, `1 batch`: a count and its noun in agreement. */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : plural}`;
}
