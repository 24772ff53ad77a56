import { stripVTControlCharacters } from 'node:util';

/**
 * Audit data is written by whoever could call the Admin API, so a resource name may hold an escape sequence that
 * repaints or retitles the auditor's terminal, a newline that forges a table row, or a bidi override that makes
 * text read differently from what it is. Human-readable output (table, show, diff) passes every value through
 * here; machine output (JSON, NDJSON, CSV) keeps the exact bytes.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Replaces control and bidi-override characters with visible escapes (`\n`, `\u001b`). */
export function sanitizeForTerminal(text: string): string {
  return text.replace(
    UNSAFE,
    (char) => SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060\ufeff]$/u;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Hangul Jamo, CJK, Hangul syllables, CJK compatibility, fullwidth forms, emoji, CJK extensions B and on. */
const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf],
  [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60], [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x20000, 0x3fffd],
];

/**
 * Columns a string takes on a terminal, ignoring ANSI codes: East Asian wide characters and emoji count 2,
 * combining marks 0. An approximation, used to share out column widths and to cut values that do not fit.
 */
export function displayWidth(text: string): number {
  // Most values are printable ASCII: one column each, and no need for the Unicode property RegExp below, whose
  // first use costs milliseconds.
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  for (const char of stripVTControlCharacters(text)) {
    if (ZERO_WIDTH.test(char)) continue;
    const code = char.codePointAt(0) ?? 0;
    width += WIDE_RANGES.some(([low, high]) => code >= low && code <= high) ? 2 : 1;
  }
  return width;
}
