import measureWidth from 'string-width';
import type { Colors } from './colors.js';
import { formatCount, sanitizeForTerminal } from './terminal-text.js';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Terminal columns of a text: string-width (CJK and emoji take two), skipped for printable ASCII. */
const stringWidth = (text: string): number => (PRINTABLE_ASCII.test(text) ? text.length : measureWidth(text));

/** How pictures are drawn: Unicode block characters, or ASCII where the terminal's locale is not UTF-8 (or --ascii). */
export interface ChartStyle {
  unicode: boolean;
  colors: Colors;
  /** Columns available (infinite when piped); bars, labels and long sparklines shrink to fit. */
  width: number;
}

export interface Bar {
  label: string;
  count: number;
  /** A short note after the number (an unusual mark). */
  note?: string;
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const SPARK_UNICODE = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const SPARK_ASCII = ['_', '.', '-', '~', '=', '+', '*', '#'];
const HEAT_UNICODE = ['·', '░', '▒', '▓', '█'];
const HEAT_ASCII = ['.', ':', '+', '*', '#'];
const MAX_BAR = 40;
const MAX_LABEL = 32;
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** The largest value, at least `floor`: a loop, as `Math.max(...values)` overflows the stack past ~100,000 values. */
export function maxOf(values: readonly number[], floor = 0): number {
  let max = floor;
  for (const value of values) if (value > max) max = value;
  return max;
}


/** The locale's character set: UTF-8 unless LC_ALL, LC_CTYPE or LANG (the first one set) names another. */
export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG;
  return locale === undefined || locale === '' || /utf-?8/i.test(locale);
}

/** Horizontal bars, longest for the largest count, the count always beside the bar: `alice  ██████▌  1,204`. */
export function renderBars(bars: readonly Bar[], style: ChartStyle): string[] {
  if (bars.length === 0) return [];
  const numbers = bars.map((bar) => formatCount(bar.count));
  const numberWidth = maxOf(numbers.map((text) => text.length));
  // On a narrow terminal labels give way first (down to 8 columns), so that label, bar and number fit on one line.
  const labelLimit = Math.max(8, Math.min(MAX_LABEL, style.width - numberWidth - 8 - 6));
  const labels = bars.map((bar) => cut(sanitizeForTerminal(bar.label), labelLimit, style.unicode));
  const labelWidth = maxOf(labels.map((label) => stringWidth(label)));
  const room = Math.max(8, Math.min(MAX_BAR, style.width - labelWidth - numberWidth - 6));
  const max = maxOf(bars.map((bar) => bar.count), 1);
  return bars.map((bar, index) => {
    const drawn = bar.count === 0 ? '' : drawBar((bar.count / max) * room, style.unicode);
    const label = padEnd(labels[index] ?? '', labelWidth);
    const note = bar.note ? `  ${style.colors.yellow(sanitizeForTerminal(bar.note))}` : '';
    return `${label}  ${style.colors.cyan(padEnd(drawn, room))}  ${(numbers[index] ?? '').padStart(numberWidth)}${note}`.trimEnd();
  });
}

