/**
 * Reading JSON text by position, for the masking fast paths (row-hints.ts, mask-hits.ts, scan-bytes.ts): the
 * characters they look for, and strings found by their quotes. The text may be a byte string (src/byte-string.ts):
 * JSON's punctuation is ASCII, one byte, and no byte of a multi-byte character can be mistaken for it.
 */
import { SECRET_MASK } from './rules.js';

export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
const BACKSLASH = 0x5c;

/** An odd run of backslashes before `at` escapes it. */
export function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
  return backslashes % 2 === 1;
}

/** The opening quote of the string whose closing quote is at `close` (JSON strings hold no raw quote), or -1. */
export function openingQuote(text: string, close: number): number {
  let open = text.lastIndexOf('"', close - 1);
  while (open > 0 && isEscaped(text, open)) open = text.lastIndexOf('"', open - 1);
  return open;
}

/** Past the closing quote of the string opening at `at`, or 0 when it does not close. */
export function stringEnd(text: string, at: number): number {
  let quote = text.indexOf('"', at + 1);
  while (quote > 0 && isEscaped(text, quote)) quote = text.indexOf('"', quote + 1);
  return quote + 1;
}

/** JSON whitespace. */
export function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

const MASKED_VALUE = JSON.stringify(SECRET_MASK);

/**
 * The text with each range (start, end pairs, in any order) replaced by `"******"`, or by what `mask` makes of the
 * range's JSON text (a fingerprint); a range inside an earlier one is part of it.
 */
export function replaceRanges(text: string, ranges: readonly number[], mask?: (token: string) => string): string {
  // The hits' ranges come in order: no pairs to allocate and sort for them.
  return replaceSorted(text, startsInOrder(ranges) ? ranges : sortedRanges(ranges), mask);
}

/** The ranges ordered by start (a stable sort: of two starting together, the first given comes first). */
function sortedRanges(ranges: readonly number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i] as number, ranges[i + 1] as number]);
  pairs.sort((a, b) => a[0] - b[0]);
  return pairs.flat();
}

/** Whether each range (start, end pairs) starts after the one before it, as the hits' ranges do: no sort needed. */
function startsInOrder(ranges: readonly number[]): boolean {
  for (let i = 2; i < ranges.length; i += 2) if ((ranges[i] as number) <= (ranges[i - 2] as number)) return false;
  return true;
}

/** {@link replaceRanges} of ranges ordered by start. */
function replaceSorted(text: string, ranges: readonly number[], mask?: (token: string) => string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i] as number;
    const end = ranges[i + 1] as number;
    if (start < from) continue; // inside a secret value already masked
    out += text.slice(from, start) + (mask === undefined ? MASKED_VALUE : mask(text.slice(start, end)));
    from = end;
  }
  return out + text.slice(from);
}