/** A bar of `length` columns in eighths of a block, at least a sliver for any non-zero count. */
function drawBar(length: number, unicode: boolean): string {
  if (!unicode) return '#'.repeat(Math.max(1, Math.round(length)));
  const eighths = Math.max(1, Math.round(length * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + (EIGHTHS[eighths % 8] ?? '');
}

/** One character per value, scaled to the largest; zero is a space so quiet stretches read as gaps. */
export function sparkline(values: readonly number[], unicode: boolean): string {
  const levels = unicode ? SPARK_UNICODE : SPARK_ASCII;
  const max = maxOf(values);
  return values.map((value) => (value <= 0 || max === 0 ? ' ' : (levels[Math.min(levels.length - 1, Math.ceil((value / max) * levels.length) - 1)] ?? ' '))).join('');
}

/** Room kept beside a sparkline for its numbers: `total 1,683, peak 334 at 2026-12-03` (longer ones overflow a little). */
const SPARK_NUMBERS = 34;
/** Fewer marks than this beside the numbers, and the numbers go on a line of their own. */
const MIN_MARKS_BESIDE = 16;

/**
 * `▁▂▅█▃  total 1,234, peak 45 on 2026-11-30`: a sparkline with its numbers beside it (under it on a narrow
 * terminal). A series longer than the terminal has room for (a year of days) is drawn in marks of several keys each,
 * summed; the size depends only on the width, the label width and the series length, so the lines of one view keep
 * the same scale. The peak named is still the single busiest key.
 */
export function renderSparkline(label: string, keys: readonly string[], values: readonly number[], style: ChartStyle, labelWidth = 0): string {
  const total = values.reduce((sum, value) => sum + value, 0);
  let peak = 0;
  values.forEach((value, index) => {
    if (value > (values[peak] ?? 0)) peak = index;
  });
  const prefix = label === '' ? '' : `${padEnd(cut(sanitizeForTerminal(label), Math.min(MAX_LABEL, Math.max(labelWidth, 1)), style.unicode), labelWidth)}  `;
  const labelPart = label === '' ? 0 : labelWidth + 2;
  const beside = style.width - labelPart - SPARK_NUMBERS >= MIN_MARKS_BESIDE;
  // Under the numbers' own line, the scale note (`10 days a mark`, 16 columns) stays beside the marks.
  const fits = beside ? style.width - labelPart - SPARK_NUMBERS : style.width - labelPart;
  // Drawn in marks, the line also says how many keys a mark holds (`, 11 days a mark`: 16 columns).
  const room = Math.max(8, values.length <= fits ? fits : fits - 18);
  const size = Math.ceil(values.length / room);
  const marks = size <= 1 ? values : Array.from({ length: Math.ceil(values.length / size) }, (_, i) => values.slice(i * size, (i + 1) * size).reduce((sum, value) => sum + value, 0));
  const scale = size <= 1 ? '' : `${size} ${/^\d{4}-\d\d-\d\d$/.test(keys[0] ?? '') ? 'days' : 'keys'} a mark`;
  const numbers = `total ${formatCount(total)}, peak ${formatCount(values[peak] ?? 0)} at ${keys[peak] ?? '-'}`;
  const drawn = `${prefix}${style.colors.cyan(sparkline(marks, style.unicode))}`;
  if (beside) return `${drawn}  ${numbers}${scale === '' ? '' : `, ${scale}`}`;
  return `${drawn}${scale === '' ? '' : `  ${scale}`}\n${' '.repeat(labelPart)}${numbers}`;
}

/**
 * Hour of day (columns, 0-23 UTC) by weekday (rows): each cell one character, darker for more changes, so a burst
 * at 3 a.m. or on a Sunday stands out; each row's total beside it and the busiest cell named below.
 */
export function renderHeat(cells: readonly (readonly number[])[], style: ChartStyle): string[] {
  const levels = style.unicode ? HEAT_UNICODE : HEAT_ASCII;
  const max = maxOf(cells.flat());
  const header = `     ${Array.from({ length: 24 }, (_, hour) => (hour % 3 === 0 ? String(hour).padEnd(3) : '')).join('')}`;
  const lines = [style.colors.dim(header.trimEnd())];
  let peak = { weekday: 0, hour: 0, count: 0 };
  cells.forEach((row, weekday) => {
    const drawn = row.map((count, hour) => {
      if (count > peak.count) peak = { weekday, hour, count };
      if (count <= 0) return style.colors.dim(levels[0] ?? '.');
      const level = Math.min(levels.length - 1, Math.max(1, Math.ceil((count / max) * (levels.length - 1))));
      const char = levels[level] ?? '#';
      return level === levels.length - 1 ? style.colors.red(char) : style.colors.yellow(char);
    });
    const total = row.reduce((sum, count) => sum + count, 0);
    lines.push(`${WEEKDAYS[weekday] ?? '?'}  ${drawn.join('')}  ${formatCount(total)}`);
  });
  if (peak.count > 0) {
    lines.push(`busiest: ${WEEKDAYS[peak.weekday]} ${String(peak.hour).padStart(2, '0')}:00-${String(peak.hour).padStart(2, '0')}:59 UTC, ${formatCount(peak.count)} changes; darkest cell = ${formatCount(max)}`);
  }
  return lines;
}

/** The columns the labels take once drawn (sanitized, cut): the width to pass to {@link renderSparkline}. */
export function labelColumns(labels: readonly string[], width = Number.POSITIVE_INFINITY): number {
  // On a narrow terminal the labels give way first, down to 8 columns: the marks and their scale need 30.
  const limit = Math.max(8, Math.min(MAX_LABEL, width - 32));
  return maxOf(labels.map((label) => stringWidth(cut(sanitizeForTerminal(label), limit))));
}

/** At most `limit` terminal columns (a CJK character or an emoji takes two), ending in `…`, or `~` in ASCII. */
function cut(text: string, limit = MAX_LABEL, unicode = true): string {
  if (text.length <= limit * 4 && stringWidth(text) <= limit) return text;
  let [out, width, count] = ['', 0, 0];
  // Bounded in characters too: a label of zero-width characters (combining marks) would never fill the width.
  for (const char of text) {
    width += stringWidth(char);
    if (width > limit - 1 || ++count > limit * 4) break;
    out += char;
  }
  return `${out}${unicode ? '…' : '~'}`;
}

function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - stringWidth(text)));
}
